//! topicmill-text: from raw text to a TF-IDF matrix, exactly as scikit-learn's
//! `TfidfVectorizer`, in parallel.
//!
//! - [`TfidfParams`] (scikit-learn's defaults) fits a [`TfidfModel`] (sorted
//!   vocabulary, idf) and returns the [`CsrMatrix`](topicmill_sparse::CsrMatrix)
//!   of the documents; [`TfidfModel::transform`] maps new documents.
//! - Readers give [`Documents`] (texts, ids, labels): [`load_20newsgroups`]
//!   (the `20news-bydate` tarball or folders, with [`NewsgroupsOptions`]),
//!   [`read_folder`], [`read_jsonl`] ([`JsonlFields`]), [`read_lines`]; invalid
//!   UTF-8 is an error naming file and byte offset, or replaced ([`Utf8`]).
//! - [`stream_to_corpus`]: corpora larger than memory, from a [`DocumentSource`]
//!   ([`LinesSource`], [`JsonlSource`]) straight into a corpus directory, in two
//!   passes with bounded memory.
//! - [`tokenize`] is the default analyzer: Python's `str.lower()` then
//!   `(?u)\b\w\w+\b` with Python's Unicode `\w` (tables generated from CPython
//!   3.11, Unicode 14.0).
//!
//! ```
//! use topicmill_text::{StopWords, TfidfParams};
//!
//! let docs = ["The cat sat.", "The dog sat on the cat.", ""];
//! let params = TfidfParams::default().stop_words(Some(StopWords::English));
//! let (model, x) = params.fit_transform(&docs)?;
//! assert_eq!(model.vocabulary(), ["cat", "dog", "sat"]);
//! assert_eq!(x.shape(), (3, 3));
//! assert_eq!(x.outer_view(2).unwrap().nnz(), 0); // empty documents stay empty rows
//! # Ok::<(), topicmill_text::TextError>(())
//! ```

mod documents;
mod error;
mod intern;
mod newsgroups;
mod pyunicode;
mod readers;
mod stop_words;
mod streaming;
mod tarball;
mod tokenize;
mod unicode_tables;
mod vectorizer;

pub use crate::{
    documents::Documents,
    error::TextError,
    newsgroups::{
        count_20newsgroups_files, load_20newsgroups, load_20newsgroups_counting,
        strip_newsgroup_footer, strip_newsgroup_header, strip_newsgroup_quoting, NewsgroupsOptions,
        ReferenceMatrix, Remove, Subset, SEED_CATEGORIES,
    },
    pyunicode::lower,
    readers::{read_folder, read_jsonl, read_lines, JsonlFields, Utf8},
    streaming::{
        stream_to_corpus, stream_transform_to_corpus, DocumentSource, JsonlSource, LinesSource,
    },
    tokenize::{tokenize, Tokenizer},
    unicode_tables::UNICODE_VERSION,
    vectorizer::{DocFreq, Norm, StopWords, TfidfModel, TfidfParams, UnseenTerms, VocabularyMatch},
};
