//! Zero-copy row blocks.

use std::ops::Range;

use crate::CsrView;

/// Split `m` into consecutive blocks of `rows_per_block` rows (the last may be
/// shorter), each a view borrowing `m`'s storage: nothing is copied.
///
/// A block's row pointers are a window of the parent's, so they do not start at 0:
/// index with `block.indptr().outer_inds_sz(i)` (or `proper_indptr()`, which
/// copies only the block's pointers) rather than reading the raw slice.
///
/// # Panics
/// If `rows_per_block` is 0, or if `m` is a column-major (CSC) view (as
/// `transpose_view()` makes): its blocks of rows cannot borrow its storage,
/// which holds columns. Both are caller bugs, not input errors: every view
/// this crate makes (of a [`CsrMatrix`](crate::CsrMatrix), a
/// [`MappedMatrix`](crate::MappedMatrix)) is CSR; `m.to_csr()` converts
/// another.
pub fn row_blocks<'a>(
    m: CsrView<'a>,
    rows_per_block: usize,
) -> impl ExactSizeIterator<Item = (Range<usize>, CsrView<'a>)> + 'a {
    assert!(
        rows_per_block > 0,
        "row_blocks: rows_per_block must be positive"
    );
    assert!(
        m.is_csr(),
        "row_blocks: the matrix is a column-major (CSC) view; a CSR view is required"
    );
    let nrows = m.rows();
    let nblocks = nrows.div_ceil(rows_per_block);
    (0..nblocks).map(move |b| {
        let start = b * rows_per_block;
        let end = (start + rows_per_block).min(nrows);
        (start..end, m.slice_outer_rbr(start..end))
    })
}
