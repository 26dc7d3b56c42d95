//! Opening matrix files as zero-copy `sprs` views over a memory map.

use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::error::{value_problem, SparseError};
use crate::format::{ensure_little_endian, Header, FOOTER_LEN};
use crate::CsrView;

/// A matrix file mapped into memory; [`view`](MappedMatrix::view) borrows it.
///
/// [`open`](MappedMatrix::open) checks, in O(rows + nnz) and without copying:
/// the header (length, magic, version, dtypes, section bounds and alignment) and
/// the structure (row pointers start at 0, never decrease and end at nnz; column
/// indices are below ncols and strictly increasing within each row). These are
/// exactly the invariants `sprs` relies on for memory safety, so the view can be
/// built without `sprs` checking them a second time.
///
/// [`verify`](MappedMatrix::verify) is the explicit, full check: the CRC-32 of the
/// whole file and the values (no NaN, infinity or negative number). It reads every
/// byte of the data section, which most consumers never need to do up front; and a
/// bad value cannot make the program unsafe, only the model wrong.
///
/// The checksum also covers the header: until `verify`, the shape is trusted
/// as far as the structure checks go. A damaged column count (any up to
/// 2³² − 1 fits every column index) opens, and whatever allocates per column
/// then asks for that much memory: [`write_transpose`](crate::write_transpose)
/// fails with [`SparseError::TooLarge`] when it cannot have it, the in-memory
/// [`transpose`](crate::transpose) panics.
///
/// To read only some rows of a large file (one rank of a distributed job), use
/// [`MappedRows`], which checks the column indices of a block when it is asked for.
///
/// The file must not be modified while it is mapped. topicmill never modifies a
/// matrix file in place: writers create a new file and rename it over the old one,
/// which leaves existing maps on the old inode.
#[derive(Debug)]
pub struct MappedMatrix {
    rows: MappedRows,
}

impl MappedMatrix {
    /// Map `path` and check its header and structure (see the type docs).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SparseError> {
        let rows = MappedRows::open(path)?;
        rows.check_columns(0..rows.header.nrows as usize)?;
        Ok(MappedMatrix { rows })
    }

    /// The path this matrix was opened from.
    pub fn path(&self) -> &Path {
        self.rows.path()
    }

    /// (rows, columns).
    pub fn shape(&self) -> (usize, usize) {
        self.rows.shape()
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.rows.nnz()
    }

    /// Size of the file in bytes.
    pub fn file_len(&self) -> u64 {
        self.rows.file_len()
    }

    /// A CSR view over the mapped bytes: nothing is copied.
    pub fn view(&self) -> CsrView<'_> {
        // SAFETY: `open` checked the row pointers and the column indices of every
        // row before any `MappedMatrix` exists (see `MappedRows::view_unchecked`).
        unsafe { self.rows.view_unchecked(0..self.rows.header.nrows as usize) }
    }

    /// The whole file as [`MappedRows`], for the checks that take a row range
    /// (the values alone: [`Corpus::check_values`](crate::Corpus::check_values)).
    pub(crate) fn rows(&self) -> &MappedRows {
        &self.rows
    }

    /// The full check: the checksum first (it catches any corruption), then that
    /// every value is finite and non-negative.
    pub fn verify(&self) -> Result<(), SparseError> {
        self.rows.verify_checksum()?;
        self.rows.check_values(0..self.rows.header.nrows as usize)
    }
}

/// A matrix file mapped into memory, of which a reader uses some rows only: a
/// rank of a distributed fit maps the whole file but touches the pages of its
/// own rows and of the row pointers, nothing else.
///
/// [`open`](MappedRows::open) checks the header and the row pointers (O(rows),
/// the indptr section only). [`block`](MappedRows::block) checks the column
/// indices of the rows asked for (O(their non-zeros)) and returns them as a
/// CSR view; [`check_values`](MappedRows::check_values) checks their values.
/// The same rules as [`MappedMatrix`]'s apply to the file.
#[derive(Debug)]
pub struct MappedRows {
    path: PathBuf,
    map: Mmap,
    header: Header,
}

impl MappedRows {
    /// Map `path` and check its header and row pointers.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SparseError> {
        let path = path.as_ref();
        ensure_little_endian(path)?;
        let file = File::open(path).map_err(|e| SparseError::io(path, "cannot open", e))?;
        let len = file
            .metadata()
            .map_err(|e| SparseError::io(path, "cannot stat", e))?
            .len();
        if len == 0 {
            // mmap refuses empty files; report it as what it is.
            return Err(SparseError::Truncated {
                path: path.to_path_buf(),
                expected: crate::format::HEADER_LEN + FOOTER_LEN,
                actual: 0,
                what: "shorter than a header and footer",
            });
        }
        // SAFETY: the map is read-only and topicmill never writes to a matrix file
        // in place (writes go to a temporary file renamed over the target), so the
        // bytes do not change under us unless another program breaks that rule,
        // which the type docs forbid.
        let map =
            unsafe { Mmap::map(&file) }.map_err(|e| SparseError::io(path, "cannot map", e))?;
        let header = Header::decode(path, &map)?;
        let rows = MappedRows {
            path: path.to_path_buf(),
            map,
            header,
        };
        rows.check_row_pointers()?;
        Ok(rows)
    }

    /// The path this matrix was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// (rows, columns).
    pub fn shape(&self) -> (usize, usize) {
        (self.header.nrows as usize, self.header.ncols as usize)
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.header.nnz as usize
    }

    /// Size of the file in bytes.
    pub fn file_len(&self) -> u64 {
        self.header.file_len
    }

    /// The row pointers of the whole matrix (rows + 1 values, checked by `open`:
    /// they start at 0, never decrease and end at nnz), for example to split the
    /// rows into blocks balanced by non-zeros.
    pub fn indptr(&self) -> &[u64] {
        cast(&self.map[self.header.indptr.range()])
    }

    fn indices(&self) -> &[u32] {
        cast(&self.map[self.header.indices.range()])
    }

    fn data(&self) -> &[f32] {
        cast(&self.map[self.header.data.range()])
    }

    /// Rows `rows` as a CSR view (`rows.len()` × ncols) over the mapped bytes,
    /// after checking their column indices (below ncols, strictly increasing
    /// within each row). Nothing is copied; each call checks again, so keep the
    /// view rather than asking twice.
    pub fn block(&self, rows: Range<usize>) -> Result<CsrView<'_>, SparseError> {
        self.check_columns(rows.clone())?;
        // SAFETY: `open` checked the row pointers and `check_columns` the
        // column indices of exactly these rows.
        Ok(unsafe { self.view_unchecked(rows) })
    }

    /// Checks that every value of rows `rows` is finite and non-negative; the
    /// error names the byte offset, row and column of the first that is not.
    pub fn check_values(&self, rows: Range<usize>) -> Result<(), SparseError> {
        self.check_range(&rows)?;
        let indptr = self.indptr();
        let (lo, hi) = (indptr[rows.start] as usize, indptr[rows.end] as usize);
        let data = &self.data()[lo..hi];
        let Some(local) = data.iter().position(|&v| value_problem(v).is_some()) else {
            return Ok(());
        };
        let pos = lo + local;
        let value = data[local];
        // The row holding entry `pos`: the last row whose start is <= pos.
        let row = indptr.partition_point(|&p| p <= pos as u64) - 1;
        Err(SparseError::InvalidValue {
            path: self.path.clone(),
            place: format!(
                "section data, byte offset {}, row {row}, column {}",
                self.header.data.offset + 4 * pos as u64,
                self.indices()[pos]
            ),
            value: f64::from(value),
            kind: value_problem(value).expect("checked above"),
        })
    }

    /// The CRC-32 of everything before the footer against the stored one.
    fn verify_checksum(&self) -> Result<(), SparseError> {
        let footer = self.header.footer_offset();
        let computed = crate::writer::crc32_parallel(&self.map[..footer as usize]);
        let stored = u32::from_le_bytes(
            self.map[footer as usize..footer as usize + 4]
                .try_into()
                .expect("4 bytes"),
        );
        if stored != computed {
            return Err(SparseError::ChecksumMismatch {
                path: self.path.clone(),
                offset: footer,
                stored,
                computed,
            });
        }
        Ok(())
    }

    /// The view of rows `rows`, sliced as `sprs` slices a row block: the row
    /// pointers `indptr[start..=end]` (not starting at 0 unless `start` is 0)
    /// and the indices and values between `indptr[start]` and `indptr[end]`.
    ///
    /// # Safety
    /// `rows` lies within the matrix and `check_columns` succeeded on (a range
    /// containing) `rows`. With the row pointers `open` checked, that is
    /// everything `sprs` assumes of a CSR matrix: rows + 1 pointers, non-
    /// decreasing, whose first and last delimit the index and value slices;
    /// every index < ncols <= u32::MAX, strictly increasing within each row. The
    /// map is immutable.
    unsafe fn view_unchecked(&self, rows: Range<usize>) -> CsrView<'_> {
        let indptr = &self.indptr()[rows.start..=rows.end];
        let (lo, hi) = (indptr[0] as usize, indptr[rows.len()] as usize);
        // SAFETY: see the function's contract.
        unsafe {
            CsrView::new_unchecked(
                sprs::CompressedStorage::CSR,
                (rows.len(), self.header.ncols as usize),
                indptr,
                &self.indices()[lo..hi],
                &self.data()[lo..hi],
            )
        }
    }

    fn check_range(&self, rows: &Range<usize>) -> Result<(), SparseError> {
        if rows.start > rows.end || rows.end as u64 > self.header.nrows {
            return Err(SparseError::RowsOutOfRange {
                path: self.path.clone(),
                start: rows.start as u64,
                end: rows.end as u64,
                nrows: self.header.nrows,
            });
        }
        Ok(())
    }

    /// O(rows) check of the row pointers; see the type docs.
    fn check_row_pointers(&self) -> Result<(), SparseError> {
        let h = &self.header;
        let indptr = self.indptr();
        let bad_ptr = |row: usize, message: String| SparseError::BadRowPointer {
            path: self.path.clone(),
            offset: h.indptr.offset + 8 * row as u64,
            row: row as u64,
            message,
        };
        if indptr[0] != 0 {
            return Err(bad_ptr(
                0,
                format!("first row pointer is {}, not 0", indptr[0]),
            ));
        }
        let nrows = indptr.len() - 1;
        if indptr[nrows] != h.nnz {
            return Err(bad_ptr(
                nrows,
                format!("last row pointer is {}, not nnz = {}", indptr[nrows], h.nnz),
            ));
        }
        // With the first pointer 0 and the last nnz, non-decreasing pointers all
        // lie in 0..=nnz, so every row's slice is inside the sections.
        if let Some(row) = indptr.windows(2).position(|w| w[1] < w[0]) {
            return Err(bad_ptr(
                row + 1,
                format!(
                    "row pointer decreases from {} to {}",
                    indptr[row],
                    indptr[row + 1]
                ),
            ));
        }
        Ok(())
    }

    /// O(nnz of the rows) check of the column indices of rows `rows`; the row
    /// pointers must have been checked.
    fn check_columns(&self, rows: Range<usize>) -> Result<(), SparseError> {
        self.check_range(&rows)?;
        let h = &self.header;
        let indptr = self.indptr();
        let indices = self.indices();
        let ncols = h.ncols;
        for row in rows {
            let start = indptr[row];
            let row_indices = &indices[start as usize..indptr[row + 1] as usize];
            let mut previous: Option<u32> = None;
            for (k, &col) in row_indices.iter().enumerate() {
                let offset = h.indices.offset + 4 * (start + k as u64);
                if u64::from(col) >= ncols {
                    return Err(SparseError::ColumnOutOfRange {
                        path: self.path.clone(),
                        offset,
                        row: row as u64,
                        col: u64::from(col),
                        ncols,
                    });
                }
                if let Some(p) = previous {
                    if col == p {
                        return Err(SparseError::DuplicateColumn {
                            path: self.path.clone(),
                            offset,
                            row: row as u64,
                            col: u64::from(col),
                        });
                    }
                    if col < p {
                        return Err(SparseError::UnsortedColumns {
                            path: self.path.clone(),
                            offset,
                            row: row as u64,
                            previous: u64::from(p),
                            col: u64::from(col),
                        });
                    }
                }
                previous = Some(col);
            }
        }
        Ok(())
    }
}

/// Cast a 64-byte-aligned section of the map. The header check guarantees the
/// alignment (sections start at multiples of 64, the map at a page boundary) and
/// the length (a multiple of the element size), so failure is a bug.
fn cast<T: bytemuck::AnyBitPattern>(bytes: &[u8]) -> &[T] {
    bytemuck::try_cast_slice(bytes).expect("sections are aligned and sized by the header check")
}
