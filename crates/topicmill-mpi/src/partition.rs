//! How rows (documents) and terms are split among ranks.

use std::ops::Range;

/// Splits the rows of a CSR matrix with row pointers `indptr` (rows + 1
/// entries, starting at 0) into `parts` consecutive ranges of about equal
/// work, counting a row as its non-zeros plus one (so that empty rows still
/// weigh something). Part `p` starts at the first row where the cumulative
/// work reaches `p / parts` of the total; ranges may be empty when there are
/// fewer rows than parts. Depends on the matrix and `parts` only.
///
/// # Panics
/// If `parts` is 0 or `indptr` is empty (caller bugs).
pub fn row_partition(indptr: &[u64], parts: usize) -> Vec<Range<usize>> {
    assert!(parts > 0, "row_partition: parts must be positive");
    assert!(!indptr.is_empty(), "row_partition: indptr is empty");
    let rows = indptr.len() - 1;
    let base = indptr[0];
    let work = |i: usize| (indptr[i] - base) as u128 + i as u128;
    let total = work(rows);
    let mut starts = Vec::with_capacity(parts + 1);
    starts.push(0usize);
    for p in 1..parts {
        let target = total * p as u128 / parts as u128;
        // The first row boundary whose cumulative work reaches the target.
        let (mut lo, mut hi) = (*starts.last().expect("non-empty"), rows);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if work(mid) < target {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        starts.push(lo);
    }
    starts.push(rows);
    starts.windows(2).map(|w| w[0]..w[1]).collect()
}

/// Rows per term block when `m` terms are split among `parts` ranks: every
/// block has this many rows (the last ones padded with zero rows), which is
/// what `MPI_Reduce_scatter_block` needs. Terms cost the same (O(k²)) in the
/// H update, so equal counts are balanced.
pub fn term_block_rows(m: usize, parts: usize) -> usize {
    m.div_ceil(parts).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_by_nonzeros() {
        // Row nnz: 10, 0, 0, 0, 10, 1, 1 → work 11, 1, 1, 1, 11, 2, 2 = 29.
        let indptr = [0u64, 10, 10, 10, 10, 20, 21, 22];
        let parts = row_partition(&indptr, 2);
        assert_eq!(parts, vec![0..4, 4..7]);
        let parts = row_partition(&indptr, 3);
        assert_eq!(parts, vec![0..1, 1..5, 5..7]);
    }

    #[test]
    fn covers_every_row_once_even_with_more_parts_than_rows() {
        let indptr = [0u64, 3, 5];
        let parts = row_partition(&indptr, 4);
        assert_eq!(parts.len(), 4);
        assert_eq!(parts.first().unwrap().start, 0);
        assert_eq!(parts.last().unwrap().end, 2);
        for w in parts.windows(2) {
            assert_eq!(w[0].end, w[1].start);
        }
        assert_eq!(parts.iter().map(|r| r.len()).sum::<usize>(), 2);
    }

    #[test]
    fn one_part_is_everything() {
        assert_eq!(row_partition(&[0u64, 1, 2, 3], 1), vec![0..3]);
    }

    #[test]
    fn term_blocks_cover_the_terms() {
        assert_eq!(term_block_rows(10, 3), 4);
        assert_eq!(term_block_rows(2, 4), 1);
        assert_eq!(term_block_rows(12, 4), 3);
    }
}
