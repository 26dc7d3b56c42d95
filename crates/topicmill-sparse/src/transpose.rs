//! Transposition: in memory ([`transpose`]) and straight into a matrix file
//! ([`write_transpose`]) in bounded memory, column block by column block.

use std::io::{Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::Path;

use rayon::prelude::*;

use crate::error::{value_problem, SparseError};
use crate::format::{encode_footer, ensure_little_endian, Header, HEADER_LEN};
use crate::writer::{parent_dir, persist, MatrixSummary};
use crate::{CsrMatrix, CsrView};

/// The CSR matrix of `mᵀ`, built by a counting sort (rows stay sorted within each
/// column because the source is scanned in row order).
///
/// A column-major (CSC) view of a matrix `a` (as `a.transpose_view()` of a
/// CSR `aᵀ` makes) is handled too: its arrays are those of `aᵀ` in CSR,
/// which are copied as they are.
///
/// # Panics
/// If the row pointers of the transpose, 8 bytes per column of `m`, cannot
/// be allocated. A matrix file's shape is trusted at
/// [`MappedMatrix::open`](crate::MappedMatrix::open) (the header's checksum
/// is checked by `verify`); [`write_transpose`] returns
/// [`SparseError::TooLarge`] instead.
pub fn transpose(m: CsrView<'_>) -> CsrMatrix {
    if m.is_csc() {
        let t = m.transpose_view();
        return CsrMatrix::try_new(
            t.shape(),
            t.proper_indptr().into_owned(),
            t.indices().to_vec(),
            t.data().to_vec(),
        )
        .map_err(|(_, _, _, e)| e)
        .expect("a CSC view read as CSR is a valid CSR matrix");
    }
    let (nrows, ncols) = m.shape();
    let indptr_src = m.proper_indptr();
    let (src_idx, src_val) = (m.indices(), m.data());
    let mut indptr = column_pointers(src_idx, ncols).unwrap_or_else(|e| {
        panic!("transpose: cannot allocate the row pointers of a {ncols}-column matrix's transpose: {e}")
    });
    let mut cursor: Vec<u64> = indptr[..ncols].to_vec();
    let mut indices = vec![0u32; src_idx.len()];
    let mut data = vec![0f32; src_idx.len()];
    for row in 0..nrows {
        for k in indptr_src[row] as usize..indptr_src[row + 1] as usize {
            let c = src_idx[k] as usize;
            let pos = cursor[c] as usize;
            cursor[c] += 1;
            indices[pos] = row as u32;
            data[pos] = src_val[k];
        }
    }
    indptr.shrink_to_fit();
    // The counting sort produces a valid CSR matrix: sprs's check costs O(nnz) on
    // top of the O(nnz) just spent, and guards against a bug here.
    CsrMatrix::try_new((ncols, nrows), indptr, indices, data)
        .map_err(|(_, _, _, e)| e)
        .expect("a counting-sort transpose is a valid CSR matrix")
}

/// Prefix sums of the column counts: the row pointers of the transpose.
/// Allocated fallibly: `ncols` may come from a damaged header.
fn column_pointers(
    indices: &[u32],
    ncols: usize,
) -> Result<Vec<u64>, std::collections::TryReserveError> {
    let mut ptr = Vec::new();
    // Saturating: usize::MAX columns are a capacity overflow, not a wrap.
    ptr.try_reserve_exact(ncols.saturating_add(1))?;
    ptr.resize(ncols + 1, 0u64);
    for &c in indices {
        ptr[c as usize + 1] += 1;
    }
    for j in 0..ncols {
        ptr[j + 1] += ptr[j];
    }
    Ok(ptr)
}

/// Output buffer of [`write_transpose`]: 512 MiB of column indices and values.
pub const DEFAULT_TRANSPOSE_BUFFER: usize = 512 << 20;

/// Write `mᵀ` in CSR to `path`, atomically, with an output buffer of
/// [`DEFAULT_TRANSPOSE_BUFFER`] bytes; see [`write_transpose_buffered`].
pub fn write_transpose(path: &Path, m: CsrView<'_>) -> Result<MatrixSummary, SparseError> {
    write_transpose_buffered(path, m, DEFAULT_TRANSPOSE_BUFFER)
}

/// Write `mᵀ` in CSR to `path`, atomically (temporary file, sync, rename),
/// column block by column block.
///
/// Values must be finite and non-negative, as [`MatrixWriter::push_row`]
/// requires ([`SparseError::InvalidRow`] naming the row of `mᵀ`, and
/// nothing written). A column-major (CSC) view of `a` is written as its
/// arrays, which are `aᵀ` in CSR: as [`write_matrix`] writes
/// `m.transpose_view()`. The row pointers (8 bytes per column of `m`) are
/// allocated fallibly: [`SparseError::TooLarge`] when they cannot be.
///
/// [`MatrixWriter::push_row`]: crate::MatrixWriter::push_row
/// [`write_matrix`]: crate::write_matrix
///
/// One counting pass over the column indices gives the output layout. The output
/// rows (the columns of `m`) are then cut into consecutive ranges whose entries
/// (4 bytes of index and 4 of value each) fit in `buffer_bytes`; for each range
/// `m` is scanned in row order — in parallel over row blocks, each block
/// scattering into its own precomputed slots, so the bytes do not depend on the
/// thread count — and the range's indices and values are written with two
/// sequential writes. Rows stay sorted within each column. Random access only
/// ever touches the in-memory buffer, never the file.
///
/// Memory: the buffer, `max(buffer_bytes, 8 × the largest column's nnz)` bytes
/// (a range holds at least one column); 8 bytes per column of `m` for the
/// layout; and per-block cursors for one range, at most `buffer_bytes / 8`. The
/// file is written through the page cache and never mapped. Work: one pass over
/// `m`'s column indices to count, then per range a binary search in each row
/// and two passes over the range's own entries.
pub fn write_transpose_buffered(
    path: &Path,
    m: CsrView<'_>,
    buffer_bytes: usize,
) -> Result<MatrixSummary, SparseError> {
    ensure_little_endian(path)?;
    if m.is_csc() {
        return crate::writer::write_matrix(path, m.transpose_view());
    }
    let (nrows, ncols) = m.shape();
    if nrows as u64 > u64::from(u32::MAX) {
        return Err(SparseError::TooLarge {
            path: path.to_path_buf(),
            message: format!("{nrows} rows: the transpose's column indices would not fit in u32"),
        });
    }
    let indptr_src = m.proper_indptr();
    let (src_idx, src_val) = (m.indices(), m.data());
    let nnz = src_idx.len() as u64;
    let indptr_t = column_pointers(src_idx, ncols).map_err(|e| SparseError::TooLarge {
        path: path.to_path_buf(),
        message: format!(
            "the transpose of a {nrows} x {ncols} matrix: cannot allocate its {} row pointers ({e})",
            ncols as u64 + 1
        ),
    })?;
    let header = Header::layout(ncols as u64, nrows as u64, nnz);
    let io = |action: &'static str| move |e: std::io::Error| SparseError::io(path, action, e);

    let dir = parent_dir(path);
    let mut tmp = crate::atomic_temp_builder(".topicmill-tmp-")
        .tempfile_in(dir)
        .map_err(|e| SparseError::io(dir, "cannot create a temporary file in this directory", e))?;
    // set_len fills the file with zeros (a hole): the padding between sections.
    tmp.as_file()
        .set_len(header.file_len)
        .map_err(io("cannot allocate"))?;

    let blocks = RowBlocks::new(&indptr_src, rayon::current_num_threads());
    let ranges = column_ranges(&indptr_t, buffer_bytes, blocks.len());
    let largest = ranges
        .iter()
        .map(|r| (indptr_t[r.end] - indptr_t[r.start]) as usize)
        .max()
        .unwrap_or(0);
    let mut out_idx = vec![0u32; largest];
    let mut out_val = vec![0f32; largest];
    let mut crc_idx = crc32fast::Hasher::new();
    let mut crc_val = crc32fast::Hasher::new();
    let file = tmp.as_file_mut();
    for cols in ranges {
        let (first, len) = (
            indptr_t[cols.start],
            (indptr_t[cols.end] - indptr_t[cols.start]) as usize,
        );
        let (idx, val) = (&mut out_idx[..len], &mut out_val[..len]);
        fill_range(
            &blocks,
            (&indptr_src, src_idx, src_val),
            &indptr_t,
            cols.clone(),
            idx,
            val,
        );
        // The values are checked here, in the buffer just filled, while the
        // indices' checksum is computed (rather than in a pass of their own
        // over `m`): the first bad value in the file's order.
        let (idx_bytes, val_bytes): (&[u8], &[u8]) =
            (bytemuck::cast_slice(idx), bytemuck::cast_slice(val));
        let (all_valid, ()) = rayon::join(
            || {
                crc_idx.update(idx_bytes);
                all_valid(val)
            },
            || crc_val.update(val_bytes),
        );
        if !all_valid {
            let at = val
                .iter()
                .position(|&v| value_problem(v).is_some())
                .expect("a value is invalid");
            let slot = first + at as u64;
            let row_t = cols.start + indptr_t[cols.clone()].partition_point(|&p| p <= slot) - 1;
            return Err(SparseError::InvalidRow {
                path: path.to_path_buf(),
                row: row_t as u64,
                message: format!(
                    "value {} at column {} is {} (the entry at row {}, column {row_t} of the matrix transposed)",
                    val[at],
                    idx[at],
                    value_problem(val[at]).expect("found above"),
                    idx[at]
                ),
            });
        }
        let (idx, val) = (idx_bytes, val_bytes);
        file.seek(SeekFrom::Start(header.indices.offset + 4 * first))
            .map_err(io("cannot write"))?;
        file.write_all(idx).map_err(io("cannot write"))?;
        file.seek(SeekFrom::Start(header.data.offset + 4 * first))
            .map_err(io("cannot write"))?;
        file.write_all(val).map_err(io("cannot write"))?;
    }
    drop((out_idx, out_val));
    let indptr_bytes: &[u8] = bytemuck::cast_slice(&indptr_t);
    file.seek(SeekFrom::Start(header.indptr.offset))
        .map_err(io("cannot write"))?;
    file.write_all(indptr_bytes).map_err(io("cannot write"))?;

    // The checksum of every byte before the footer, in file order: header,
    // indices, padding, values, padding, row pointers, padding.
    let header_bytes = header.encode();
    let end = |s: crate::format::Section| s.offset + s.len;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&header_bytes);
    crc_zeros(&mut crc, header.indices.offset - HEADER_LEN);
    crc.combine(&crc_idx);
    crc_zeros(&mut crc, header.data.offset - end(header.indices));
    crc.combine(&crc_val);
    crc_zeros(&mut crc, header.indptr.offset - end(header.data));
    crc.update(indptr_bytes);
    crc_zeros(&mut crc, header.footer_offset() - end(header.indptr));
    file.seek(SeekFrom::Start(0)).map_err(io("cannot write"))?;
    file.write_all(&header_bytes).map_err(io("cannot write"))?;
    file.seek(SeekFrom::Start(header.footer_offset()))
        .map_err(io("cannot write"))?;
    file.write_all(&encode_footer(crc.finalize()))
        .map_err(io("cannot write"))?;
    persist(tmp, path)?;
    Ok(MatrixSummary {
        nrows: ncols as u64,
        ncols: nrows as u64,
        nnz,
        file_len: header.file_len,
    })
}

/// Whether every value is finite and non-negative (what [`value_problem`]
/// accepts, -0 included), without an early exit so that it vectorizes.
fn all_valid(values: &[f32]) -> bool {
    values.chunks(4096).all(|chunk| {
        chunk
            .iter()
            .fold(true, |ok, &v| ok & (0.0..=f32::MAX).contains(&v))
    })
}

/// Feed `n` zero bytes (section padding, under 64) to `crc`.
fn crc_zeros(crc: &mut crc32fast::Hasher, n: u64) {
    crc.update(&[0u8; crate::format::ALIGN as usize][..n as usize]);
}

/// Consecutive ranges of rows holding about equal shares of the non-zeros.
struct RowBlocks {
    /// Block `b` is rows `starts[b]..starts[b + 1]`.
    starts: Vec<usize>,
}

impl RowBlocks {
    fn new(indptr: &[u64], blocks: usize) -> Self {
        let nrows = indptr.len() - 1;
        let nnz = indptr[nrows];
        let blocks = blocks.clamp(1, nrows.max(1));
        let mut starts: Vec<usize> = (0..blocks)
            .map(|b| {
                let target = (nnz as u128 * b as u128 / blocks as u128) as u64;
                indptr[..nrows].partition_point(|&p| p < target)
            })
            .collect();
        starts.push(nrows);
        starts.dedup();
        if starts.len() == 1 {
            starts.insert(0, 0);
        }
        RowBlocks { starts }
    }

    fn len(&self) -> usize {
        self.starts.len() - 1
    }

    fn rows(&self, b: usize) -> Range<usize> {
        self.starts[b]..self.starts[b + 1]
    }
}

/// Cut the columns into consecutive ranges of at most `buffer_bytes / 8`
/// entries (at least one column each) and at most `buffer_bytes / (64 ×
/// blocks)` columns, so that the per-block cursors stay within `buffer_bytes / 8`.
fn column_ranges(indptr_t: &[u64], buffer_bytes: usize, blocks: usize) -> Vec<Range<usize>> {
    let ncols = indptr_t.len() - 1;
    let max_entries = (buffer_bytes / 8).max(1) as u64;
    let max_width = (buffer_bytes / (64 * blocks.max(1))).max(1);
    let mut ranges = Vec::new();
    let mut start = 0;
    while start < ncols {
        let limit = (start + max_width).min(ncols);
        // The last column end such that the range holds at most max_entries.
        let fits =
            indptr_t[start + 1..=limit].partition_point(|&p| p - indptr_t[start] <= max_entries);
        let end = start + fits.max(1);
        ranges.push(start..end);
        start = end;
    }
    ranges
}

/// Fill `idx`/`val` with the rows of `mᵀ` for the columns `cols` of `m`.
fn fill_range(
    blocks: &RowBlocks,
    (indptr, src_idx, src_val): (&[u64], &[u32], &[f32]),
    indptr_t: &[u64],
    cols: Range<usize>,
    idx: &mut [u32],
    val: &mut [f32],
) {
    let (c0, c1) = (cols.start as u32, cols.end as u32);
    let width = cols.len();
    // The part of row `r` whose columns fall in the range (rows are sorted).
    let in_range = |r: usize| {
        let (a, b) = (indptr[r] as usize, indptr[r + 1] as usize);
        let row = &src_idx[a..b];
        let s = row.partition_point(|&c| c < c0);
        let e = s + row[s..].partition_point(|&c| c < c1);
        a + s..a + e
    };
    // Pass 1: how many entries each row block puts in each column.
    let mut cursors: Vec<Vec<usize>> = (0..blocks.len())
        .into_par_iter()
        .map(|b| {
            let mut count = vec![0usize; width];
            for r in blocks.rows(b) {
                for &c in &src_idx[in_range(r)] {
                    count[(c - c0) as usize] += 1;
                }
            }
            count
        })
        .collect();
    // Block b's slots in column j follow those of blocks 0..b: scanning rows in
    // order within a block keeps each column's rows sorted.
    let base = indptr_t[cols.start];
    for j in 0..width {
        let mut at = (indptr_t[cols.start + j] - base) as usize;
        for cursor in cursors.iter_mut() {
            let n = cursor[j];
            cursor[j] = at;
            at += n;
        }
        debug_assert_eq!(at as u64, indptr_t[cols.start + j + 1] - base);
    }
    // Pass 2: scatter.
    let (idx_out, val_out) = (SharedSlice::new(idx), SharedSlice::new(val));
    cursors.par_iter_mut().enumerate().for_each(|(b, cursor)| {
        for r in blocks.rows(b) {
            for k in in_range(r) {
                let slot = &mut cursor[(src_idx[k] - c0) as usize];
                // SAFETY: the slots of (block b, column j) are the interval
                // [cursor_b[j] at start, + count of block b in column j), set
                // above from the counts of pass 1 over the same rows: the
                // intervals of all (block, column) pairs are disjoint and lie
                // in 0..len, so no slot is written twice or out of bounds.
                unsafe {
                    idx_out.write(*slot, r as u32);
                    val_out.write(*slot, src_val[k]);
                }
                *slot += 1;
            }
        }
    });
}

/// A mutable slice that row blocks write at disjoint positions from several threads.
struct SharedSlice<T> {
    ptr: *mut T,
    len: usize,
}

// SAFETY: only `write` touches the memory, and its callers guarantee that no two
// threads write the same position; T is plain data.
unsafe impl<T: Send> Sync for SharedSlice<T> {}

impl<T> SharedSlice<T> {
    fn new(slice: &mut [T]) -> Self {
        SharedSlice {
            ptr: slice.as_mut_ptr(),
            len: slice.len(),
        }
    }

    /// # Safety
    /// No other thread writes position `i` while the slice lives.
    unsafe fn write(&self, i: usize, value: T) {
        assert!(i < self.len, "slot {i} out of bounds {}", self.len);
        // SAFETY: in bounds (checked above); exclusive by the caller's contract.
        unsafe { self.ptr.add(i).write(value) }
    }
}

/// Where a matrix given as X's transpose differs from it
/// ([`transpose_difference`]): at row `row`, column `col` of Xᵀ (row `col`,
/// column `row` of X).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TransposeDifference {
    /// Row of Xᵀ (a column of X).
    pub row: usize,
    /// Column of Xᵀ (a row of X).
    pub col: usize,
    /// Xᵀ's value there, `None` when it stores none.
    pub xt_value: Option<f32>,
    /// X's value at the mirrored place, `None` when it stores none.
    pub x_value: Option<f32>,
}

/// `None` when `xt` stores exactly the entries of `x` transposed, with the
/// same values bit for bit; else where they first differ, in Xᵀ's row order.
/// Both are CSR views (a caller checks storage and shapes first; views of
/// other shapes or counts differ somewhere, and are reported so, never a
/// panic).
///
/// Both matrices are read once, in order and in parallel: each entry
/// (i, j, v) of X, and each of Xᵀ read as (i, j), adds a 64-bit mix of i, j
/// and v's bits to a wrapping sum, the same whatever the order or the
/// thread count. Equal sums are taken as equal matrices (a difference
/// escapes with a chance of about 2⁻⁶⁴); unequal ones are then located
/// exactly, by a walk with one cursor per row of X, which reads X out of
/// order and is only needed for an answer that is an error. (That walk
/// alone, for every call, took 2.3 s on a 300,000 × 102,660 matrix of 70 M
/// non-zeros.)
pub fn transpose_difference(x: CsrView<'_>, xt: CsrView<'_>) -> Option<TransposeDifference> {
    if x.shape() == (xt.cols(), xt.rows())
        && x.nnz() == xt.nnz()
        && entries_mix(x, false) == entries_mix(xt, true)
    {
        return None;
    }
    Some(first_difference(x, xt).unwrap_or(TransposeDifference {
        // Only reached by a view that is not CSR: the walk reads rows.
        row: 0,
        col: 0,
        xt_value: None,
        x_value: None,
    }))
}

/// The wrapping sum over the entries of `m` of [`entry_mix`], each entry
/// taken as (row, column), or (column, row) when `transposed`.
fn entries_mix(m: CsrView<'_>, transposed: bool) -> u64 {
    let (indptr, indices, data) = (m.indptr(), m.indices(), m.data());
    (0..m.outer_dims())
        .into_par_iter()
        .with_min_len(256)
        .map(|r| {
            let range = indptr.outer_inds_sz(r);
            let row = r as u64;
            indices[range.clone()]
                .iter()
                .zip(&data[range])
                .fold(0u64, |sum, (&c, &v)| {
                    let (i, j) = if transposed {
                        (c as u64, row)
                    } else {
                        (row, c as u64)
                    };
                    sum.wrapping_add(entry_mix(i, j, v.to_bits()))
                })
        })
        .reduce(|| 0, u64::wrapping_add)
}

/// A 64-bit mix of an entry (row i, column j, value bits): the position and
/// value spread by odd constants, then splitmix64's finalizer.
fn entry_mix(i: u64, j: u64, bits: u32) -> u64 {
    let mut z = (i.rotate_left(32) ^ j).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ u64::from(bits).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The first difference of `xt` from X's transpose, walking Xᵀ's rows in
/// order: they meet each row of X in column order, so one cursor per row
/// of X follows where that row has got to.
fn first_difference(x: CsrView<'_>, xt: CsrView<'_>) -> Option<TransposeDifference> {
    let (xp, xi, xd) = (x.indptr(), x.indices(), x.data());
    let n = x.outer_dims();
    let mut cursor: Vec<usize> = (0..n).map(|i| xp.outer_inds_sz(i).start).collect();
    let differ = |row: usize, col: usize, xt_value, x_value| {
        Some(TransposeDifference {
            row,
            col,
            xt_value,
            x_value,
        })
    };
    for (term, postings) in xt.outer_iterator().enumerate() {
        for (doc, &value) in postings.iter() {
            if doc >= n {
                return differ(term, doc, Some(value), None);
            }
            let at = cursor[doc];
            // X's next entry of this row: at `term`, after it (X skips
            // `term`), or before it (Xᵀ's row of that term did not list
            // this row).
            match (at < xp.outer_inds_sz(doc).end).then(|| (xi[at] as usize, xd[at])) {
                Some((col, v)) if col == term && v.to_bits() == value.to_bits() => cursor[doc] += 1,
                Some((col, v)) if col == term => return differ(term, doc, Some(value), Some(v)),
                Some((col, v)) if col < term => return differ(col, doc, None, Some(v)),
                _ => return differ(term, doc, Some(value), None),
            }
        }
    }
    // Every entry of Xᵀ matched: an entry of X left over has no mirror.
    (0..n).find_map(|i| {
        let at = cursor[i];
        (at < xp.outer_inds_sz(i).end).then(|| TransposeDifference {
            row: xi[at] as usize,
            col: i,
            xt_value: None,
            x_value: Some(xd[at]),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MappedMatrix;

    /// A deterministic 300 × 97 matrix with skewed columns and a few empty rows
    /// and columns.
    fn skewed() -> CsrMatrix {
        let (nrows, ncols) = (300usize, 97usize);
        let mut indptr = vec![0u64];
        let (mut indices, mut data) = (Vec::new(), Vec::new());
        let mut state = 12345u64;
        for r in 0..nrows {
            for c in 0..ncols {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = (state >> 33) as f64 / (1u64 << 31) as f64;
                // Column c is kept with probability about 1 / (1 + c / 8); column
                // 50 and rows divisible by 37 stay empty.
                if c != 50 && r % 37 != 0 && u * (1.0 + c as f64 / 8.0) < 1.0 {
                    indices.push(c as u32);
                    data.push((r * ncols + c) as f32 + 0.5);
                }
            }
            indptr.push(indices.len() as u64);
        }
        CsrMatrix::new((nrows, ncols), indptr, indices, data)
    }

    #[test]
    fn several_column_ranges_and_threads_give_the_in_memory_transpose() {
        let m = skewed();
        let expected = transpose(m.view());
        let largest_column = (0..expected.rows())
            .map(|j| expected.outer_view(j).unwrap().nnz())
            .max()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        // 64 bytes: 8 entries per range, below the largest column (a range of
        // one oversized column); 2 KiB: several columns per range; the default:
        // one range.
        for buffer in [64, 2048, DEFAULT_TRANSPOSE_BUFFER] {
            let ranges = column_ranges(&column_pointers(m.indices(), m.cols()).unwrap(), buffer, 2);
            assert!(
                buffer == DEFAULT_TRANSPOSE_BUFFER || ranges.len() > 5,
                "{buffer}: {ranges:?}"
            );
            for threads in [1, 2, 3] {
                let path = dir.path().join(format!("t-{buffer}-{threads}.csr"));
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let summary = pool
                    .install(|| write_transpose_buffered(&path, m.view(), buffer))
                    .unwrap();
                assert_eq!(
                    (summary.nrows, summary.ncols, summary.nnz),
                    (97, 300, m.nnz() as u64)
                );
                let mapped = MappedMatrix::open(&path).unwrap();
                mapped.verify().unwrap();
                assert_eq!(mapped.view(), expected.view());
                files.push(std::fs::read(&path).unwrap());
            }
        }
        assert!(
            largest_column > 8,
            "the 64-byte buffer must be exceeded by one column"
        );
        assert!(
            files.windows(2).all(|w| w[0] == w[1]),
            "the bytes depend on the buffer or threads"
        );
    }

    #[test]
    fn ranges_cover_the_columns_within_the_budget() {
        let m = skewed();
        let ptr = column_pointers(m.indices(), m.cols()).unwrap();
        for (buffer, blocks) in [(64, 1), (800, 2), (4096, 4), (1 << 20, 2)] {
            let ranges = column_ranges(&ptr, buffer, blocks);
            assert_eq!(ranges.first().unwrap().start, 0);
            assert_eq!(ranges.last().unwrap().end, m.cols());
            for w in ranges.windows(2) {
                assert_eq!(w[0].end, w[1].start);
            }
            for r in &ranges {
                let entries = ptr[r.end] - ptr[r.start];
                assert!(
                    r.len() == 1
                        || (entries * 8 <= buffer as u64 && r.len() * 64 * blocks <= buffer),
                    "{buffer}: {r:?} holds {entries}"
                );
            }
        }
    }

    /// QA defect 8: the transpose writer wrote NaN, infinite and negative
    /// values (the file opened, verify failed); it refuses them as
    /// `MatrixWriter::push_row` does, naming the transpose's row, and
    /// leaves no file, whatever the buffer (the bad value in the first or
    /// a later column range).
    #[test]
    fn bad_values_are_refused_naming_the_row_of_the_transpose() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csr");
        for (v, kind) in [
            (f32::NAN, "NaN"),
            (f32::INFINITY, "infinite"),
            (-2.0, "negative"),
        ] {
            let mut m = skewed();
            // Row 5's last entry, at column c: row c, column 5 of the transpose.
            let k = m.indptr().outer_inds_sz(5).end - 1;
            let c = m.indices()[k];
            assert!(c > 8, "a column in a later range of the 64-byte buffer");
            m.data_mut()[k] = v;
            for buffer in [64, DEFAULT_TRANSPOSE_BUFFER] {
                let err = write_transpose_buffered(&path, m.view(), buffer).unwrap_err();
                assert!(
                    matches!(err, SparseError::InvalidRow { row, .. } if row == u64::from(c)),
                    "{err:?}"
                );
                assert_eq!(
                    err.to_string(),
                    format!(
                        "{}: row {c}: value {v} at column 5 is {kind} (the entry at row 5, \
                         column {c} of the matrix transposed)",
                        path.display()
                    )
                );
                assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
            }
        }
    }

    /// QA defect 9: the transpose's row pointers, 8 bytes per column, are
    /// sized by a shape that may come from a damaged header; the writer
    /// allocates them fallibly (it aborted), the in-memory transpose
    /// panics saying why. 2^32 - 1 columns need 34 GB: a machine that
    /// might allocate them skips the test.
    #[test]
    fn row_pointers_beyond_memory_are_too_large() {
        let ncols = u32::MAX as usize;
        if !topicmill_testdata::beyond_memory(8 * ncols as u64) {
            return;
        }
        let (indptr, indices, data) = ([0u64, 1], [7u32], [1.0f32]);
        let m = CsrView::new((1, ncols), &indptr[..], &indices[..], &data[..]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csr");
        let err = write_transpose(&path, m).unwrap_err();
        assert!(matches!(err, SparseError::TooLarge { .. }), "{err:?}");
        assert!(
            err.to_string().starts_with(&format!(
                "{}: the transpose of a 1 x {ncols} matrix: cannot allocate its {} row pointers",
                path.display(),
                ncols + 1
            )),
            "{err}"
        );
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
        let panic = std::panic::catch_unwind(|| transpose(m)).unwrap_err();
        let msg = panic.downcast::<String>().unwrap();
        assert!(
            msg.starts_with("transpose: cannot allocate the row pointers"),
            "{msg}"
        );
    }

    /// The vectorizable check accepts exactly what `value_problem` does.
    #[test]
    fn all_valid_agrees_with_value_problem() {
        let specials = [
            0.0,
            -0.0,
            f32::MIN_POSITIVE / 4.0,
            1.0,
            f32::MAX,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            -f32::NAN,
            -1.0,
            -f32::MIN_POSITIVE / 4.0,
        ];
        for v in specials {
            let mut values = vec![1.0f32; 5000];
            values[4321] = v;
            assert_eq!(all_valid(&values), value_problem(v).is_none(), "{v}");
        }
    }

    #[test]
    fn empty_matrices_transpose() {
        let dir = tempfile::tempdir().unwrap();
        for (r, c) in [(0, 0), (0, 5), (4, 0), (3, 3)] {
            let m = CsrMatrix::new((r, c), vec![0; r + 1], vec![], vec![]);
            let path = dir.path().join(format!("e{r}{c}.csr"));
            write_transpose_buffered(&path, m.view(), 64).unwrap();
            let mapped = MappedMatrix::open(&path).unwrap();
            mapped.verify().unwrap();
            assert_eq!(mapped.shape(), (c, r));
        }
    }

    /// `transpose_difference`: a matrix and its transpose (whole, and a row
    /// block whose pointers start above 0) agree, whatever the thread
    /// count; every kind of change is found and located, the first in Xᵀ's
    /// row order.
    #[test]
    fn a_transpose_is_told_from_other_matrices() {
        // X (3 × 4): row 0 [1, 0, 2, 0], row 1 [0, 3, 0, 0], row 2 [4, 0, 0, 5].
        let x = CsrMatrix::new(
            (3, 4),
            vec![0u64, 2, 3, 5],
            vec![0, 2, 1, 0, 3],
            vec![1.0, 2.0, 3.0, 4.0, 5.0],
        );
        let xt = transpose(x.view());
        assert_eq!(transpose_difference(x.view(), xt.view()), None);
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mixes =
                pool.install(|| (entries_mix(x.view(), false), entries_mix(xt.view(), true)));
            assert_eq!(mixes.0, mixes.1);
            assert_eq!(mixes.0, entries_mix(x.view(), false));
        }
        let block = x.slice_outer(1..3);
        assert_eq!(transpose_difference(block, transpose(block).view()), None);
        // Xᵀ (4 × 3) with one array changed.
        let (p, i, d) = (
            xt.indptr().raw_storage().to_vec(),
            xt.indices().to_vec(),
            xt.data().to_vec(),
        );
        let diff = |p: Vec<u64>, i: Vec<u32>, d: Vec<f32>| {
            let shape = (p.len() - 1, 3);
            let t = CsrMatrix::new(shape, p, i, d);
            transpose_difference(x.view(), t.view())
        };
        let at = |row, col, xt_value, x_value| {
            Some(TransposeDifference {
                row,
                col,
                xt_value,
                x_value,
            })
        };
        // Xᵀ's rows: 0 [1 (doc 0), 4 (doc 2)], 1 [3 (doc 1)], 2 [2 (doc 0)], 3 [5 (doc 2)].
        let mut other = d.clone();
        other[2] = 3.5;
        assert_eq!(
            diff(p.clone(), i.clone(), other),
            at(1, 1, Some(3.5), Some(3.0))
        );
        let mut nan = d.clone();
        nan[4] = f32::NAN;
        let found = diff(p.clone(), i.clone(), nan).unwrap();
        assert!(found.xt_value.unwrap().is_nan() && (found.row, found.col) == (3, 2));
        // -0 is another value bit for bit (X holds none; a stored zero).
        let z = CsrMatrix::new((1, 1), vec![0u64, 1], vec![0], vec![0.0]);
        let nz = CsrMatrix::new((1, 1), vec![0u64, 1], vec![0], vec![-0.0]);
        assert!(transpose_difference(z.view(), nz.view()).is_some());
        // Doc 2's entry of term 0 moved to doc 1: Xᵀ lists doc 1 where X
        // has nothing.
        let mut moved = i.clone();
        moved[1] = 1;
        assert_eq!(diff(p.clone(), moved, d.clone()), at(0, 1, Some(4.0), None));
        // Term 2's entry given to term 1 (same count): at term 1, doc 0, X's
        // next entry of row 0 is at term 2.
        assert_eq!(
            diff(
                vec![0, 2, 4, 4, 5],
                vec![0, 2, 0, 1, 2],
                vec![1.0, 4.0, 2.0, 3.0, 5.0]
            ),
            at(1, 0, Some(2.0), None)
        );
        // Fewer entries: term 3's gone; X's (2, 3) is left over.
        assert_eq!(
            diff(vec![0, 2, 3, 4, 4], i[..4].to_vec(), d[..4].to_vec()),
            at(3, 2, None, Some(5.0))
        );
        // Another shape: a column too many.
        let wide = CsrMatrix::new((4, 4), p.clone(), i.clone(), d.clone());
        assert!(transpose_difference(x.view(), wide.view()).is_some());
        // X given as its own transpose (square, same count).
        let sq = CsrMatrix::new((2, 2), vec![0u64, 1, 2], vec![1, 1], vec![1.0, 1.0]);
        assert_eq!(
            transpose_difference(sq.view(), sq.view()),
            at(0, 1, Some(1.0), None)
        );
    }
}
