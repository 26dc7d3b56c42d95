//! Building CSR from coordinate entries in any order (shared by the MatrixMarket
//! and UCI readers).

use std::path::Path;

use crate::error::SparseError;
use crate::input::{fields, parse_u64, Lines};
use crate::CsrMatrix;

/// Coordinate entries with 0-based row and column.
#[derive(Debug, Default)]
pub(crate) struct Coo {
    pub rows: Vec<u32>,
    pub cols: Vec<u32>,
    pub vals: Vec<f32>,
}

impl Coo {
    pub fn with_capacity(n: u64) -> Self {
        // The declared count comes from the file: do not trust it with memory.
        let n = n.min(1 << 24) as usize;
        Coo {
            rows: Vec::with_capacity(n),
            cols: Vec::with_capacity(n),
            vals: Vec::with_capacity(n),
        }
    }

    pub fn push(&mut self, row: u32, col: u32, val: f32) {
        self.rows.push(row);
        self.cols.push(col);
        self.vals.push(val);
    }

    /// CSR by counting sort on rows, then a sort of each row by column. Duplicate
    /// (row, column) pairs are an error: the input is rescanned (from
    /// `first_entry_line` on) to name the lines of both occurrences.
    ///
    /// The row pointers (8 bytes per row, and as much again for the sort's
    /// cursors) are sized by the row count the file declares on `rows_line`:
    /// allocated fallibly, a count beyond memory is [`SparseError::TooLarge`]
    /// naming that line, not an abort.
    pub fn into_csr(
        self,
        path: &Path,
        (nrows, ncols): (usize, usize),
        rows_line: u64,
        first_entry_line: u64,
    ) -> Result<CsrMatrix, SparseError> {
        let nnz = self.rows.len();
        let too_large = |e: std::collections::TryReserveError| SparseError::TooLarge {
            path: path.to_path_buf(),
            message: format!(
                "line {rows_line}: {nrows} rows: cannot allocate their row pointers ({e})"
            ),
        };
        let mut indptr: Vec<u64> = Vec::new();
        indptr.try_reserve_exact(nrows + 1).map_err(too_large)?;
        indptr.resize(nrows + 1, 0);
        for &r in &self.rows {
            indptr[r as usize + 1] += 1;
        }
        for i in 0..nrows {
            indptr[i + 1] += indptr[i];
        }
        let mut cursor: Vec<u64> = Vec::new();
        cursor.try_reserve_exact(nrows).map_err(too_large)?;
        cursor.extend_from_slice(&indptr[..nrows]);
        let mut entries: Vec<(u32, f32)> = vec![(0, 0.0); nnz];
        for k in 0..nnz {
            let r = self.rows[k] as usize;
            entries[cursor[r] as usize] = (self.cols[k], self.vals[k]);
            cursor[r] += 1;
        }
        drop(self);
        for r in 0..nrows {
            let row = &mut entries[indptr[r] as usize..indptr[r + 1] as usize];
            if !row.windows(2).all(|w| w[0].0 < w[1].0) {
                row.sort_unstable_by_key(|e| e.0);
                if let Some(w) = row.windows(2).find(|w| w[0].0 == w[1].0) {
                    let col = w[0].0;
                    return Err(duplicate(path, first_entry_line, r as u32, col));
                }
            }
        }
        let (indices, data): (Vec<u32>, Vec<f32>) = entries.into_iter().unzip();
        // SAFETY: indptr is the prefix sum of per-row counts (starts at 0, is
        // non-decreasing, ends at nnz = indices.len() = data.len()); callers only
        // push columns < ncols (checked while parsing); each row was sorted above and
        // checked free of duplicates, so indices are strictly increasing per row.
        let m = unsafe {
            CsrMatrix::new_unchecked(
                sprs::CompressedStorage::CSR,
                (nrows, ncols),
                indptr,
                indices,
                data,
            )
        };
        Ok(m)
    }
}

/// Find the lines of the first two occurrences of the 0-based (row, col) entry.
pub(crate) fn duplicate(path: &Path, first_entry_line: u64, row: u32, col: u32) -> SparseError {
    let (want_r, want_c) = (u64::from(row) + 1, u64::from(col) + 1);
    let mut found: Vec<u64> = Vec::with_capacity(2);
    if let Ok(mut lines) = Lines::open(path) {
        while let Ok(Some((n, line))) = lines.next_line() {
            if n < first_entry_line || line.first() == Some(&b'%') {
                continue;
            }
            let mut f = fields(line);
            let r = f.next().and_then(parse_u64);
            let c = f.next().and_then(parse_u64);
            if r == Some(want_r) && c == Some(want_c) {
                found.push(n);
                if found.len() == 2 {
                    break;
                }
            }
        }
    }
    SparseError::DuplicateEntry {
        path: path.to_path_buf(),
        line: found.get(1).copied().unwrap_or(0),
        first_line: found.first().copied().unwrap_or(0),
        row: want_r,
        col: want_c,
    }
}
