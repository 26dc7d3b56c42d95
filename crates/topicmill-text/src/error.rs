//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in `topicmill-text`. Messages name the file and
/// the place (entry, line, byte offset) where there is one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TextError {
    /// Reading a file or directory failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A folder's entry whose name is not UTF-8: its name is a document's id
    /// or a label, which are text.
    #[error(
        "{}: the name is not UTF-8; document ids and labels are made of names: rename it",
        path.display()
    )]
    NonUtf8Name {
        /// The entry.
        path: PathBuf,
    },
    /// A file that must be UTF-8 is not (and lossy decoding was not asked for).
    #[error("{}: invalid UTF-8 at byte offset {offset}", path.display())]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// Byte offset of the first invalid byte in the file.
        offset: u64,
    },
    /// A JSON line that does not parse, is not an object, or lacks the text field.
    #[error("{}: line {line}: {message}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A JSON-lines file gives the same document id on two lines (outputs
    /// per document are keyed by id).
    #[error(
        "{}: line {line}: duplicate id {id:?}, first given on line {first_line}",
        path.display()
    )]
    DuplicateId {
        /// The file.
        path: PathBuf,
        /// 1-based number of the line that repeats the id.
        line: u64,
        /// The id.
        id: String,
        /// 1-based number of the line that gave it first.
        first_line: u64,
    },
    /// The 20 Newsgroups tarball or folder is not laid out as expected.
    #[error("{}: {message}", path.display())]
    Newsgroups {
        /// The tarball or folder.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A requested 20 Newsgroups category is not in the corpus.
    #[error("unknown 20 Newsgroups category `{0}`")]
    UnknownCategory(String),
    /// `min_df` is an integer below 1 or a proportion outside [0, 1].
    #[error("min_df must be a count >= 1 or a proportion in [0, 1], got {0}")]
    InvalidMinDf(String),
    /// `max_df` is an integer below 1 or a proportion outside [0, 1].
    #[error("max_df must be a count >= 1 or a proportion in [0, 1], got {0}")]
    InvalidMaxDf(String),
    /// `max_features` is 0.
    #[error("max_features must be at least 1")]
    InvalidMaxFeatures,
    /// `max_df` allows fewer documents than `min_df` on this corpus.
    #[error("max_df corresponds to fewer documents than min_df")]
    MaxDfBelowMinDf,
    /// No document has any token (after stop words).
    #[error("empty vocabulary; perhaps the documents only contain stop words")]
    EmptyVocabulary,
    /// `min_df`, `max_df` and `max_features` left no term.
    #[error("after pruning, no terms remain; try a lower min_df or a higher max_df")]
    NoTermsAfterPruning,
    /// A streaming source gave a different number of documents on its second pass.
    #[error("the source changed between passes: {first} documents, then {second}")]
    SourceChanged {
        /// Documents in the counting pass.
        first: usize,
        /// Documents in the matrix pass.
        second: usize,
    },
    /// A document's id or label holds a line break, which a corpus directory
    /// (one id and one label per line) cannot store.
    #[error(
        "document {document}: its {what} {value:?} holds a line break, which a corpus directory cannot store"
    )]
    LineBreak {
        /// 1-based number of the document in its source.
        document: usize,
        /// `id` or `label`.
        what: &'static str,
        /// The id or label.
        value: String,
    },
    /// Writing the corpus directory failed.
    #[error(transparent)]
    Sparse(#[from] topicmill_sparse::SparseError),
    /// There are no documents at all.
    #[error("the corpus has no documents")]
    NoDocuments,
    /// A vectorizer cannot be rebuilt from the given vocabulary and document
    /// frequencies ([`TfidfModel::from_document_frequencies`]).
    ///
    /// [`TfidfModel::from_document_frequencies`]: crate::TfidfModel::from_document_frequencies
    #[error("cannot rebuild the vectorizer: {0}")]
    Rebuild(String),
    /// A fixed vocabulary cannot be fitted
    /// ([`TfidfParams::fit_transform_with_vocabulary`]): it lists a term
    /// twice, or is too long.
    ///
    /// [`TfidfParams::fit_transform_with_vocabulary`]: crate::TfidfParams::fit_transform_with_vocabulary
    #[error("invalid fixed vocabulary: {0}")]
    FixedVocabulary(String),
    /// A fixed vocabulary with no terms (scikit-learn: "empty vocabulary
    /// passed to fit").
    #[error("the fixed vocabulary has no terms")]
    EmptyFixedVocabulary,
    /// Document frequencies given for a vectorizer's columns are not one per
    /// column.
    #[error("{found} document frequencies for the {columns} columns of the vectorizer")]
    DocumentFrequencies {
        /// Document frequencies given.
        found: usize,
        /// Columns (vocabulary terms) of the vectorizer.
        columns: usize,
    },
    /// A [`Documents`](crate::Documents) (or a chunk of a
    /// [`DocumentSource`](crate::DocumentSource)) whose ids or labels are not
    /// one per text.
    #[error("the documents from number {first}: {found} {what} for {texts} texts")]
    DocumentParts {
        /// 1-based number, in the whole source, of the first document of
        /// the collection or chunk.
        first: usize,
        /// `ids` or `labels`.
        what: &'static str,
        /// How many there are.
        found: usize,
        /// How many texts there are.
        texts: usize,
    },
    /// A document source gave labels with some chunks and not with others.
    #[error("document {document}: the source gives labels with some chunks and not with others")]
    LabelsOnSomeChunks {
        /// 1-based number of the first document of the chunk that differs.
        document: usize,
    },
}

impl TextError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
