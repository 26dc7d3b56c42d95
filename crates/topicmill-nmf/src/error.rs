//! The crate's error type.

use thiserror::Error;

/// Everything that can go wrong in `topicmill-nmf`.
///
/// Parameter errors are raised by validation, before any work starts; each
/// rule has its own variant.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NmfError {
    /// `k` (the number of components) is 0.
    #[error("the number of components k must be at least 1")]
    ZeroComponents,
    /// `k` exceeds `min(n_documents, n_terms)`.
    #[error("k = {k} is larger than min(rows, columns) = {max} of the {rows}×{cols} matrix")]
    TooManyComponents {
        /// Requested number of components.
        k: usize,
        /// The largest allowed value, `min(rows, cols)`.
        max: usize,
        /// Rows of X.
        rows: usize,
        /// Columns of X.
        cols: usize,
    },
    /// X has no rows, no columns, or no non-zero value.
    #[error("the matrix is empty ({rows}×{cols} with {nnz} stored values, none of them positive)")]
    EmptyMatrix {
        /// Rows of X.
        rows: usize,
        /// Columns of X.
        cols: usize,
        /// Stored values of X.
        nnz: usize,
    },
    /// X holds a negative value.
    #[error("negative value {value} at row {row}, column {col}: NMF needs X ≥ 0")]
    NegativeValue {
        /// Row of the value.
        row: usize,
        /// Column of the value.
        col: usize,
        /// The value.
        value: f32,
    },
    /// X holds a NaN or an infinity.
    #[error("non-finite value {value} at row {row}, column {col}")]
    NonFiniteValue {
        /// Row of the value.
        row: usize,
        /// Column of the value.
        col: usize,
        /// The value.
        value: f32,
    },
    /// A tolerance (`tol` or `transform_tol`) is negative or not finite.
    #[error("{name} must be a finite number ≥ 0, got {value}")]
    InvalidTol {
        /// `"tol"` or `"transform_tol"`.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// An iteration cap (`max_iter` or `transform_max_iter`) is 0.
    #[error("{name} must be at least 1")]
    ZeroMaxIter {
        /// `"max_iter"` or `"transform_max_iter"`.
        name: &'static str,
    },
    /// `l1_ratio` is outside `[0, 1]` (or NaN).
    #[error("l1_ratio must lie in [0, 1], got {0}")]
    InvalidL1Ratio(f64),
    /// A regularization strength is negative or not finite.
    #[error("{name} must be a finite number ≥ 0, got {value}")]
    InvalidAlpha {
        /// `"alpha_w"` or `"alpha_h"`.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// The Kullback–Leibler loss was asked of a solver that only minimizes the Frobenius loss.
    #[error(
        "the Kullback-Leibler loss needs the MU solver (HALS minimizes the Frobenius loss only)"
    )]
    KlNeedsMu,
    /// The time budget is zero.
    #[error("the time budget must be positive")]
    ZeroTimeBudget,
    /// A transpose given to `fit` does not match X.
    #[error("the transpose given is {got_rows}×{got_cols} with {got_nnz} values, expected {rows}×{cols} with {nnz}")]
    TransposeMismatch {
        /// Expected rows (= columns of X).
        rows: usize,
        /// Expected columns (= rows of X).
        cols: usize,
        /// Expected stored values.
        nnz: usize,
        /// Rows of the matrix given.
        got_rows: usize,
        /// Columns of the matrix given.
        got_cols: usize,
        /// Stored values of the matrix given.
        got_nnz: usize,
    },
    /// A transpose given to `fit` (or `initial_factors`) holds a NaN, an
    /// infinity or a negative value.
    #[error("the transpose given (Xᵀ) holds {value} at its row {row}, column {col}: NMF needs values that are finite and ≥ 0")]
    TransposeValue {
        /// Row of Xᵀ (a column of X).
        row: usize,
        /// Column of Xᵀ (a row of X).
        col: usize,
        /// The value.
        value: f32,
    },
    /// A transpose given to `fit` (or `initial_factors`) has X's shape and
    /// number of values, but other entries than X's transpose: at row `row`,
    /// column `col` of Xᵀ (the first difference in its row order).
    #[error(
        "the transpose given is not X's: its row {row}, column {col} {}, but X's row {col}, column {row} {}",
        stored(*xt_value),
        stored(*x_value)
    )]
    TransposeEntryMismatch {
        /// Row of Xᵀ (a column of X).
        row: usize,
        /// Column of Xᵀ (a row of X).
        col: usize,
        /// Xᵀ's value there, `None` when it stores none.
        xt_value: Option<f32>,
        /// X's value at the mirrored place, `None` when it stores none.
        x_value: Option<f32>,
    },
    /// `random_factors` was given a sum of X's values that is not a finite
    /// number > 0.
    #[error("the sum of X's values must be a finite number > 0, got {0}")]
    InvalidSum(f64),
    /// `random_factors` was given rows of W that are not a range of X's rows.
    #[error("rows {start}..{end} of W are not a range of the matrix's {rows} rows")]
    RowsOutOfRange {
        /// First row asked for.
        start: usize,
        /// One past the last.
        end: usize,
        /// Rows of X.
        rows: usize,
    },
    /// A matrix given is a view of column-major (CSC) storage, as
    /// `transpose_view()` makes: the engine reads rows.
    #[error("{argument} is stored by columns (CSC): pass a CSR view (the CSR matrix itself, or `.to_csr()` of this one)")]
    NotCsr {
        /// Which argument: `"X"`, `"Xᵀ (the transpose given)"`, `"the
        /// documents"` (`transform`) or `"the rows given"` (`steps::final_w`).
        argument: &'static str,
    },
    /// The factors and workspaces of a fit (or an initialization) need more
    /// memory than can be allocated.
    #[error("{what} need {bytes} bytes, more than can be allocated: lower k or the matrix's size")]
    TooLarge {
        /// What needs the memory (with the sizes that decide it).
        what: String,
        /// The bytes needed (`u128`: the product may exceed `usize`).
        bytes: u128,
    },
    /// New documents for `transform` have another number of terms than the model.
    #[error("the documents have {got} terms but the model was fitted on {expected}")]
    FeatureMismatch {
        /// Terms of the model.
        expected: usize,
        /// Terms of the matrix given.
        got: usize,
    },
    /// Starting factors given to `fit_from` have the wrong sizes.
    #[error("starting factors have {w} and {ht} values, expected n·k = {n}·{k} and m·k = {m}·{k}")]
    InitShapeMismatch {
        /// Values of W given.
        w: usize,
        /// Values of Hᵀ given.
        ht: usize,
        /// Rows of X.
        n: usize,
        /// Columns of X.
        m: usize,
        /// Components.
        k: usize,
    },
    /// Starting factors hold a negative or non-finite value.
    #[error("starting factors must be finite and non-negative")]
    InvalidInitValue,
    /// The dense SVD inside the randomized SVD did not converge.
    #[error("the dense SVD did not converge")]
    SvdNoConvergence,
    /// A fit or a transform ended with values that are not finite numbers
    /// (no model is returned).
    #[error("the result is not finite: {0}; the data's values may be outside the range float32 arithmetic can fit: rescale them")]
    NonFiniteResult(String),
    /// Reading or writing a model failed at the I/O level.
    #[error("model I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// The bytes do not start with the model magic.
    #[error("not a topicmill NMF model (bad magic bytes)")]
    NotAModel,
    /// The model was written with another format version.
    #[error(
        "model format version {found} is not supported (this build reads versions 1 to {supported})"
    )]
    UnsupportedVersion {
        /// Version in the file.
        found: u32,
        /// The newest version this build reads (and the one it writes).
        supported: u32,
    },
    /// The model ends inside its 20-byte header (magic, version, payload
    /// length).
    #[error("truncated model: its header is 20 bytes, the file has {found}")]
    TruncatedHeader {
        /// Bytes present.
        found: u64,
    },
    /// The model ends before its declared length.
    #[error("truncated model: expected {expected} payload bytes, found {found}")]
    Truncated {
        /// Declared payload length.
        expected: u64,
        /// Bytes actually present.
        found: u64,
    },
    /// The model ends inside its checksum, after the payload.
    #[error("truncated model: its 4-byte checksum at byte offset {offset} has {found} bytes")]
    TruncatedChecksum {
        /// Byte offset of the checksum.
        offset: u64,
        /// Bytes of it present.
        found: u64,
    },
    /// The stored checksum does not match the bytes before it.
    #[error("checksum mismatch at byte offset {offset} (stored {stored:#010x}, computed {computed:#010x}): the file is corrupt")]
    ChecksumMismatch {
        /// Byte offset of the stored checksum.
        offset: u64,
        /// The checksum in the file.
        stored: u32,
        /// The checksum of the bytes before it.
        computed: u32,
    },
    /// Bytes follow the end of the model.
    #[error("{count} unexpected bytes at byte offset {offset}, after the end of the model")]
    TrailingBytes {
        /// Byte offset of the first one (the model's length).
        offset: u64,
        /// How many.
        count: u64,
    },
    /// A model assembled by `from_parts` or read by serde's `Deserialize`
    /// holds what `load` refuses in a file (the same checks, in words).
    #[error("invalid model: {0}")]
    InvalidModel(String),
    /// The payload could not be decoded or is inconsistent.
    #[error("corrupt model: {0}")]
    Corrupt(String),
}

/// `Result` with [`NmfError`].
pub type Result<T, E = NmfError> = std::result::Result<T, E>;

/// "holds v" or "stores nothing", for [`NmfError::TransposeEntryMismatch`].
fn stored(value: Option<f32>) -> String {
    match value {
        Some(v) => format!("holds {v}"),
        None => "stores nothing".to_string(),
    }
}
