//! The one error type of topicmill-eval.

/// Everything that can go wrong when scoring topics. Each message names the
/// input and the place (topic, row, column) at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// k = 0: there is no topic to score.
    #[error("{what}: k is 0, there is no topic to score")]
    NoTopics {
        /// The input (`"factors"`, `"topic matching"`, …).
        what: &'static str,
    },
    /// A row-major factor whose length is not a multiple of k.
    #[error("{what}: {len} values is not a whole number of rows of k = {k}")]
    RaggedFactor {
        /// `"W"`, `"Hᵀ"`, …
        what: &'static str,
        /// Number of values given.
        len: usize,
        /// Number of topics.
        k: usize,
    },
    /// Two inputs disagree on a dimension.
    #[error("{what}: expected {expected}, found {found}")]
    ShapeMismatch {
        /// Which dimension of which input, e.g. `"W rows (documents of X)"`.
        what: &'static str,
        /// The size the other input implies.
        expected: usize,
        /// The size found.
        found: usize,
    },
    /// NaN or an infinity in a factor, a weight matrix or the corpus matrix.
    #[error("{what}: non-finite value {value} at row {row}, column {col}")]
    NonFinite {
        /// `"W"`, `"Hᵀ"`, `"weights"`, `"X"`, `"Xᵀ"`.
        what: &'static str,
        /// Row of the value.
        row: usize,
        /// Column of the value.
        col: usize,
        /// The value itself.
        value: f64,
    },
    /// A negative value in a non-negative factor or corpus matrix.
    #[error("{what}: negative value {value} at row {row}, column {col}")]
    Negative {
        /// `"W"`, `"Hᵀ"`, `"X"` or `"Xᵀ"`.
        what: &'static str,
        /// Row of the value.
        row: usize,
        /// Column of the value.
        col: usize,
        /// The value itself.
        value: f64,
    },
    /// A topic's word list names a term the corpus does not have.
    #[error("coherence: topic {topic}, word {position}: term index {term} is out of range for {n_terms} terms")]
    TermOutOfRange {
        /// Topic (0-based).
        topic: usize,
        /// Position of the word in the topic's list (0-based).
        position: usize,
        /// The offending term index.
        term: u32,
        /// Number of terms (rows of Xᵀ).
        n_terms: usize,
    },
    /// Xᵀ has a row whose document indices are not strictly increasing.
    #[error("coherence: row {term} of Xᵀ (a term's postings) is not sorted by document at entry {position}")]
    UnsortedPostings {
        /// The term (row of Xᵀ).
        term: usize,
        /// Entry index within the row where the order breaks.
        position: usize,
    },
    /// A score over top words was asked for fewer words per topic than it
    /// needs: diversity 1, coherence 2 (it scores pairs).
    #[error("{what}: {asked} top words per topic asked for, at least {least} needed")]
    TooFewWords {
        /// `"diversity"`, `"coherence"`.
        what: &'static str,
        /// Words per topic asked for.
        asked: usize,
        /// The fewest the score takes.
        least: usize,
    },
    /// A score that needs at least one document got none.
    #[error("{what}: there are no documents")]
    NoDocuments {
        /// `"coherence"`, `"clustering scores"`, …
        what: &'static str,
    },
    /// ‖X‖_F = 0: the relative error divides by it.
    #[error("relative error: ‖X‖_F is 0 ({nnz} stored values, all zero), the ratio is undefined")]
    ZeroMatrix {
        /// Stored entries of X.
        nnz: usize,
    },
    /// Labels and clustering of different lengths.
    #[error("clustering scores: {labels} labels but {clusters} cluster assignments")]
    LabelCount {
        /// Number of labels.
        labels: usize,
        /// Number of cluster assignments (documents).
        clusters: usize,
    },
    /// A matrix argument is a view of column-major (CSC) storage, as
    /// `transpose_view()` makes: the scores read rows of a CSR view.
    #[error(
        "{what}: the view stores its matrix by columns (CSC); a row-major (CSR) view is needed"
    )]
    NotCsr {
        /// `"X"` or `"Xᵀ"`.
        what: &'static str,
    },
    /// The matrix given as Xᵀ is not the transpose of X: an entry of one is
    /// missing from the other or holds another value.
    #[error(
        "Xᵀ is not the transpose of X: row {row}, column {col} of Xᵀ {}, but row {col}, column {row} of X {}",
        stored(*xt_value),
        stored(*x_value)
    )]
    NotTranspose {
        /// Row of Xᵀ (a term).
        row: usize,
        /// Column of Xᵀ (a document).
        col: usize,
        /// The value Xᵀ stores there, `None` when it stores none.
        xt_value: Option<f64>,
        /// The value X stores at the mirrored place, `None` when it stores none.
        x_value: Option<f64>,
    },
    /// A shape whose number of cells does not fit in memory.
    #[error("{what}: {rows} × {cols} is too large")]
    TooLarge {
        /// The input, e.g. `"weights (rows × cols)"`.
        what: &'static str,
        /// Rows asked for.
        rows: usize,
        /// Columns asked for.
        cols: usize,
    },
}

/// "holds v" or "stores nothing", for [`EvalError::NotTranspose`].
fn stored(value: Option<f64>) -> String {
    match value {
        Some(v) => format!("holds {v}"),
        None => "stores nothing".to_string(),
    }
}
