//! Writing matrix files: the row-streaming [`MatrixWriter`], [`write_matrix`], and
//! the helpers every writer shares (atomic replace, checksum).

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::error::{require_csr, value_problem, SparseError};
use crate::format::{encode_footer, ensure_little_endian, Header, HEADER_LEN};
use crate::CsrView;

/// What a finished write produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatrixSummary {
    /// Number of rows.
    pub nrows: u64,
    /// Number of columns.
    pub ncols: u64,
    /// Number of stored entries.
    pub nnz: u64,
    /// Size of the file in bytes.
    pub file_len: u64,
}

/// Writes a matrix file one row at a time, without holding the rows.
///
/// Column indices go straight to a temporary file next to the target, values to an
/// anonymous spill file in the same directory; only the row pointers stay in
/// memory (8 bytes per row, so memory is O(rows), never O(nnz)). [`finish`]
/// appends the values and row pointers, writes header and checksum, syncs and
/// renames the temporary file over `path`. Until then, and whenever an error
/// occurs or the writer is dropped, `path` is untouched and the temporary files
/// are removed.
///
/// Rows must have strictly increasing column indices below `ncols` and finite,
/// non-negative values; a bad row is rejected with [`SparseError::InvalidRow`]
/// and the writer stays usable. At most `u32::MAX` rows (so that the transpose's
/// column indices fit in `u32`).
///
/// [`finish`]: MatrixWriter::finish
#[derive(Debug)]
pub struct MatrixWriter {
    path: PathBuf,
    ncols: u64,
    indices: CrcWriter<BufWriter<NamedTempFile>>,
    data: BufWriter<File>,
    indptr: Vec<u64>,
    /// Set when a write failed part-way through a row: the temporary file no
    /// longer matches `indptr`, so every later call fails instead of going on.
    poisoned: bool,
}

impl MatrixWriter {
    /// Start writing a matrix with `ncols` columns to `path`.
    pub fn create(path: impl AsRef<Path>, ncols: usize) -> Result<Self, SparseError> {
        let path = path.as_ref().to_path_buf();
        ensure_little_endian(&path)?;
        if ncols as u64 > u64::from(u32::MAX) {
            return Err(SparseError::TooLarge {
                path,
                message: format!("{ncols} columns exceed the u32 column-index limit"),
            });
        }
        let dir = parent_dir(&path);
        let tmp = crate::atomic_temp_builder(".topicmill-tmp-")
            .tempfile_in(dir)
            .map_err(|e| {
                SparseError::io(dir, "cannot create a temporary file in this directory", e)
            })?;
        let spill = tempfile::tempfile_in(dir)
            .map_err(|e| SparseError::io(dir, "cannot create a spill file in this directory", e))?;
        let mut indices = CrcWriter::new(BufWriter::with_capacity(1 << 20, tmp));
        // The header is written last, once the shape is known; reserve its bytes.
        indices
            .inner
            .write_all(&[0u8; HEADER_LEN as usize])
            .map_err(|e| SparseError::io(&path, "cannot write", e))?;
        Ok(MatrixWriter {
            path,
            ncols: ncols as u64,
            indices,
            data: BufWriter::with_capacity(1 << 20, spill),
            indptr: vec![0],
            poisoned: false,
        })
    }

    /// Rows pushed so far.
    pub fn nrows(&self) -> usize {
        self.indptr.len() - 1
    }

    /// Number of columns.
    pub fn ncols(&self) -> u64 {
        self.ncols
    }

    /// Entries pushed so far.
    pub fn nnz(&self) -> u64 {
        *self.indptr.last().expect("indptr starts with 0")
    }

    /// Append one row: sorted column indices and their values.
    pub fn push_row(&mut self, indices: &[u32], values: &[f32]) -> Result<(), SparseError> {
        self.check_poisoned()?;
        let row = self.nrows() as u64;
        let invalid = |message: String| SparseError::InvalidRow {
            path: self.path.clone(),
            row,
            message,
        };
        if indices.len() != values.len() {
            return Err(invalid(format!(
                "{} column indices but {} values",
                indices.len(),
                values.len()
            )));
        }
        if row >= u64::from(u32::MAX) {
            return Err(SparseError::TooLarge {
                path: self.path.clone(),
                message: format!("more than {} rows", u32::MAX),
            });
        }
        for (k, &col) in indices.iter().enumerate() {
            if u64::from(col) >= self.ncols {
                return Err(invalid(format!(
                    "column index {col} >= ncols {}",
                    self.ncols
                )));
            }
            if k > 0 && col <= indices[k - 1] {
                return Err(invalid(format!(
                    "column indices must be strictly increasing: {col} follows {}",
                    indices[k - 1]
                )));
            }
        }
        if let Some(k) = values.iter().position(|&v| value_problem(v).is_some()) {
            return Err(invalid(format!(
                "value {} at column {} is {}",
                values[k],
                indices[k],
                value_problem(values[k]).expect("checked")
            )));
        }
        // The row pointers are the writer's only memory: a row count from an
        // untrusted header (D of a docword file) may exceed it.
        self.indptr
            .try_reserve(1)
            .map_err(|e| SparseError::TooLarge {
                path: self.path.clone(),
                message: format!(
                    "row {row}: cannot allocate the row pointers of {} rows ({e})",
                    row + 1
                ),
            })?;
        self.poisoned = true;
        self.indices
            .write_all(bytemuck::cast_slice(indices))
            .map_err(|e| SparseError::io(&self.path, "cannot write", e))?;
        self.data
            .write_all(bytemuck::cast_slice(values))
            .map_err(|e| {
                SparseError::io(&self.path, "cannot write the spill file of this matrix", e)
            })?;
        self.poisoned = false;
        let nnz = self.nnz() + indices.len() as u64;
        self.indptr.push(nnz);
        Ok(())
    }

    fn check_poisoned(&self) -> Result<(), SparseError> {
        if self.poisoned {
            return Err(SparseError::InvalidRow {
                path: self.path.clone(),
                row: self.nrows() as u64,
                message: "an earlier write failed: this writer cannot continue".to_string(),
            });
        }
        Ok(())
    }

    /// Assemble the file and rename it into place.
    pub fn finish(self) -> Result<MatrixSummary, SparseError> {
        self.check_poisoned()?;
        let MatrixWriter {
            path,
            ncols,
            mut indices,
            data,
            indptr,
            poisoned: _,
        } = self;
        let io = |action: &'static str| {
            let path = path.clone();
            move |e: std::io::Error| SparseError::io(&path, action, e)
        };
        let nrows = indptr.len() as u64 - 1;
        let nnz = *indptr.last().expect("indptr starts with 0");
        let header = Header::layout(nrows, ncols, nnz);

        indices
            .pad_to(header.data.offset)
            .map_err(io("cannot write"))?;
        let mut spill = data.into_inner().map_err(|e| {
            SparseError::io(
                &path,
                "cannot write the spill file of this matrix",
                e.into_error(),
            )
        })?;
        spill
            .seek(SeekFrom::Start(0))
            .map_err(io("cannot read back the spill file of this matrix"))?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = spill
                .read(&mut buf)
                .map_err(io("cannot read back the spill file of this matrix"))?;
            if n == 0 {
                break;
            }
            indices.write_all(&buf[..n]).map_err(io("cannot write"))?;
        }
        drop(spill);
        indices
            .pad_to(header.indptr.offset)
            .map_err(io("cannot write"))?;
        indices
            .write_all(bytemuck::cast_slice(&indptr))
            .map_err(io("cannot write"))?;
        indices
            .pad_to(header.footer_offset())
            .map_err(io("cannot write"))?;

        let header_bytes = header.encode();
        let mut crc = crc32fast::Hasher::new();
        crc.update(&header_bytes);
        crc.combine(&indices.hasher);
        let footer = encode_footer(crc.finalize());
        let mut file = indices.inner;
        file.write_all(&footer).map_err(io("cannot write"))?;
        file.seek(SeekFrom::Start(0)).map_err(io("cannot write"))?;
        file.write_all(&header_bytes).map_err(io("cannot write"))?;
        let tmp = file
            .into_inner()
            .map_err(|e| SparseError::io(&path, "cannot write", e.into_error()))?;
        persist(tmp, &path)?;
        Ok(MatrixSummary {
            nrows,
            ncols,
            nnz,
            file_len: header.file_len,
        })
    }
}

/// Write `m` to `path` atomically (a temporary file in the same directory, synced,
/// then renamed). Values must be finite and non-negative, and `m` stored row
/// by row ([`SparseError::NotCsr`] for a column-major view).
pub fn write_matrix(path: &Path, m: CsrView<'_>) -> Result<MatrixSummary, SparseError> {
    require_csr(&m, path, "the matrix to write")?;
    let mut writer = MatrixWriter::create(path, m.cols())?;
    let indptr = m.proper_indptr();
    let (indices, data) = (m.indices(), m.data());
    for w in indptr.windows(2) {
        let range = w[0] as usize..w[1] as usize;
        writer.push_row(&indices[range.clone()], &data[range])?;
    }
    writer.finish()
}

/// Sync `tmp`, rename it over `path`, sync the directory. On error `tmp` is removed.
pub(crate) fn persist(tmp: NamedTempFile, path: &Path) -> Result<(), SparseError> {
    tmp.as_file()
        .sync_all()
        .map_err(|e| SparseError::io(path, "cannot sync", e))?;
    tmp.persist(path).map_err(|e| {
        SparseError::io(path, "cannot rename the finished file into place", e.error)
    })?;
    sync_dir(parent_dir(path));
    Ok(())
}

/// Make a rename durable. Best effort: some filesystems refuse to sync directories.
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// CRC-32 of `bytes`, chunks hashed in parallel and combined in order.
pub(crate) fn crc32_parallel(bytes: &[u8]) -> u32 {
    use rayon::prelude::*;
    const CHUNK: usize = 8 << 20;
    let parts: Vec<crc32fast::Hasher> = bytes
        .par_chunks(CHUNK)
        .map(|chunk| {
            let mut h = crc32fast::Hasher::new();
            h.update(chunk);
            h
        })
        .collect();
    let mut total = crc32fast::Hasher::new();
    for part in &parts {
        total.combine(part);
    }
    total.finalize()
}

/// A writer that hashes and counts what passes through it.
#[derive(Debug)]
struct CrcWriter<W> {
    inner: W,
    hasher: crc32fast::Hasher,
    /// Bytes written through the hasher, plus the reserved header.
    pos: u64,
}

impl<W: Write> CrcWriter<W> {
    fn new(inner: W) -> Self {
        CrcWriter {
            inner,
            hasher: crc32fast::Hasher::new(),
            pos: HEADER_LEN,
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.inner.write_all(bytes)?;
        self.hasher.update(bytes);
        self.pos += bytes.len() as u64;
        Ok(())
    }

    fn pad_to(&mut self, offset: u64) -> std::io::Result<()> {
        debug_assert!(offset >= self.pos);
        let zeros = [0u8; 64];
        while self.pos < offset {
            let n = (offset - self.pos).min(64) as usize;
            self.write_all(&zeros[..n])?;
        }
        Ok(())
    }
}
