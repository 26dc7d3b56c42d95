//! ‖X − WH‖_F without ever forming WH.

use rayon::prelude::*;
use serde::Serialize;
use topicmill_sparse::CsrView;

use crate::{EvalError, Factors};

/// Rows per parallel task. Fixed, so the partial sums and their order — and
/// hence the rounding — do not depend on the number of threads.
const BLOCK_ROWS: usize = 2048;

/// The reconstruction error of a factorization.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Reconstruction {
    /// ‖X − WH‖_F.
    pub error: f64,
    /// ‖X‖_F.
    pub x_norm: f64,
    /// ‖X − WH‖_F / ‖X‖_F.
    pub relative: f64,
}

/// ‖X − WH‖_F and its ratio to ‖X‖_F, computed from X's non-zeros only:
///
/// ```text
/// ‖X − WH‖² = ‖X‖² − 2⟨W, X·Hᵀ⟩ + ⟨WᵀW, HHᵀ⟩
/// ```
///
/// ⟨W, X·Hᵀ⟩ is Σ over the stored x_ij of x_ij·(W_i · Hᵀ_j), O(nnz·k); the
/// two k × k Grams cost O((n + m)·k²). Everything accumulates in f64 and the
/// squared error is clamped at 0 against cancellation when the fit is nearly
/// exact. No n × m buffer exists.
///
/// `x` must be a CSR view ([`EvalError::NotCsr`] otherwise) whose stored
/// values are finite ([`EvalError::NonFinite`]) and non-negative
/// ([`EvalError::Negative`]); the error names the first such value's row
/// and column.
pub fn reconstruction_error(
    x: CsrView<'_>,
    factors: &Factors<'_>,
) -> Result<Reconstruction, EvalError> {
    if !x.is_csr() {
        return Err(EvalError::NotCsr { what: "X" });
    }
    check_shape(&x, factors)?;
    let k = factors.k();
    let (w, ht) = (factors.w(), factors.ht());
    // A value that is not a finite non-negative number makes its block's sum
    // NaN (a finite f32 squared cannot overflow f64), so the check costs no
    // pass of its own; the place is looked up only then.
    let x_sq = sum_blocks(x.data().len(), BLOCK_ROWS * 64, |range| {
        x.data()[range]
            .iter()
            .map(|&v| match v.is_finite() && v >= 0.0 {
                true => f64::from(v).powi(2),
                false => f64::NAN,
            })
            .sum()
    });
    if !x_sq.is_finite() {
        return Err(
            first_bad_value(&x).expect("a NaN sum comes from a NaN, infinite or negative value")
        );
    }
    if x_sq == 0.0 {
        return Err(EvalError::ZeroMatrix { nnz: x.nnz() });
    }
    let indptr = x.indptr();
    let cross = sum_blocks(x.rows(), BLOCK_ROWS, |rows| {
        let mut sum = 0.0;
        for i in rows {
            let range = indptr.outer_inds_sz(i);
            let w_i = &w[i * k..(i + 1) * k];
            for (&j, &v) in x.indices()[range.clone()].iter().zip(&x.data()[range]) {
                let h_j = &ht[j as usize * k..(j as usize + 1) * k];
                sum += f64::from(v) * dot(w_i, h_j);
            }
        }
        sum
    });
    let gw = gram(w, k);
    let gh = gram(ht, k);
    let grams: f64 = gw.iter().zip(&gh).map(|(a, b)| a * b).sum();
    let err_sq = (x_sq - 2.0 * cross + grams).max(0.0);
    let (error, x_norm) = (err_sq.sqrt(), x_sq.sqrt());
    Ok(Reconstruction {
        error,
        x_norm,
        relative: error / x_norm,
    })
}

/// The error for the first stored value of `x` that is not a finite
/// non-negative number, if any.
fn first_bad_value(x: &CsrView<'_>) -> Option<EvalError> {
    for (row, values) in x.outer_iterator().enumerate() {
        for (col, &v) in values.iter() {
            let value = f64::from(v);
            if !v.is_finite() {
                return Some(EvalError::NonFinite {
                    what: "X",
                    row,
                    col,
                    value,
                });
            }
            if v < 0.0 {
                return Some(EvalError::Negative {
                    what: "X",
                    row,
                    col,
                    value,
                });
            }
        }
    }
    None
}

fn check_shape(x: &CsrView<'_>, factors: &Factors<'_>) -> Result<(), EvalError> {
    if x.rows() != factors.n_docs() {
        return Err(EvalError::ShapeMismatch {
            what: "rows of W (documents of X)",
            expected: x.rows(),
            found: factors.n_docs(),
        });
    }
    if x.cols() != factors.n_terms() {
        return Err(EvalError::ShapeMismatch {
            what: "rows of Hᵀ (terms of X)",
            expected: x.cols(),
            found: factors.n_terms(),
        });
    }
    Ok(())
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum()
}

/// Σ of `part` over fixed blocks of `0..len`, computed in parallel and added
/// in block order.
fn sum_blocks<F>(len: usize, block: usize, part: F) -> f64
where
    F: Fn(std::ops::Range<usize>) -> f64 + Sync,
{
    let parts: Vec<f64> = (0..len.div_ceil(block))
        .into_par_iter()
        .map(|b| part(b * block..((b + 1) * block).min(len)))
        .collect();
    parts.iter().sum()
}

/// FᵀF for a row-major `rows × k` factor, k × k row-major in f64, reduced
/// over fixed row blocks in a fixed order.
pub(crate) fn gram(f: &[f32], k: usize) -> Vec<f64> {
    let rows = f.len() / k;
    let parts: Vec<Vec<f64>> = (0..rows.div_ceil(BLOCK_ROWS))
        .into_par_iter()
        .map(|b| {
            let mut g = vec![0.0f64; k * k];
            for row in f[b * BLOCK_ROWS * k..(((b + 1) * BLOCK_ROWS).min(rows)) * k].chunks_exact(k)
            {
                for (s, &a) in row.iter().enumerate() {
                    if a == 0.0 {
                        continue;
                    }
                    let a = f64::from(a);
                    for (g, &c) in g[s * k..(s + 1) * k].iter_mut().zip(row) {
                        *g += a * f64::from(c);
                    }
                }
            }
            g
        })
        .collect();
    let mut total = vec![0.0f64; k * k];
    for part in parts {
        for (t, p) in total.iter_mut().zip(part) {
            *t += p;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use topicmill_sparse::CsrMatrix;

    /// The dense reference: form WH and subtract, entry by entry.
    fn dense_error(dense_x: &[f64], n: usize, m: usize, w: &[f32], ht: &[f32], k: usize) -> f64 {
        let mut sq = 0.0;
        for i in 0..n {
            for j in 0..m {
                let wh: f64 = (0..k)
                    .map(|t| f64::from(w[i * k + t]) * f64::from(ht[j * k + t]))
                    .sum();
                sq += (dense_x[i * m + j] - wh).powi(2);
            }
        }
        sq.sqrt()
    }

    fn csr_from_dense(dense: &[f32], n: usize, m: usize) -> CsrMatrix {
        let (mut indptr, mut indices, mut data) = (vec![0u64], vec![], vec![]);
        for i in 0..n {
            for j in 0..m {
                if dense[i * m + j] != 0.0 {
                    indices.push(j as u32);
                    data.push(dense[i * m + j]);
                }
            }
            indptr.push(indices.len() as u64);
        }
        CsrMatrix::new((n, m), indptr, indices, data)
    }

    #[test]
    fn hand_computed() {
        // X = [[1, 0], [0, 2]], W = [[1], [1]], H = [[1, 1]]:
        // X − WH = [[0, −1], [−1, 1]] → ‖·‖ = √3, ‖X‖ = √5.
        let x = CsrMatrix::new((2, 2), vec![0, 1, 2], vec![0, 1], vec![1.0, 2.0]);
        let f = Factors::new(&[1.0, 1.0], &[1.0, 1.0], 1).unwrap();
        let r = reconstruction_error(x.view(), &f).unwrap();
        assert!((r.error - 3f64.sqrt()).abs() < 1e-12);
        assert!((r.x_norm - 5f64.sqrt()).abs() < 1e-12);
        assert!((r.relative - (3.0f64 / 5.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn exact_factorization_is_zero_not_nan() {
        // X = W·H exactly (rank 1): the clamp keeps a rounding-negative square at 0.
        let w = [1.0f32, 3.0, 0.5];
        let ht = [2.0f32, 0.0, 7.0];
        let dense: Vec<f32> = (0..3)
            .flat_map(|i| (0..3).map(move |j| w[i] * ht[j]))
            .collect();
        let x = csr_from_dense(&dense, 3, 3);
        let r = reconstruction_error(x.view(), &Factors::new(&w, &ht, 1).unwrap()).unwrap();
        assert!(r.relative.abs() < 1e-6, "{r:?}");
        assert!(!r.relative.is_nan());
    }

    #[test]
    fn errors() {
        let x = CsrMatrix::new((2, 2), vec![0, 1, 2], vec![0, 1], vec![1.0, 2.0]);
        let f = Factors::new(&[1.0, 1.0, 1.0], &[1.0, 1.0], 1).unwrap();
        assert_eq!(
            reconstruction_error(x.view(), &f).unwrap_err().to_string(),
            "rows of W (documents of X): expected 2, found 3"
        );
        let f = Factors::new(&[1.0, 1.0], &[1.0], 1).unwrap();
        assert_eq!(
            reconstruction_error(x.view(), &f).unwrap_err().to_string(),
            "rows of Hᵀ (terms of X): expected 2, found 1"
        );
        let zero = CsrMatrix::new((2, 2), vec![0, 1, 1], vec![0], vec![0.0]);
        let f = Factors::new(&[1.0, 1.0], &[1.0, 1.0], 1).unwrap();
        assert_eq!(
            reconstruction_error(zero.view(), &f).unwrap_err(),
            EvalError::ZeroMatrix { nnz: 1 }
        );
    }

    #[test]
    fn values_of_x_that_are_not_finite_non_negative_are_refused_by_place() {
        // X = [[1, 0, 2], [0, v, 0]], a rank-1 fit of its first row.
        let f = Factors::new(&[1.0, 0.0], &[1.0, 0.0, 2.0], 1).unwrap();
        let with = |v: f32| {
            let x = CsrMatrix::new((2, 3), vec![0, 2, 3], vec![0, 2, 1], vec![1.0, 2.0, v]);
            reconstruction_error(x.view(), &f)
        };
        // inf gave error 0 and relative 0 (a perfect fit), NaN a NaN ratio.
        for v in [f32::INFINITY, f32::NEG_INFINITY, f32::NAN] {
            let err = with(v).unwrap_err();
            assert!(
                matches!(err, EvalError::NonFinite { what: "X", row: 1, col: 1, value }
                    if value.to_bits() == f64::from(v).to_bits()),
                "{err:?}"
            );
        }
        assert_eq!(
            with(-3.0).unwrap_err().to_string(),
            "X: negative value -3 at row 1, column 1"
        );
        assert_eq!(
            with(f32::INFINITY).unwrap_err().to_string(),
            "X: non-finite value inf at row 1, column 1"
        );
        // A stored zero (and −0) is a value like any other.
        assert_eq!(with(0.0).unwrap().error, 0.0);
        assert_eq!(with(-0.0).unwrap().error, 0.0);
    }

    #[test]
    fn a_column_major_view_is_refused() {
        // X (2 × 3) viewed through its transpose's CSC view: the same matrix,
        // stored by columns. The old code read it as CSR: the wide view gave
        // a wrong error, the tall one (Xᵀ) panicked.
        let x = CsrMatrix::new((2, 3), vec![0, 2, 3], vec![0, 2, 1], vec![1.0, 2.0, 3.0]);
        let xt = topicmill_sparse::transpose(x.view());
        let f = Factors::new(&[1.0, 1.0], &[1.0, 1.0, 1.0], 1).unwrap();
        let csc = xt.transpose_view();
        assert_eq!(csc.shape(), (2, 3));
        assert_eq!(
            reconstruction_error(csc, &f).unwrap_err(),
            EvalError::NotCsr { what: "X" }
        );
        let tall = x.transpose_view();
        let f = Factors::new(&[1.0, 1.0, 1.0], &[1.0, 1.0], 1).unwrap();
        assert_eq!(
            reconstruction_error(tall, &f).unwrap_err().to_string(),
            "X: the view stores its matrix by columns (CSC); a row-major (CSR) view is needed"
        );
        // The CSR view of the same matrix is scored.
        let f = Factors::new(&[1.0, 1.0], &[1.0, 1.0, 1.0], 1).unwrap();
        assert!(reconstruction_error(x.view(), &f).is_ok());
    }

    #[test]
    fn many_blocks_match_dense_and_one_thread() {
        // More rows than one block, so the block reduction is exercised.
        let (n, m, k) = (2 * BLOCK_ROWS + 37, 23, 3);
        let mut state = 12345u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as f32) / (1u64 << 31) as f32
        };
        let dense: Vec<f32> = (0..n * m)
            .map(|_| {
                let v = next();
                if v < 0.8 {
                    0.0
                } else {
                    v
                }
            })
            .collect();
        let w: Vec<f32> = (0..n * k).map(|_| next()).collect();
        let ht: Vec<f32> = (0..m * k).map(|_| next()).collect();
        let x = csr_from_dense(&dense, n, m);
        let f = Factors::new(&w, &ht, k).unwrap();
        let r = reconstruction_error(x.view(), &f).unwrap();
        let dense64: Vec<f64> = dense.iter().map(|&v| f64::from(v)).collect();
        let reference = dense_error(&dense64, n, m, &w, &ht, k);
        assert!(
            (r.error - reference).abs() <= 1e-9 * reference,
            "{} vs {reference}",
            r.error
        );
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let r1 = one.install(|| reconstruction_error(x.view(), &f).unwrap());
        assert_eq!(r, r1);
    }

    proptest! {
        #[test]
        fn matches_dense_reference(
            (n, m, k, dense, w, ht) in (1usize..8, 1usize..8, 1usize..4).prop_flat_map(|(n, m, k)| (
                Just(n), Just(m), Just(k),
                proptest::collection::vec(prop_oneof![Just(0.0f32), 0.0f32..5.0], n * m),
                proptest::collection::vec(0.0f32..2.0, n * k),
                proptest::collection::vec(0.0f32..2.0, m * k),
            ))
        ) {
            prop_assume!(dense.iter().any(|&v| v > 0.0));
            let x = csr_from_dense(&dense, n, m);
            let f = Factors::new(&w, &ht, k).unwrap();
            let r = reconstruction_error(x.view(), &f).unwrap();
            let dense64: Vec<f64> = dense.iter().map(|&v| f64::from(v)).collect();
            let reference = dense_error(&dense64, n, m, &w, &ht, k);
            let x_norm = dense64.iter().map(|v| v * v).sum::<f64>().sqrt();
            // The trace identity cancels terms of size ~‖X‖² + ‖WH‖²: compare
            // squares with a tolerance on that scale.
            let scale = x_norm.powi(2) + reference.powi(2) + 1.0;
            prop_assert!((r.error.powi(2) - reference.powi(2)).abs() <= 1e-10 * scale,
                "{} vs {}", r.error, reference);
            prop_assert!((r.x_norm - x_norm).abs() <= 1e-12 * x_norm);
        }
    }
}
