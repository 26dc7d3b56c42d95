//! The one error type of this crate.

use std::path::{Path, PathBuf};

use crate::CsrView;

/// Everything that can go wrong reading or writing sparse matrices and corpora.
///
/// Every variant names the file and the place in it: a byte offset and section for
/// binary matrix files, a line number for text formats, a row for rows handed to a
/// writer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SparseError {
    /// An operating-system error while opening, creating, reading or writing `path`.
    #[error("{}: {action}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// What was being done, e.g. "cannot open".
        action: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The file is shorter than its header says, or shorter than a header.
    #[error("{}: truncated file: {actual} bytes, expected {expected} ({what})", path.display())]
    Truncated {
        /// The matrix file.
        path: PathBuf,
        /// The length the header (or the minimal layout) requires.
        expected: u64,
        /// The actual length on disk.
        actual: u64,
        /// Which requirement was not met.
        what: &'static str,
    },

    /// The first eight bytes are not the topicmill matrix magic.
    #[error("{}: byte offset 0: bad magic {found:02x?}, not a topicmill matrix file", path.display())]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The bytes found.
        found: [u8; 8],
    },

    /// The format version is newer (or older) than this build can read.
    #[error("{}: byte offset {offset}: format version {found} is not supported (this build reads version {supported})", path.display())]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// Byte offset of the version field.
        offset: u64,
        /// The version in the file.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },

    /// A header or footer field is invalid (dtype code, header length, shape limits…).
    #[error("{}: header, byte offset {offset}: {message}", path.display())]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// Byte offset of the offending field.
        offset: u64,
        /// What is wrong.
        message: String,
    },

    /// A section's declared offset and length do not fit in the file, or it is misplaced.
    #[error("{}: section {section} at byte offset {offset} with length {len} {problem}", path.display())]
    SectionOutOfBounds {
        /// The file.
        path: PathBuf,
        /// "indptr", "indices" or "data".
        section: &'static str,
        /// The declared offset.
        offset: u64,
        /// The declared length in bytes.
        len: u64,
        /// What is wrong with it.
        problem: String,
    },

    /// The row-pointer array does not start at 0, decreases, or does not end at nnz.
    #[error("{}: section indptr, byte offset {offset}, row {row}: {message}", path.display())]
    BadRowPointer {
        /// The file.
        path: PathBuf,
        /// Byte offset of the offending entry.
        offset: u64,
        /// The row whose pointer is wrong.
        row: u64,
        /// What is wrong.
        message: String,
    },

    /// A column index is not smaller than the number of columns.
    #[error("{}: section indices, byte offset {offset}, row {row}: column index {col} >= ncols {ncols}", path.display())]
    ColumnOutOfRange {
        /// The file.
        path: PathBuf,
        /// Byte offset of the index.
        offset: u64,
        /// The row.
        row: u64,
        /// The column index found.
        col: u64,
        /// The number of columns.
        ncols: u64,
    },

    /// Column indices within a row are not increasing.
    #[error("{}: section indices, byte offset {offset}, row {row}: column {col} follows column {previous} (indices must be sorted)", path.display())]
    UnsortedColumns {
        /// The file.
        path: PathBuf,
        /// Byte offset of the index.
        offset: u64,
        /// The row.
        row: u64,
        /// The preceding index.
        previous: u64,
        /// The index found.
        col: u64,
    },

    /// A column index repeats within a row.
    #[error("{}: section indices, byte offset {offset}, row {row}: duplicate column {col}", path.display())]
    DuplicateColumn {
        /// The file.
        path: PathBuf,
        /// Byte offset of the repeated index.
        offset: u64,
        /// The row.
        row: u64,
        /// The repeated column.
        col: u64,
    },

    /// A value is NaN, infinite or negative (topicmill matrices are non-negative).
    #[error("{}: {place}: invalid value {value} ({kind})", path.display())]
    InvalidValue {
        /// The file.
        path: PathBuf,
        /// Where: "section data, byte offset …, row …, column …" or "line …".
        place: String,
        /// The value found.
        value: f64,
        /// "NaN", "infinite" or "negative".
        kind: &'static str,
    },

    /// The stored checksum does not match the file's contents.
    #[error("{}: footer, byte offset {offset}: checksum mismatch (stored {stored:#010x}, computed {computed:#010x}): the file is corrupt", path.display())]
    ChecksumMismatch {
        /// The file.
        path: PathBuf,
        /// Byte offset of the stored checksum.
        offset: u64,
        /// The checksum in the footer.
        stored: u32,
        /// The checksum of the contents.
        computed: u32,
    },

    /// A corpus's text file (vocabulary, document ids, labels) is not the
    /// one written: its checksum differs from the manifest's.
    #[error("{}: checksum mismatch (the manifest's {stored:#010x}, computed {computed:#010x}): the file changed after the corpus was written", path.display())]
    TextChecksumMismatch {
        /// The file.
        path: PathBuf,
        /// The checksum in the manifest.
        stored: u32,
        /// The checksum of the contents.
        computed: u32,
    },

    /// A syntax error in a text format (MatrixMarket, UCI docword, vocabulary).
    #[error("{}: line {line}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        message: String,
    },

    /// A text file's header (MatrixMarket size line, docword D/W/NNZ) disagrees with
    /// its body, or is itself invalid.
    #[error("{}: line {line}: {message}", path.display())]
    HeaderMismatch {
        /// The file.
        path: PathBuf,
        /// 1-based line number where the disagreement shows.
        line: u64,
        /// What disagrees.
        message: String,
    },

    /// An entry's row or column lies outside the declared shape.
    #[error("{}: line {line}: entry ({row}, {col}) is outside the declared {nrows} x {ncols} shape (ids are 1-based)", path.display())]
    EntryOutOfRange {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The 1-based row (document) id found.
        row: u64,
        /// The 1-based column (word) id found.
        col: u64,
        /// Declared rows.
        nrows: u64,
        /// Declared columns.
        ncols: u64,
    },

    /// The same (row, column) pair appears twice in a coordinate file.
    #[error("{}: line {line}: duplicate entry ({row}, {col}), first given on line {first_line}", path.display())]
    DuplicateEntry {
        /// The file.
        path: PathBuf,
        /// 1-based line of the second occurrence.
        line: u64,
        /// 1-based line of the first occurrence.
        first_line: u64,
        /// 1-based row id.
        row: u64,
        /// 1-based column id.
        col: u64,
    },

    /// A row handed to a writer is malformed (lengths differ, indices unsorted or out
    /// of range, invalid values).
    #[error("{}: row {row}: {message}", path.display())]
    InvalidRow {
        /// The file being written.
        path: PathBuf,
        /// 0-based row number.
        row: u64,
        /// What is wrong.
        message: String,
    },

    /// Parts of a corpus disagree in size (vocabulary vs columns, ids vs rows,
    /// matrix vs transpose), or a corpus file is malformed.
    #[error("{}: {message}", path.display())]
    CorpusMismatch {
        /// The corpus file or directory.
        path: PathBuf,
        /// What disagrees.
        message: String,
    },

    /// The corpus manifest cannot be parsed or has the wrong format.
    #[error("{}: invalid manifest: {message}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },

    /// The input holds no entries (or no rows or columns): nothing to model.
    #[error("{}: empty corpus: {message}", path.display())]
    EmptyCorpus {
        /// The input file.
        path: PathBuf,
        /// What is empty.
        message: String,
    },

    /// A streamed coordinate file is not grouped by row (a row id went down), so
    /// it cannot be written row by row; read it whole instead.
    #[error("{}: line {line}: document {row} follows document {previous}: entries are not grouped by document", path.display())]
    NotGrouped {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The 1-based id that came too late.
        row: u64,
        /// The 1-based id before it.
        previous: u64,
    },

    /// The output already exists and overwriting was not asked for.
    #[error("{}: already exists (refusing to overwrite)", path.display())]
    AlreadyExists {
        /// The existing output.
        path: PathBuf,
    },

    /// The output exists and is not a corpus directory (a `manifest.json` of
    /// format [`CORPUS_FORMAT`](crate::CORPUS_FORMAT)): replacing it, even when
    /// asked to replace an existing corpus, could destroy anything.
    #[error("{}: exists and is not a corpus directory: refusing to replace it", path.display())]
    NotACorpus {
        /// The existing output.
        path: PathBuf,
    },

    /// The output is a corpus directory that also holds other things:
    /// replacing it would remove them too.
    #[error("{}: is a corpus directory that also holds {}, not part of the corpus: refusing to replace it (move that out first)", path.display(), entry.display())]
    CorpusHoldsOthers {
        /// The existing output.
        path: PathBuf,
        /// The first entry found that is not a corpus's file.
        entry: PathBuf,
    },

    /// The output is the current directory or one of its ancestors: it can
    /// be neither replaced nor written into place.
    #[error("{}: is the current directory or one of its ancestors: refusing to write a corpus there", path.display())]
    WorkingDirectory {
        /// The output as given.
        path: PathBuf,
    },

    /// The output is, contains or lies inside one of the command's inputs:
    /// writing it could destroy the input.
    #[error("{}: the output {relation} the input {}: refusing to write there", path.display(), input.display())]
    OutputOverlapsInput {
        /// The output as given.
        path: PathBuf,
        /// The input as given.
        input: PathBuf,
        /// "is", "contains" or "lies inside".
        relation: &'static str,
    },

    /// A value of a text format (MatrixMarket, UCI docword) is NaN, infinite,
    /// beyond the f32 range, a non-zero below it (it would read as 0) or
    /// negative: shown as written in the file.
    #[error("{}: line {line}: invalid value '{text}' ({kind})", path.display())]
    InvalidTextValue {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The value as written.
        text: String,
        /// "NaN", "infinite", "beyond the f32 range", "a non-zero below the
        /// f32 range, it would read as 0" or "negative".
        kind: &'static str,
    },

    /// Parameters of a synthetic corpus that cannot be generated.
    #[error("{}: cannot generate: {message}", path.display())]
    InvalidGenerate {
        /// The target corpus directory.
        path: PathBuf,
        /// Which parameter is wrong and why.
        message: String,
    },

    /// A matrix is too large for the index types (u32 columns/rows, u64 nnz).
    #[error("{}: {message}", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Which limit was exceeded.
        message: String,
    },

    /// A block of rows was asked for that the matrix does not have.
    #[error("{}: rows {start}..{end} asked for, but the matrix has {nrows} rows", path.display())]
    RowsOutOfRange {
        /// The file.
        path: PathBuf,
        /// First row asked for.
        start: u64,
        /// One past the last row asked for.
        end: u64,
        /// Rows in the matrix.
        nrows: u64,
    },

    /// A matrix view stores its entries column by column (CSC, as
    /// `transpose_view()` makes), where a row-major (CSR) view is required:
    /// read as CSR its arrays would be another matrix. See [`require_csr`].
    #[error("{}: {what} is a column-major (CSC) view, e.g. from transpose_view(); a CSR view is required (convert it with to_csr())", path.display())]
    NotCsr {
        /// The file being written.
        path: PathBuf,
        /// Which matrix, e.g. "the matrix to write".
        what: String,
    },

    /// This host is big-endian; topicmill matrix files are little-endian and are
    /// mapped without conversion.
    #[error("{}: topicmill matrix files are little-endian and cannot be mapped on this big-endian host", path.display())]
    UnsupportedHost {
        /// The file.
        path: PathBuf,
    },
}

impl SparseError {
    pub(crate) fn io(path: &Path, action: &'static str, source: std::io::Error) -> Self {
        SparseError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    }

    /// The file or directory this error is about.
    pub fn path(&self) -> &Path {
        match self {
            SparseError::Io { path, .. }
            | SparseError::Truncated { path, .. }
            | SparseError::BadMagic { path, .. }
            | SparseError::UnsupportedVersion { path, .. }
            | SparseError::BadHeader { path, .. }
            | SparseError::SectionOutOfBounds { path, .. }
            | SparseError::BadRowPointer { path, .. }
            | SparseError::ColumnOutOfRange { path, .. }
            | SparseError::UnsortedColumns { path, .. }
            | SparseError::DuplicateColumn { path, .. }
            | SparseError::InvalidValue { path, .. }
            | SparseError::ChecksumMismatch { path, .. }
            | SparseError::TextChecksumMismatch { path, .. }
            | SparseError::Syntax { path, .. }
            | SparseError::HeaderMismatch { path, .. }
            | SparseError::EntryOutOfRange { path, .. }
            | SparseError::DuplicateEntry { path, .. }
            | SparseError::InvalidRow { path, .. }
            | SparseError::CorpusMismatch { path, .. }
            | SparseError::Manifest { path, .. }
            | SparseError::EmptyCorpus { path, .. }
            | SparseError::NotGrouped { path, .. }
            | SparseError::AlreadyExists { path }
            | SparseError::NotACorpus { path }
            | SparseError::CorpusHoldsOthers { path, .. }
            | SparseError::WorkingDirectory { path }
            | SparseError::OutputOverlapsInput { path, .. }
            | SparseError::InvalidTextValue { path, .. }
            | SparseError::InvalidGenerate { path, .. }
            | SparseError::TooLarge { path, .. }
            | SparseError::RowsOutOfRange { path, .. }
            | SparseError::NotCsr { path, .. }
            | SparseError::UnsupportedHost { path } => path,
        }
    }
}

/// Checks that `m` is stored row by row: a [`CsrView`] can also hold
/// column-major (CSC) storage, which `transpose_view()` returns, and read
/// as CSR its arrays are another matrix (or out of bounds). Every function
/// of this crate that reads a view's rows calls this first (or, where the
/// answer is as cheap and unambiguous, handles CSC: [`transpose`] and
/// [`write_transpose`]). `path` is the file about to be written and
/// `what` names the matrix in the message ([`SparseError::NotCsr`]).
///
/// [`transpose`]: crate::transpose
/// [`write_transpose`]: crate::write_transpose
pub fn require_csr(m: &CsrView<'_>, path: &Path, what: &str) -> Result<(), SparseError> {
    if m.is_csr() {
        Ok(())
    } else {
        Err(SparseError::NotCsr {
            path: path.to_path_buf(),
            what: what.to_string(),
        })
    }
}

/// Classifies a value the format rejects, or `None` when it is fine.
pub(crate) fn value_problem(value: f32) -> Option<&'static str> {
    if value.is_nan() {
        Some("NaN")
    } else if value.is_infinite() {
        Some("infinite")
    } else if value < 0.0 {
        Some("negative")
    } else {
        None
    }
}
