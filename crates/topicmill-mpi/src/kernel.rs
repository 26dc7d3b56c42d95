//! Local kernels of the distributed fit: a rank's sparse × dense products,
//! the row rules and the k × k Gram partials.
//!
//! The row rules (`mu_row`, `hals_row`, `flush`) follow topicmill-nmf's
//! `kernel.rs` operation for operation, so one rank computes what the
//! single-process fit computes; only the order of long sums differs (within
//! a product row here, across ranks in the reductions).

use rayon::prelude::*;
use topicmill_sparse::CsrView;

/// Floor of the MU denominators, as in topicmill-nmf.
pub(crate) const DEN_FLOOR: f32 = 1e-30;

/// Rows per parallel task. Fixed, so sums never depend on the thread count.
const CHUNK_ROWS: usize = 256;

/// L1 and L2 strengths of one side.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Reg {
    pub l1: f32,
    pub l2: f32,
}

/// Which row rule a half-step applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rule {
    Mu,
    Hals,
}

/// A CSR matrix as slices, rows relative to its first row pointer.
#[derive(Clone, Copy)]
pub(crate) struct Csr<'a> {
    indptr: &'a [u64],
    base: u64,
    indices: &'a [u32],
    data: &'a [f32],
    pub rows: usize,
}

impl<'a> Csr<'a> {
    /// Borrows a view (possibly a row block of a larger matrix: its row
    /// pointers then do not start at 0, and its slices are the block's).
    pub fn from_view(x: &'a CsrView<'_>) -> Self {
        let indptr = x.indptr().into_raw_storage();
        Csr {
            base: indptr[0],
            indptr,
            indices: x.indices(),
            data: x.data(),
            rows: x.rows(),
        }
    }

    #[inline(always)]
    pub fn row(&self, i: usize) -> (&'a [u32], &'a [f32]) {
        let lo = (self.indptr[i] - self.base) as usize;
        let hi = (self.indptr[i + 1] - self.base) as usize;
        (&self.indices[lo..hi], &self.data[lo..hi])
    }
}

/// `n ← Σ_j a_j · G[col_j]` for one sparse row.
#[inline(always)]
fn sparse_row_times(cols: &[u32], vals: &[f32], g: &[f32], k: usize, n: &mut [f32]) {
    n.fill(0.0);
    for (&c, &v) in cols.iter().zip(vals) {
        let gr = &g[c as usize * k..c as usize * k + k];
        for (o, &x) in n.iter_mut().zip(gr) {
            *o += v * x;
        }
    }
}

/// `out ← f · S` for one row.
#[inline(always)]
fn row_times_gram(f: &[f32], s: &[f32], k: usize, out: &mut [f32]) {
    out.fill(0.0);
    for (a, &fa) in f.iter().enumerate() {
        if fa == 0.0 {
            continue;
        }
        for (o, &sv) in out.iter_mut().zip(&s[a * k..a * k + k]) {
            *o += fa * sv;
        }
    }
}

/// Subnormal values are flushed to zero (their reciprocals overflow).
#[inline(always)]
fn flush(v: f32) -> f32 {
    if v < f32::MIN_POSITIVE {
        0.0
    } else {
        v
    }
}

/// MU on a row: `f ← f ∘ n ⊘ max(f·S + l1 + l2 f, DEN_FLOOR)`.
#[inline(always)]
fn mu_row(f: &mut [f32], n: &[f32], fs: &[f32], reg: Reg) {
    for ((x, &num), &den) in f.iter_mut().zip(n).zip(fs) {
        let den = (den + reg.l1 + reg.l2 * *x).max(DEN_FLOOR);
        let v = ((*x / den) * num).min(f32::MAX);
        let v = if num > 0.0 { v } else { 0.0 };
        *x = flush(v);
    }
}

/// One HALS (coordinate descent) sweep on a row, t = 0..k in order.
#[inline(always)]
fn hals_row(f: &mut [f32], n: &[f32], s: &[f32], k: usize, reg: Reg) {
    for t in 0..k {
        let st = &s[t * k..t * k + k];
        let mut grad = 0f32;
        for (&sv, &fv) in st.iter().zip(f.iter()) {
            grad += sv * fv;
        }
        let hess = st[t] + reg.l2;
        grad += reg.l2 * f[t] - (n[t] - reg.l1);
        if hess != 0.0 {
            f[t] = flush((f[t] - grad / hess).max(0.0));
        }
    }
}

/// `N = A·G` (A rows × cols, G cols × k, N rows × k).
pub(crate) fn spmm(a: &Csr<'_>, g: &[f32], k: usize, n: &mut [f32]) {
    n[..a.rows * k]
        .par_chunks_mut(CHUNK_ROWS * k)
        .enumerate()
        .for_each(|(c, nb)| {
            for (local, nr) in nb.chunks_exact_mut(k).enumerate() {
                let (cols, vals) = a.row(c * CHUNK_ROWS + local);
                sparse_row_times(cols, vals, g, k, nr);
            }
        });
}

/// The Frobenius half-step on the rows of `f` (A.rows × k): `N = A·G` unless
/// `n_given` (then `n` already holds it), then the rule with `s = GᵀG` (f32).
/// Returns ⟨F_new, N⟩ (f64, fixed order).
#[allow(clippy::too_many_arguments)]
pub(crate) fn update(
    a: Option<&Csr<'_>>,
    f: &mut [f32],
    n: &mut [f32],
    g: &[f32],
    s: &[f32],
    k: usize,
    rule: Rule,
    reg: Reg,
) -> f64 {
    let rows = f.len() / k;
    let parts: Vec<f64> = f
        .par_chunks_mut(CHUNK_ROWS * k)
        .zip(n[..rows * k].par_chunks_mut(CHUNK_ROWS * k))
        .enumerate()
        .map(|(c, (fb, nb))| {
            let mut fs = vec![0f32; k];
            let mut acc = 0f64;
            for (local, (fr, nr)) in fb
                .chunks_exact_mut(k)
                .zip(nb.chunks_exact_mut(k))
                .enumerate()
            {
                if let Some(a) = a {
                    let (cols, vals) = a.row(c * CHUNK_ROWS + local);
                    sparse_row_times(cols, vals, g, k, nr);
                }
                match rule {
                    Rule::Mu => {
                        row_times_gram(fr, s, k, &mut fs);
                        mu_row(fr, nr, &fs, reg);
                    }
                    Rule::Hals => hals_row(fr, nr, s, k, reg),
                }
                let mut d = 0f32;
                for (&x, &y) in fr.iter().zip(nr.iter()) {
                    d += x * y;
                }
                acc += d as f64;
            }
            acc
        })
        .collect();
    parts.iter().sum()
}

/// `S = GᵀG` of a rows × k factor, f64, partial sums per fixed chunk added
/// in chunk order.
pub(crate) fn gram(g: &[f32], k: usize) -> Vec<f64> {
    let parts: Vec<Vec<f64>> = g
        .par_chunks(CHUNK_ROWS * 4 * k)
        .map(|rows| {
            let mut p = vec![0f64; k * k];
            let mut wide = vec![0f64; k];
            for row in rows.chunks_exact(k) {
                for (w, &v) in wide.iter_mut().zip(row) {
                    *w = v as f64;
                }
                for (a, &ga) in wide.iter().enumerate() {
                    if ga == 0.0 {
                        continue;
                    }
                    for (s, &gb) in p[a * k..(a + 1) * k].iter_mut().zip(&wide) {
                        *s += ga * gb;
                    }
                }
            }
            p
        })
        .collect();
    let mut out = vec![0f64; k * k];
    for p in parts {
        for (o, v) in out.iter_mut().zip(p) {
            *o += v;
        }
    }
    out
}

/// ⟨A, B⟩ of two equally shaped buffers.
pub(crate) fn inner(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// ⟨F, N⟩ in f64, fixed order.
pub(crate) fn dot(f: &[f32], n: &[f32]) -> f64 {
    f.iter().zip(n).map(|(&x, &y)| x as f64 * y as f64).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use topicmill_sparse::CsrMatrix;

    #[test]
    fn spmm_and_gram_match_dense() {
        // A = [[1, 0, 2], [0, 3, 0]], G = 3 × 2.
        let a = CsrMatrix::new((2, 3), vec![0, 2, 3], vec![0, 2, 1], vec![1.0, 2.0, 3.0]);
        let av = a.view();
        let g = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut n = vec![0f32; 4];
        spmm(&Csr::from_view(&av), &g, 2, &mut n);
        assert_eq!(n, vec![11.0, 14.0, 9.0, 12.0]);
        assert_eq!(gram(&g, 2), vec![35.0, 44.0, 44.0, 56.0]);
    }

    #[test]
    fn a_row_block_reads_its_own_rows() {
        let a = CsrMatrix::new((2, 3), vec![0, 2, 3], vec![0, 2, 1], vec![1.0, 2.0, 3.0]);
        let block = a.view().slice_outer_rbr(1..2);
        let g = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut n = vec![0f32; 2];
        spmm(&Csr::from_view(&block), &g, 2, &mut n);
        assert_eq!(n, vec![9.0, 12.0]);
    }

    #[test]
    fn hals_solves_a_one_by_one_problem_exactly() {
        // min ½(s f² ) − n f ⇒ f = n / s.
        let mut f = [1.0f32];
        hals_row(&mut f, &[6.0], &[2.0], 1, Reg::default());
        assert_eq!(f, [3.0]);
        let mut f = [1.0f32];
        hals_row(&mut f, &[-6.0], &[2.0], 1, Reg::default());
        assert_eq!(f, [0.0]);
    }

    #[test]
    fn mu_keeps_zero_numerators_zero() {
        let mut f = [1.0f32, 2.0];
        mu_row(&mut f, &[0.0, 4.0], &[1.0, 2.0], Reg::default());
        assert_eq!(f, [0.0, 4.0]);
    }
}
