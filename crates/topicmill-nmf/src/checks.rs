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
    match x.data().iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(pos) => Err(NmfError::NonFiniteValue {
            row: row_of(x, pos),
            col: x.indices()[pos] as usize,
            value: x.data()[pos],
        }),
    }
}

/// That `xt` (CSR, of the shape and number of values of X's transpose, both
/// checked by the caller) is X's transpose: walking Xᵀ's rows in order, each
/// value must be finite and ≥ 0 (else [`NmfError::TransposeValue`]) and be
/// the next value of X's row it names, at the column of Xᵀ's row, with the
/// same value (else [`NmfError::TransposeEntryMismatch`]). X's rows are met
/// in column order, so a cursor per row of X (its one allocation, n
/// offsets) finds each entry where the last left off: one pass over both,
/// every entry of Xᵀ matched to its own entry of X. With the counts equal
/// this is exact: Xᵀ holds X's entries, transposed, and nothing else. X's
/// own values are checked by the caller. On the seed corpus (2034 × 26576,
/// 133 634 values) it takes about 0.5 ms, twice X's value check and half of
/// building Xᵀ, which a transpose given saves (a shared, noisy machine).
pub(crate) fn transpose_matches(x: &CsrView<'_>, xt: &CsrView<'_>) -> Result<()> {
    let (xp, xi, xd) = (x.indptr(), x.indices(), x.data());
    let xp = xp.raw_storage();
    let base = xp[0];
    let n = x.rows();
    // Where each row of X has got to, and where it ends (positions in xi).
    let mut cursor: Vec<u64> = xp[..n].iter().map(|&p| p - base).collect();
    let (tp, ti, td) = (xt.indptr(), xt.indices(), xt.data());
    let tp = tp.raw_storage();
    let tbase = tp[0];
    for (j, bounds) in tp.windows(2).enumerate() {
        let (lo, hi) = ((bounds[0] - tbase) as usize, (bounds[1] - tbase) as usize);
        for (&i, &value) in ti[lo..hi].iter().zip(&td[lo..hi]) {
            let i = i as usize;
            if !(value.is_finite() && value >= 0.0) {
                return Err(NmfError::TransposeValue {
                    row: j,
                    col: i,
                    value,
                });
            }
            let at = cursor[i] as usize;
            let end = (xp[i + 1] - base) as usize;
            if at >= end || xi[at] as usize != j || xd[at] != value {
                return Err(NmfError::TransposeEntryMismatch {
                    row: j,
                    col: i,
                    value,
                });
            }
            cursor[i] += 1;
        }
    }
    Ok(())
}

/// That a fit (or initialization) of an n × m matrix at rank `k` (the
/// kernels' `kp ≥ k`) can hold its factors: W and Hᵀ, `4·kp·(n + m)` bytes,
/// live together through the iterations; the NNDSVD initializations
/// (`svd`) hold before them a basis of the longer side, `8·max(n, m)·l`
/// bytes with `l = min(k + 10, min(n, m))` columns. The larger of the two
/// is a lower bound of a fit's memory. It is refused when it overflows, or
/// when the allocator refuses a reservation of that size (reserved and
/// freed at once, no page touched: where the system would refuse the
/// memory, or kill the process, once the fit writes it): an error up front
/// rather than an abort inside the fit. An allocator that promises any size
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
    let reservable = usize::try_from(bytes)
        .ok()
        .filter(|&b| b <= isize::MAX as usize)
        .is_some_and(|b| Vec::<u8>::new().try_reserve_exact(b).is_ok());
    if reservable {
        Ok(())
    } else {
        Err(NmfError::TooLarge {
            what: what(),
            bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
