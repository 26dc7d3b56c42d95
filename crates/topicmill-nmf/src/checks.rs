//! Checks of what the public entry points are given, beyond the
//! parameters: the storage of a view, a transpose given for X, the memory a
//! fit needs.

use topicmill_sparse::CsrView;

use crate::error::{NmfError, Result};

/// `Err(NotCsr)` naming `argument` when `x` is a view of column-major
/// storage (`CsrView` is sprs's `CsMatViewI`, which holds either; a
/// `transpose_view()` is CSC): every kernel reads its arrays as rows.
pub(crate) fn csr_storage(x: &CsrView<'_>, argument: &'static str) -> Result<()> {
    if x.is_csr() {
        Ok(())
    } else {
        Err(NmfError::NotCsr { argument })
    }
}

/// The row of stored value `pos` of the CSR `x` (its row pointers may start
/// above 0: a row block of a larger matrix).
pub(crate) fn row_of(x: &CsrView<'_>, pos: usize) -> usize {
    let raw = x.indptr();
    let raw = raw.raw_storage();
    let base = raw[0];
    // Row r holds positions raw[r]-base .. raw[r+1]-base.
    raw.partition_point(|&p| (p - base) as usize <= pos) - 1
}

/// `Err(NonFiniteValue)` at the first NaN or infinity of the CSR `x`.
pub(crate) fn finite_values(x: &CsrView<'_>) -> Result<()> {
    match first_non_finite(x.data()) {
        None => Ok(()),
        Some(pos) => Err(NmfError::NonFiniteValue {
            row: row_of(x, pos),
            col: x.indices()[pos] as usize,
            value: x.data()[pos],
        }),
    }
}

/// The position of the first NaN or infinity in `values`. On the bits, in
/// parallel, with no early exit, so that the loop is vectorized (as
/// `params::check_values`): a value is finite when its bits without the
/// sign are below +∞'s; the position is found on the error path only. On all
/// 20 Newsgroups (1,147,174 values, Zen 5 EPYC, two threads) 0.13–0.145 ms,
/// against 0.30 ms for a scan stopping at the first.
pub(crate) fn first_non_finite(values: &[f32]) -> Option<usize> {
    use rayon::prelude::*;
    let bad = values
        .par_chunks(1 << 16)
        .map(|chunk| {
            chunk.iter().fold(false, |bad, v| {
                bad | (v.to_bits() & !(1 << 31) >= f32::INFINITY.to_bits())
            })
        })
        .reduce(|| false, |a, b| a | b);
    if !bad {
        return None;
    }
    // Found again, on the error path only.
    values.iter().position(|v| !v.is_finite())
}

/// That `xt` (CSR, of the shape and number of values of X's transpose, both
/// checked by the caller) is X's transpose, by
/// [`topicmill_sparse::transpose_difference`] (both read once, in parallel;
/// a difference is then located exactly). At the first difference, a value
/// of Xᵀ that is not finite and ≥ 0 is [`NmfError::TransposeValue`], any
/// other [`NmfError::TransposeEntryMismatch`]. X's own values are checked
/// by the caller.
pub(crate) fn transpose_matches(x: &CsrView<'_>, xt: &CsrView<'_>) -> Result<()> {
    let Some(d) = topicmill_sparse::transpose_difference(x.view(), xt.view()) else {
        return Ok(());
    };
    Err(match d.xt_value {
        Some(value) if !(value.is_finite() && value >= 0.0) => NmfError::TransposeValue {
            row: d.row,
            col: d.col,
            value,
        },
        _ => NmfError::TransposeEntryMismatch {
            row: d.row,
            col: d.col,
            xt_value: d.xt_value,
            x_value: d.x_value,
        },
    })
}

/// That a fit (or initialization) of an n × m matrix at rank `k` (the
/// kernels' `kp ≥ k`) can hold its factors: W and Hᵀ, `4·kp·(n + m)` bytes,
/// live together through the iterations; the NNDSVD initializations
/// (`svd`) hold before them a basis of the longer side, `8·max(n, m)·l`
/// bytes with `l = min(k + 10, min(n, m))` columns. The larger of the two
/// is a lower bound of a fit's memory. It is refused when it overflows, or
/// when the system allocator refuses a block of that size
/// ([`system_gives`]: where the system would refuse the memory, or kill
/// the process, once the fit writes it): an error up front rather than an
/// abort inside the fit. An allocator that promises any size
/// (Linux with `vm.overcommit_memory = 1`) passes every size.
pub(crate) fn memory_for(n: usize, m: usize, k: usize, kp: usize, svd: bool) -> Result<()> {
    let (n, m, k, kp) = (n as u128, m as u128, k as u128, kp as u128);
    let factors = 4 * kp * (n + m);
    let basis = if svd {
        8 * n.max(m) * (k + 10).min(n.min(m))
    } else {
        0
    };
    let bytes = factors.max(basis);
    let what = || {
        if basis > factors {
            format!("the NNDSVD basis of a {n} × {m} matrix at k = {k}")
        } else {
            format!("the factors of a {n} × {m} matrix at k = {k}")
        }
    };
    let reservable = usize::try_from(bytes).is_ok_and(system_gives);
    if reservable {
        Ok(())
    } else {
        Err(NmfError::TooLarge {
            what: what(),
            bytes,
        })
    }
}

/// Whether the system allocator gives a block of `bytes` (freed at once,
/// no page touched). Asked of [`System`] itself, not of the program's
/// global allocator: a probe is not memory the fit holds, and a binary
/// that counts its heap (topicmill's footprint figures) must not count it.
fn system_gives(bytes: usize) -> bool {
    use std::alloc::{GlobalAlloc, Layout, System};
    let Ok(layout) = Layout::from_size_align(bytes.max(1), 64) else {
        return false; // above isize::MAX
    };
    // SAFETY: the layout's size is non-zero; the block, when given, is
    // freed at once with the same layout and never read or written.
    unsafe {
        let block = System.alloc(layout);
        if block.is_null() {
            return false;
        }
        System.dealloc(block, layout);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every finite value passes (negative ones, ±0, subnormals, ±MAX); the
    /// first NaN or infinity, either sign, is found at its row and column,
    /// in whichever of the parallel chunks it lies.
    #[test]
    fn finite_values_finds_the_first_nan_or_infinity() {
        let len = 3 * (1 << 16) + 5;
        let good = [-1.5, -0.0, 0.0, 1e-45, -1e-45, f32::MAX, -f32::MAX, 7.0];
        let values: Vec<f32> = (0..len).map(|i| good[i % good.len()]).collect();
        // 10 values per row.
        let matrix = |values: &[f32]| {
            topicmill_sparse::CsrMatrix::new(
                (len.div_ceil(10), 10),
                (0..=len.div_ceil(10))
                    .map(|r| (10 * r).min(len) as u64)
                    .collect(),
                (0..len).map(|i| (i % 10) as u32).collect(),
                values.to_vec(),
            )
        };
        assert!(finite_values(&matrix(&values).view()).is_ok());
        let bad = [f32::NAN, -f32::NAN, f32::INFINITY, f32::NEG_INFINITY];
        for (pos, value) in [
            (0, bad[0]),
            (70_001, bad[1]),
            (len - 1, bad[2]),
            (131_072, bad[3]),
        ] {
            let mut v = values.clone();
            v[pos] = value;
            // A later one too: the first is named.
            if pos + 1 < len {
                v[len - 1] = f32::NAN;
            }
            let e = finite_values(&matrix(&v).view()).unwrap_err();
            assert!(
                matches!(e, NmfError::NonFiniteValue { row, col, value: got }
                    if row == pos / 10 && col == pos % 10 && got.to_bits() == value.to_bits()),
                "{pos}: {e:?}"
            );
        }
    }

    /// Sizes whose bytes overflow usize, or that no allocator gives, are
    /// refused with the sizes named; a small fit's pass.
    #[test]
    fn memory_beyond_any_allocation_is_refused() {
        assert!(memory_for(2034, 26576, 4, 4, true).is_ok());
        let e = memory_for(1 << 62, 1 << 62, 1 << 40, 1 << 40, false).unwrap_err();
        assert!(
            matches!(&e, NmfError::TooLarge { bytes, .. } if *bytes == 1u128 << 105),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!(
                "the factors of a {} × {} matrix at k = {} need {} bytes, more than can be \
                 allocated: lower k or the matrix's size",
                1u64 << 62,
                1u64 << 62,
                1u64 << 40,
                1u128 << 105
            )
        );
        // Below usize::MAX, above isize::MAX: no allocation is that large.
        let e = memory_for(1 << 40, 1 << 40, 1 << 20, 1 << 20, true).unwrap_err();
        assert!(e.to_string().starts_with("the NNDSVD basis of a"), "{e}");
    }
}
