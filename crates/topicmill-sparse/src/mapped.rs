//! Opening matrix files as zero-copy `sprs` views over a memory map.

use std::fs::File;
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
/// The file must not be modified while it is mapped. topicmill never modifies a
/// matrix file in place: writers create a new file and rename it over the old one,
/// which leaves existing maps on the old inode.
#[derive(Debug)]
pub struct MappedMatrix {
    path: PathBuf,
    map: Mmap,
    header: Header,
}

impl MappedMatrix {
    /// Map `path` and check its header and structure (see the type docs).
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
        let matrix = MappedMatrix {
            path: path.to_path_buf(),
            map,
            header,
        };
        matrix.check_structure()?;
        Ok(matrix)
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

    pub(crate) fn indptr(&self) -> &[u64] {
        cast(&self.map[self.header.indptr.range()])
    }

    pub(crate) fn indices(&self) -> &[u32] {
        cast(&self.map[self.header.indices.range()])
    }

    pub(crate) fn data(&self) -> &[f32] {
        cast(&self.map[self.header.data.range()])
    }

    /// A CSR view over the mapped bytes: nothing is copied.
    pub fn view(&self) -> CsrView<'_> {
        // SAFETY: `check_structure`, run by `open` before any `MappedMatrix` exists,
        // established everything `sprs` assumes of a CSR matrix: indptr has nrows+1
        // entries, starts at 0, is non-decreasing and ends at nnz = indices.len() =
        // data.len() (header section lengths); every index is < ncols <= u32::MAX
        // and indices are strictly increasing within each row. The map is immutable.
        unsafe {
            CsrView::new_unchecked(
                sprs::CompressedStorage::CSR,
                self.shape(),
                self.indptr(),
                self.indices(),
                self.data(),
            )
        }
    }

    /// The full check: the checksum first (it catches any corruption), then that
    /// every value is finite and non-negative.
    pub fn verify(&self) -> Result<(), SparseError> {
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
        let data = self.data();
        if let Some(pos) = data.iter().position(|&v| value_problem(v).is_some()) {
            let value = data[pos];
            let indptr = self.indptr();
            // The row holding entry `pos`: the last row whose start is <= pos.
            let row = indptr.partition_point(|&p| p <= pos as u64) - 1;
            return Err(SparseError::InvalidValue {
                path: self.path.clone(),
                place: format!(
                    "section data, byte offset {}, row {row}, column {}",
                    self.header.data.offset + 4 * pos as u64,
                    self.indices()[pos]
                ),
                value: f64::from(value),
                kind: value_problem(value).expect("checked above"),
            });
        }
        Ok(())
    }

    /// O(rows + nnz) structure check; see the type docs.
    fn check_structure(&self) -> Result<(), SparseError> {
        let h = &self.header;
        let indptr = self.indptr();
        let indices = self.indices();
        let at_ptr = |row: usize| h.indptr.offset + 8 * row as u64;
        let bad_ptr = |row: usize, message: String| SparseError::BadRowPointer {
            path: self.path.clone(),
            offset: at_ptr(row),
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
        let ncols = h.ncols;
        for row in 0..nrows {
            let (start, end) = (indptr[row], indptr[row + 1]);
            if end < start {
                return Err(bad_ptr(
                    row + 1,
                    format!("row pointer decreases from {start} to {end}"),
                ));
            }
            // end <= nnz: pointers are non-decreasing up to here and the last is nnz;
            // a larger `end` would make a later pointer decrease. Check it anyway so
            // the slice below cannot panic before that later check runs.
            if end > h.nnz {
                return Err(bad_ptr(
                    row + 1,
                    format!("row pointer {end} exceeds nnz = {}", h.nnz),
                ));
            }
            let row_indices = &indices[start as usize..end as usize];
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
