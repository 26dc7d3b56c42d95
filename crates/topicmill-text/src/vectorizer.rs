//! Vocabulary and TF-IDF, as scikit-learn's `TfidfVectorizer` with its defaults.

use rayon::prelude::*;
use topicmill_sparse::CsrMatrix;

use crate::intern::Interner;
use crate::tokenize::for_each_token;
use crate::TextError;

/// Documents per parallel task. Results do not depend on it (the vocabulary is
/// sorted and rows are computed independently), only speed does.
pub(crate) const CHUNK_DOCS: usize = 512;

/// A document-frequency bound: an absolute count of documents or a proportion
/// of them, like scikit-learn's `int` / `float` `min_df` and `max_df`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocFreq {
    /// At least 1 document.
    Count(u64),
    /// A proportion in [0, 1] of the documents.
    Proportion(f64),
}

impl DocFreq {
    fn threshold(self, n_docs: usize) -> f64 {
        match self {
            DocFreq::Count(c) => c as f64,
            DocFreq::Proportion(p) => p * n_docs as f64,
        }
    }

    fn is_valid(self) -> bool {
        match self {
            DocFreq::Count(c) => c >= 1,
            DocFreq::Proportion(p) => (0.0..=1.0).contains(&p),
        }
    }
}

impl std::fmt::Display for DocFreq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DocFreq::Count(c) => write!(f, "{c}"),
            DocFreq::Proportion(p) => write!(f, "{p:?}"),
        }
    }
}

impl std::str::FromStr for DocFreq {
    type Err = String;

    /// `"2"` is a count, `"0.5"` or `"1.0"` a proportion (as Python's int/float).
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() {
            s.parse()
                .map(DocFreq::Count)
                .map_err(|e| format!("{s}: {e}"))
        } else {
            s.parse()
                .map(DocFreq::Proportion)
                .map_err(|e| format!("{s}: {e}"))
        }
    }
}

/// Row normalization of the TF-IDF matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Norm {
    /// Rows of unit Euclidean length (scikit-learn's default).
    L2,
    /// Rows whose absolute values sum to 1.
    L1,
    /// No normalization.
    None,
}

/// Stop words removed from the tokens.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StopWords {
    /// scikit-learn's English list (318 words).
    English,
    /// A custom list, matched exactly against the (lowercased) tokens.
    List(Vec<String>),
}

impl StopWords {
    /// Whether each term of `sorted` (in increasing byte order) is a stop
    /// word, in one merge pass against the sorted list.
    pub(crate) fn flags_sorted<'a>(&self, sorted: impl Iterator<Item = &'a str>) -> Vec<bool> {
        let mut list: Vec<&str> = match self {
            StopWords::English => crate::stop_words::ENGLISH.to_vec(),
            StopWords::List(list) => list.iter().map(String::as_str).collect(),
        };
        list.sort_unstable();
        let mut k = 0;
        sorted
            .map(|term| {
                while k < list.len() && list[k] < term {
                    k += 1;
                }
                k < list.len() && list[k] == term
            })
            .collect()
    }

    pub(crate) fn contains(&self, term: &str) -> bool {
        match self {
            StopWords::English => crate::stop_words::ENGLISH.binary_search(&term).is_ok(),
            StopWords::List(list) => list.iter().any(|w| w == term),
        }
    }
}

/// The parameters of a TF-IDF vectorizer. [`Default`] gives scikit-learn's
/// `TfidfVectorizer()` defaults: lowercase, no stop words, `min_df = 1`,
/// `max_df = 1.0`, no `max_features`, `norm = "l2"`, `use_idf`, `smooth_idf`,
/// no `sublinear_tf`. The token pattern is always `(?u)\b\w\w+\b`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TfidfParams {
    /// Lowercase with Python's `str.lower()` before tokenizing (default true).
    pub lowercase: bool,
    /// Stop words (default none).
    pub stop_words: Option<StopWords>,
    /// Keep terms in at least this many documents (default count 1).
    pub min_df: DocFreq,
    /// Keep terms in at most this many documents (default proportion 1.0).
    pub max_df: DocFreq,
    /// Keep only the most frequent terms, by total count (default all).
    pub max_features: Option<usize>,
    /// Row normalization (default l2).
    pub norm: Norm,
    /// Weight by inverse document frequency (default true).
    pub use_idf: bool,
    /// Add one to document frequencies, as if one document held every term
    /// (default true).
    pub smooth_idf: bool,
    /// Use 1 + ln(tf) instead of tf (default false).
    pub sublinear_tf: bool,
}

impl Default for TfidfParams {
    fn default() -> Self {
        Self {
            lowercase: true,
            stop_words: None,
            min_df: DocFreq::Count(1),
            max_df: DocFreq::Proportion(1.0),
            max_features: None,
            norm: Norm::L2,
            use_idf: true,
            smooth_idf: true,
            sublinear_tf: false,
        }
    }
}

/// A fitted vectorizer: the vocabulary (sorted, for a fit) and, with
/// `use_idf`, the idf weights. [`TfidfModel::transform`] maps new documents
/// onto it.
#[derive(Debug, Clone)]
pub struct TfidfModel {
    params: TfidfParams,
    vocabulary: Vec<String>,
    /// The known terms, interned in column order: id = column, unless
    /// `columns` maps ids to columns.
    index: Interner,
    /// The column of each id of `index`, when some columns are not known
    /// terms ([`UnseenTerms::Dropped`]).
    columns: Option<Vec<u32>>,
    idf: Option<Vec<f64>>,
    n_docs: usize,
}

/// What a vectorizer rebuilt by [`TfidfModel::from_document_frequencies`]
/// does with the vocabulary's terms that no document held (document
/// frequency 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnseenTerms {
    /// They are not terms of the fitted vectorizer: new documents' tokens
    /// equal to them are dropped, like any unknown token. An ordinary fit has
    /// no such terms; a corpus whose columns were aligned on a previous
    /// vocabulary (new terms appended) has the previous terms its own fit did
    /// not keep, and this treats them as that fit did.
    Dropped,
    /// They are terms with document frequency 0, as
    /// `TfidfVectorizer(vocabulary=…)` keeps every term of its vocabulary
    /// (idf ln((n + 1) / 1) + 1 with smoothing; without, an error).
    Kept,
}

impl UnseenTerms {
    /// What a fit on a fixed vocabulary
    /// ([`TfidfParams::fit_transform_with_vocabulary`]) with `params` makes of
    /// its terms that no document held: [`Kept`](Self::Kept), as
    /// scikit-learn's, unless `use_idf` without `smooth_idf` would make their
    /// idf infinite: then [`Dropped`](Self::Dropped). Either way their
    /// columns hold no value in the fitted matrix.
    pub fn of_fixed_vocabulary(params: &TfidfParams) -> Self {
        if params.use_idf && !params.smooth_idf {
            UnseenTerms::Dropped
        } else {
            UnseenTerms::Kept
        }
    }
}

/// How a fit's documents met its vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VocabularyMatch {
    /// Distinct terms of the documents, stop words aside, that have no
    /// column: pruned by `min_df`, `max_df` or `max_features` in an ordinary
    /// fit, absent from a fixed vocabulary.
    pub unmatched_terms: usize,
    /// Columns that hold no value: terms of a fixed vocabulary that no
    /// document holds (or stop words it lists). 0 in an ordinary fit.
    pub unused_terms: usize,
}

impl VocabularyMatch {
    /// How documents met the fixed vocabulary of `model`, built by
    /// [`TfidfModel::fixed_vocabulary`] from their document frequencies
    /// `df`: `columns` gives the column in `model` of each distinct term of
    /// the documents, stop words aside (`None` without one). `df` holds one
    /// count per column of `model` ([`TextError::DocumentFrequencies`]
    /// otherwise).
    pub fn of_fixed_vocabulary(
        model: &TfidfModel,
        df: &[u64],
        columns: impl Iterator<Item = Option<u32>>,
    ) -> Result<Self, TextError> {
        let vocabulary = model.vocabulary();
        if df.len() != vocabulary.len() {
            return Err(TextError::DocumentFrequencies {
                found: df.len(),
                columns: vocabulary.len(),
            });
        }
        Ok(VocabularyMatch {
            unmatched_terms: columns.filter(Option::is_none).count(),
            unused_terms: (0..vocabulary.len())
                .filter(|&j| df[j] == 0 || model.column(&vocabulary[j]).is_none())
                .count(),
        })
    }
}

/// The idf of a term in `df` of `n_docs` documents: `ln(n / df) + 1`, both
/// counts plus one with smoothing (scikit-learn's formula, in f64).
fn idf_of(df: u64, n_docs: usize, smooth_idf: bool) -> f64 {
    let smooth = if smooth_idf { 1.0 } else { 0.0 };
    let n = n_docs as f64 + smooth;
    (n / (df as f64 + smooth)).ln() + 1.0
}

/// The per-term statistics of a counting pass.
#[derive(Debug, Clone, Default)]
pub(crate) struct TermStats<'a> {
    /// Documents counted.
    pub n_docs: usize,
    /// Distinct terms (after stop words) in sorted order, with their document
    /// frequency and total count.
    pub terms: Vec<(&'a str, u64, u64)>,
}

/// The tokens of a run of documents, counted per document against a local
/// vocabulary.
pub(crate) struct ChunkCounts {
    /// The chunk's distinct terms, ids in order of first sight.
    pub terms: Interner,
    pub indptr: Vec<usize>,
    pub ids: Vec<u32>,
    pub counts: Vec<u32>,
    /// Per term of `terms`: the chunk's documents holding it, and its total
    /// count in them.
    pub df: Vec<u64>,
    pub tf: Vec<u64>,
}

/// The distinct terms of all chunks counted so far, with their document
/// frequencies and total counts: ids in order of merging, which may be any
/// order (only sorted terms matter), so chunks can be merged as they finish.
#[derive(Debug)]
pub(crate) struct MergedTerms {
    pub unique: Interner,
    pub df: Vec<u64>,
    pub tf: Vec<u64>,
}

impl MergedTerms {
    pub(crate) fn with_capacity(terms: usize) -> Self {
        Self {
            unique: Interner::with_capacity(terms),
            df: Vec::with_capacity(terms),
            tf: Vec::with_capacity(terms),
        }
    }

    /// Adds a chunk's terms and statistics; returns the id here of each of
    /// its local ids. The cost is one look-up per distinct term of the chunk,
    /// not per (document, term).
    pub(crate) fn add(&mut self, chunk: &ChunkCounts) -> Vec<u32> {
        let remap = self.unique.merge(&chunk.terms);
        self.df.resize(self.unique.len(), 0);
        self.tf.resize(self.unique.len(), 0);
        for ((&u, &df), &tf) in remap.iter().zip(&chunk.df).zip(&chunk.tf) {
            self.df[u as usize] += df;
            self.tf[u as usize] += tf;
        }
        remap
    }
}

/// The first eight bytes of `term`, big-endian, zero-padded: if the keys of
/// two terms differ, their order is the terms' byte order (a shorter prefix
/// pads with zeros, which sort first), so sorting compares whole terms only on
/// equal keys.
#[inline]
fn prefix_key(term: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    let n = term.len().min(8);
    word[..n].copy_from_slice(&term[..n]);
    u64::from_be_bytes(word)
}

pub(crate) fn count_chunk<S: AsRef<str>>(docs: &[S], lowercase: bool) -> ChunkCounts {
    count_chunk_reusing(docs, lowercase, None)
}

/// [`count_chunk`], with the term table of a chunk already merged (`spare`),
/// emptied, when there is one: its memory is mapped already, a fresh table's
/// is not (page faults).
pub(crate) fn count_chunk_reusing<S: AsRef<str>>(
    docs: &[S],
    lowercase: bool,
    spare: Option<Interner>,
) -> ChunkCounts {
    let bytes: usize = docs.iter().map(|d| d.as_ref().len()).sum();
    // About one distinct term per 40 bytes of text on English prose, and one
    // (document, term) entry per 20 bytes: room enough that the vectors
    // rarely grow (growing copies them).
    let distinct = bytes / 40 + 64;
    let entries = bytes / 16 + 64;
    let mut terms = match spare {
        Some(mut terms) => {
            terms.clear();
            terms
        }
        None => Interner::with_capacity(distinct),
    };
    let mut tally: Vec<u32> = Vec::with_capacity(distinct);
    let mut touched: Vec<u32> = Vec::new();
    let mut indptr = Vec::with_capacity(docs.len() + 1);
    let mut ids = Vec::with_capacity(entries);
    let mut counts = Vec::with_capacity(entries);
    let mut df: Vec<u64> = Vec::with_capacity(distinct);
    let mut tf: Vec<u64> = Vec::with_capacity(distinct);
    let mut buf = String::new();
    indptr.push(0);
    for doc in docs {
        for_each_token(doc.as_ref(), lowercase, &mut buf, |token| {
            let id = terms.intern(token);
            if id as usize == tally.len() {
                tally.push(0);
            }
            let slot = &mut tally[id as usize];
            if *slot == 0 {
                touched.push(id);
            }
            *slot += 1;
        });
        for id in touched.drain(..) {
            let count = std::mem::take(&mut tally[id as usize]);
            ids.push(id);
            counts.push(count);
            if id as usize == df.len() {
                df.push(0);
                tf.push(0);
            }
            df[id as usize] += 1;
            tf[id as usize] += u64::from(count);
        }
        indptr.push(ids.len());
    }
    // Ids enter `touched` in increasing order (first sight), so every term
    // has its entry by now.
    debug_assert_eq!(df.len(), terms.len());
    ChunkCounts {
        terms,
        indptr,
        ids,
        counts,
        df,
        tf,
    }
}

/// Documents per parallel task for `n` documents: a few tasks per thread
/// (fewer tasks mean fewer local vocabularies to merge), at least
/// [`CHUNK_DOCS`]. Results do not depend on it.
fn chunk_len(n: usize) -> usize {
    let tasks = 4 * rayon::current_num_threads().max(1);
    n.div_ceil(tasks).max(CHUNK_DOCS)
}

impl TfidfParams {
    /// Sets `stop_words`.
    pub fn stop_words(mut self, stop_words: Option<StopWords>) -> Self {
        self.stop_words = stop_words;
        self
    }

    /// Sets `min_df`.
    pub fn min_df(mut self, min_df: DocFreq) -> Self {
        self.min_df = min_df;
        self
    }

    /// Sets `max_df`.
    pub fn max_df(mut self, max_df: DocFreq) -> Self {
        self.max_df = max_df;
        self
    }

    /// Sets `max_features`.
    pub fn max_features(mut self, max_features: Option<usize>) -> Self {
        self.max_features = max_features;
        self
    }

    /// Sets `norm`.
    pub fn norm(mut self, norm: Norm) -> Self {
        self.norm = norm;
        self
    }

    /// Sets `use_idf`.
    pub fn use_idf(mut self, use_idf: bool) -> Self {
        self.use_idf = use_idf;
        self
    }

    /// Sets `smooth_idf`.
    pub fn smooth_idf(mut self, smooth_idf: bool) -> Self {
        self.smooth_idf = smooth_idf;
        self
    }

    /// Sets `sublinear_tf`.
    pub fn sublinear_tf(mut self, sublinear_tf: bool) -> Self {
        self.sublinear_tf = sublinear_tf;
        self
    }

    /// Sets `lowercase`.
    pub fn lowercase(mut self, lowercase: bool) -> Self {
        self.lowercase = lowercase;
        self
    }

    /// Checks the parameters, one error per rule, before any work.
    pub fn validate(&self) -> Result<(), TextError> {
        if !self.min_df.is_valid() {
            return Err(TextError::InvalidMinDf(self.min_df.to_string()));
        }
        if !self.max_df.is_valid() {
            return Err(TextError::InvalidMaxDf(self.max_df.to_string()));
        }
        if self.max_features == Some(0) {
            return Err(TextError::InvalidMaxFeatures);
        }
        Ok(())
    }

    /// Learns the vocabulary and idf of `docs` and returns their TF-IDF matrix
    /// (one row per document, in order; empty documents give empty rows), as
    /// scikit-learn's `TfidfVectorizer.fit_transform`.
    ///
    /// Runs on the current rayon pool; the result does not depend on its size.
    pub fn fit_transform<S: AsRef<str> + Sync>(
        &self,
        docs: &[S],
    ) -> Result<(TfidfModel, CsrMatrix), TextError> {
        let (model, matrix, _) = self.fit_documents(docs, None)?;
        Ok((model, matrix))
    }

    /// [`fit_transform`](Self::fit_transform) on a fixed vocabulary, as
    /// scikit-learn's `TfidfVectorizer(vocabulary=…).fit_transform`: column
    /// `j` is `vocabulary[j]`, other tokens are dropped, and the idf comes
    /// from these documents' counts of the vocabulary's terms. `min_df`,
    /// `max_df` and `max_features` do not apply. Values are computed once,
    /// from the counts, as in any fit. Stop words are never counted, even
    /// when the vocabulary lists them.
    ///
    /// Terms no document holds keep their (empty) columns; in the returned
    /// model they are what [`UnseenTerms::of_fixed_vocabulary`] says. A term
    /// listed twice is an error ([`TextError::FixedVocabulary`]).
    pub fn fit_transform_with_vocabulary<S: AsRef<str> + Sync>(
        &self,
        vocabulary: &[String],
        docs: &[S],
    ) -> Result<(TfidfModel, CsrMatrix, VocabularyMatch), TextError> {
        self.fit_documents(docs, Some(vocabulary))
    }

    /// [`fit_transform`](Self::fit_transform) on a learned or a `fixed`
    /// vocabulary.
    fn fit_documents<S: AsRef<str> + Sync>(
        &self,
        docs: &[S],
        fixed: Option<&[String]>,
    ) -> Result<(TfidfModel, CsrMatrix, VocabularyMatch), TextError> {
        self.validate()?;
        if docs.is_empty() {
            return Err(TextError::NoDocuments);
        }
        let lowercase = self.lowercase;
        let chunks: Vec<ChunkCounts> = docs
            .par_chunks(chunk_len(docs.len()))
            .map(|c| count_chunk(c, lowercase))
            .collect();
        let (model, rows, matched) = self.fit_chunks(&chunks, docs.len(), fixed)?;
        let matrix = assemble(docs.len(), model.vocabulary.len(), rows);
        Ok((model, matrix, matched))
    }

    /// Loads 20 Newsgroups (as [`load_20newsgroups`](crate::load_20newsgroups))
    /// and fits on its texts (as [`fit_transform`](Self::fit_transform)) in one
    /// pipelined pass: each block of posts is tokenized and counted as soon as
    /// it is inflated and cleaned, while the next block inflates. The result is
    /// identical to the two calls in a row, whatever the thread count.
    pub fn fit_transform_20newsgroups(
        &self,
        path: &std::path::Path,
        options: &crate::NewsgroupsOptions,
    ) -> Result<(crate::Documents, TfidfModel, CsrMatrix), TextError> {
        let (docs, model, matrix, _) =
            self.fit_transform_20newsgroups_texts(path, options, true, None)?;
        Ok((docs, model, matrix))
    }

    /// [`fit_transform_20newsgroups`](Self::fit_transform_20newsgroups) for a
    /// caller that needs the documents' ids and labels, not their texts: each
    /// text is freed as soon as it is counted, and the documents' `texts` are
    /// empty strings. Less memory (the 18,846 cleaned posts are about 28 MB),
    /// and faster (that memory is not mapped afresh, page by page).
    pub fn fit_transform_20newsgroups_without_texts(
        &self,
        path: &std::path::Path,
        options: &crate::NewsgroupsOptions,
    ) -> Result<(crate::Documents, TfidfModel, CsrMatrix), TextError> {
        let (docs, model, matrix, _) =
            self.fit_transform_20newsgroups_texts(path, options, false, None)?;
        Ok((docs, model, matrix))
    }

    /// [`fit_transform_20newsgroups_without_texts`](Self::fit_transform_20newsgroups_without_texts)
    /// on a fixed vocabulary, as
    /// [`fit_transform_with_vocabulary`](Self::fit_transform_with_vocabulary).
    pub fn fit_transform_20newsgroups_with_vocabulary(
        &self,
        vocabulary: &[String],
        path: &std::path::Path,
        options: &crate::NewsgroupsOptions,
    ) -> Result<(crate::Documents, TfidfModel, CsrMatrix, VocabularyMatch), TextError> {
        self.fit_transform_20newsgroups_texts(path, options, false, Some(vocabulary))
    }

    fn fit_transform_20newsgroups_texts(
        &self,
        path: &std::path::Path,
        options: &crate::NewsgroupsOptions,
        keep_texts: bool,
        fixed: Option<&[String]>,
    ) -> Result<(crate::Documents, TfidfModel, CsrMatrix, VocabularyMatch), TextError> {
        self.validate()?;
        let lowercase = self.lowercase;
        // Each block's terms are merged into one table as soon as the block
        // is counted, off the serial tail of the pipeline.
        let merged = std::sync::Mutex::new(MergedTerms::with_capacity(1 << 17));
        // The term tables of merged blocks, for the next blocks to reuse.
        let spare: std::sync::Mutex<Vec<Interner>> = std::sync::Mutex::default();
        let (docs, origins, counted, _) =
            crate::newsgroups::load_20newsgroups_with(path, options, &|posts| {
                let reused = spare.lock().expect("a push does not panic").pop();
                let mut chunk = count_chunk_reusing(posts, lowercase, reused);
                let remap = merged.lock().expect("a merge does not panic").add(&chunk);
                let terms = std::mem::replace(&mut chunk.terms, Interner::with_capacity(0));
                spare.lock().expect("a pop does not panic").push(terms);
                if !keep_texts {
                    // Freed while the tarball still inflates: the next
                    // blocks' posts reuse the memory.
                    posts.iter_mut().for_each(|p| p.text = String::new());
                }
                (chunk, remap)
            })?;
        if docs.is_empty() {
            return Err(TextError::NoDocuments);
        }
        let merged = merged.into_inner().expect("a merge does not panic");
        let (chunks, remaps): (Vec<ChunkCounts>, Vec<Vec<u32>>) = counted.into_iter().unzip();
        let (model, blocks, matched) =
            self.fit_merged(&chunks, &remaps, &merged, docs.len(), fixed)?;
        let matrix = in_document_order(&origins, &blocks, model.vocabulary.len());
        Ok((docs, model, matrix, matched))
    }

    /// The model and the rows (one block per chunk, rows in chunk order) of
    /// documents counted by chunks, on a learned or a `fixed` vocabulary.
    fn fit_chunks(
        &self,
        chunks: &[ChunkCounts],
        n_docs: usize,
        fixed: Option<&[String]>,
    ) -> Result<(TfidfModel, Vec<RowBlock>, VocabularyMatch), TextError> {
        // One id per distinct term, in order of first sight.
        let largest = chunks.iter().map(|c| c.terms.len()).max().unwrap_or(0);
        let mut merged = MergedTerms::with_capacity(2 * largest);
        let remaps: Vec<Vec<u32>> = chunks.iter().map(|chunk| merged.add(chunk)).collect();
        self.fit_merged(chunks, &remaps, &merged, n_docs, fixed)
    }

    /// [`fit_chunks`](Self::fit_chunks) once each chunk's terms are merged
    /// into `unique`: `remaps[c][local id]` is the id in `unique`. The ids of
    /// `unique` may come in any order (only sorted terms matter), so chunks
    /// can be merged as they finish.
    fn fit_merged(
        &self,
        chunks: &[ChunkCounts],
        remaps: &[Vec<u32>],
        merged: &MergedTerms,
        n_docs: usize,
        fixed: Option<&[String]>,
    ) -> Result<(TfidfModel, Vec<RowBlock>, VocabularyMatch), TextError> {
        if let Some(vocabulary) = fixed {
            return self.fit_fixed(vocabulary, chunks, remaps, merged, n_docs);
        }
        let unique = &merged.unique;
        // Ids in sorted (code point = UTF-8 byte) order: by an 8-byte prefix
        // key, whole terms compared only on a tie.
        let mut keyed: Vec<(u64, u32)> = (0..unique.len() as u32)
            .into_par_iter()
            .map(|u| (prefix_key(unique.get(u)), u))
            .collect();
        keyed.par_sort_unstable_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| unique.get(a.1).cmp(unique.get(b.1)))
        });
        let order: Vec<u32> = keyed.into_iter().map(|(_, u)| u).collect();
        let stop = self
            .stop_words
            .as_ref()
            .map(|s| s.flags_sorted(order.iter().map(|&u| unique.get_str(u))));
        let is_stop = |r: usize| stop.as_ref().is_some_and(|s| s[r]);
        // The terms of the stats (sorted, no stop words) by their unique id.
        let mut stats_ids = Vec::with_capacity(order.len());
        let mut terms = Vec::with_capacity(order.len());
        for (r, &u) in order.iter().enumerate() {
            if !is_stop(r) {
                stats_ids.push(u);
                terms.push((
                    unique.get_str(u),
                    merged.df[u as usize],
                    merged.tf[u as usize],
                ));
            }
        }
        let stats = TermStats { n_docs, terms };
        let (mut model, kept) = self.model_from_stats_unindexed(stats)?;
        // Column of each unique id in the final matrix, or MAX when dropped.
        let mut column = vec![u32::MAX; unique.len()];
        for (&u, &c) in stats_ids.iter().zip(&kept) {
            column[u as usize] = c;
        }
        // The model's term index (serial work) is built while the rows are.
        let model_ref = &model;
        let (rows, index) = rayon::join(
            || self.rows_of_chunks(model_ref, chunks, remaps, &column),
            || term_index(&model_ref.vocabulary),
        );
        model.index = index;
        let matched = VocabularyMatch {
            unmatched_terms: kept.iter().filter(|&&c| c == u32::MAX).count(),
            unused_terms: 0,
        };
        Ok((model, rows, matched))
    }

    /// [`fit_merged`](Self::fit_merged) on a fixed vocabulary (see
    /// [`fit_transform_with_vocabulary`](Self::fit_transform_with_vocabulary)):
    /// the vectorizer is the one [`TfidfModel::from_document_frequencies`]
    /// builds from the counted document frequencies of its terms.
    fn fit_fixed(
        &self,
        vocabulary: &[String],
        chunks: &[ChunkCounts],
        remaps: &[Vec<u32>],
        merged: &MergedTerms,
        n_docs: usize,
    ) -> Result<(TfidfModel, Vec<RowBlock>, VocabularyMatch), TextError> {
        let unique = &merged.unique;
        let df: Vec<u64> = vocabulary
            .iter()
            .map(|term| unique.find(term).map_or(0, |u| merged.df[u as usize]))
            .collect();
        let model = TfidfModel::fixed_vocabulary(self.clone(), vocabulary.to_vec(), &df, n_docs)?;
        // Column of each counted term, u32::MAX when not a known term (stop
        // words included).
        let column: Vec<u32> = (0..unique.len() as u32)
            .into_par_iter()
            .map(|u| model.column(unique.get_str(u)).unwrap_or(u32::MAX))
            .collect();
        let is_stop = |term: &str| self.stop_words.as_ref().is_some_and(|s| s.contains(term));
        let matched = VocabularyMatch::of_fixed_vocabulary(
            &model,
            &df,
            (0..unique.len() as u32)
                .filter(|&u| !is_stop(unique.get_str(u)))
                .map(|u| Some(column[u as usize]).filter(|&c| c != u32::MAX)),
        )?;
        let rows = self.rows_of_chunks(&model, chunks, remaps, &column);
        Ok((model, rows, matched))
    }

    /// The rows of counted chunks: `remaps[c][local id]` is the unique id of a
    /// chunk's term, `column[unique id]` its column or `u32::MAX` when pruned.
    fn rows_of_chunks(
        &self,
        model: &TfidfModel,
        chunks: &[ChunkCounts],
        remaps: &[Vec<u32>],
        column: &[u32],
    ) -> Vec<RowBlock> {
        chunks
            .par_iter()
            .zip(remaps)
            .map(|(chunk, remap)| {
                let local: Vec<u32> = remap.iter().map(|&u| column[u as usize]).collect();
                // Room for every entry counted (pruned terms only make rows
                // shorter): the vectors never grow, so are never copied.
                let mut block = RowBlock {
                    lengths: Vec::with_capacity(chunk.indptr.len() - 1),
                    indices: Vec::with_capacity(chunk.ids.len()),
                    values: Vec::with_capacity(chunk.ids.len()),
                };
                let mut row: Vec<(u32, u32)> = Vec::new();
                for d in 0..chunk.indptr.len() - 1 {
                    row.clear();
                    let (a, b) = (chunk.indptr[d], chunk.indptr[d + 1]);
                    for (&id, &count) in chunk.ids[a..b].iter().zip(&chunk.counts[a..b]) {
                        let col = local[id as usize];
                        if col != u32::MAX {
                            row.push((col, count));
                        }
                    }
                    model.push_row(&mut row, &mut block);
                }
                block
            })
            .collect()
    }

    /// The fitted model for terms counted over a corpus: prunes by document
    /// frequency and `max_features`, computes idf. Also returns, for each term
    /// of `stats`, its column or `u32::MAX` when pruned. The model's term
    /// index is left empty: the caller builds it with [`term_index`] (which
    /// [`model_from_stats`](Self::model_from_stats) does), possibly while
    /// doing other work.
    pub(crate) fn model_from_stats_unindexed(
        &self,
        stats: TermStats<'_>,
    ) -> Result<(TfidfModel, Vec<u32>), TextError> {
        let n_docs = stats.n_docs;
        if stats.terms.is_empty() {
            return Err(TextError::EmptyVocabulary);
        }
        let high = self.max_df.threshold(n_docs);
        let low = self.min_df.threshold(n_docs);
        if high < low {
            return Err(TextError::MaxDfBelowMinDf);
        }
        let mut keep: Vec<bool> = stats
            .terms
            .iter()
            .map(|&(_, df, _)| (df as f64) <= high && (df as f64) >= low)
            .collect();
        if let Some(limit) = self.max_features {
            let mut candidates: Vec<usize> = (0..keep.len()).filter(|&i| keep[i]).collect();
            if candidates.len() > limit {
                // Most frequent first; ties in vocabulary order (a stable sort).
                candidates.sort_by_key(|&i| std::cmp::Reverse(stats.terms[i].2));
                keep.iter_mut().for_each(|k| *k = false);
                for &i in &candidates[..limit] {
                    keep[i] = true;
                }
            }
        }
        let mut kept = vec![u32::MAX; keep.len()];
        let mut vocabulary = Vec::new();
        let mut dfs = Vec::new();
        for (i, &(term, df, _)) in stats.terms.iter().enumerate() {
            if keep[i] {
                kept[i] = vocabulary.len() as u32;
                vocabulary.push(String::from(term));
                dfs.push(df);
            }
        }
        if vocabulary.is_empty() {
            return Err(TextError::NoTermsAfterPruning);
        }
        let idf = self.use_idf.then(|| {
            dfs.iter()
                .map(|&df| idf_of(df, n_docs, self.smooth_idf))
                .collect()
        });
        Ok((
            TfidfModel {
                params: self.clone(),
                vocabulary,
                index: Interner::with_capacity(0),
                columns: None,
                idf,
                n_docs,
            },
            kept,
        ))
    }

    /// [`model_from_stats_unindexed`](Self::model_from_stats_unindexed) with
    /// the model's term index built.
    pub(crate) fn model_from_stats(
        &self,
        stats: TermStats<'_>,
    ) -> Result<(TfidfModel, Vec<u32>), TextError> {
        let (mut model, kept) = self.model_from_stats_unindexed(stats)?;
        model.index = term_index(&model.vocabulary);
        Ok((model, kept))
    }
}

/// The rows of a 20 Newsgroups load, computed by batch in reading order
/// (`blocks`, one per batch), gathered in document order: document d's row is
/// row `origins[d].1` of block `origins[d].0`.
fn in_document_order(origins: &[(u32, u32)], blocks: &[RowBlock], n_cols: usize) -> CsrMatrix {
    let starts: Vec<Vec<usize>> = blocks
        .iter()
        .map(|b| {
            let mut at = 0;
            let mut starts = Vec::with_capacity(b.lengths.len() + 1);
            starts.push(0);
            for &len in &b.lengths {
                at += len;
                starts.push(at);
            }
            starts
        })
        .collect();
    let nnz: usize = blocks.iter().map(|b| b.indices.len()).sum();
    let mut indptr = Vec::with_capacity(origins.len() + 1);
    let mut indices = Vec::with_capacity(nnz);
    let mut values = Vec::with_capacity(nnz);
    indptr.push(0u64);
    for &(b, i) in origins {
        let (block, starts) = (&blocks[b as usize], &starts[b as usize]);
        let row = starts[i as usize]..starts[i as usize + 1];
        indices.extend_from_slice(&block.indices[row.clone()]);
        values.extend_from_slice(&block.values[row]);
        indptr.push(indices.len() as u64);
    }
    CsrMatrix::new((origins.len(), n_cols), indptr, indices, values)
}

/// The look-up table of a model's vocabulary: term → column.
fn term_index(vocabulary: &[String]) -> Interner {
    let mut index = Interner::with_capacity(vocabulary.len());
    for term in vocabulary {
        index.intern(term);
    }
    index
}

/// Rows of a run of documents, in CSR parts.
#[derive(Default)]
pub(crate) struct RowBlock {
    pub lengths: Vec<usize>,
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

fn assemble(n_rows: usize, n_cols: usize, blocks: Vec<RowBlock>) -> CsrMatrix {
    let nnz: usize = blocks.iter().map(|b| b.indices.len()).sum();
    let mut indptr = Vec::with_capacity(n_rows + 1);
    let mut indices = Vec::with_capacity(nnz);
    let mut values = Vec::with_capacity(nnz);
    indptr.push(0u64);
    let mut at = 0u64;
    for block in blocks {
        for len in &block.lengths {
            at += *len as u64;
            indptr.push(at);
        }
        indices.extend_from_slice(&block.indices);
        values.extend_from_slice(&block.values);
    }
    assert_eq!(indptr.len(), n_rows + 1, "one row per document");
    CsrMatrix::new((n_rows, n_cols), indptr, indices, values)
}

impl TfidfModel {
    /// The vectorizer a fit with `params` learned from `n_docs` documents,
    /// rebuilt from its vocabulary (in column order, any order) and the
    /// number of documents holding each term (`df`, per column): the idf
    /// follows from them with the fit's formula, to the bit. What a corpus
    /// directory holds is enough: a column's document frequency is its
    /// number of non-zeros. `unseen` says what terms of document frequency
    /// 0 are.
    pub fn from_document_frequencies(
        params: TfidfParams,
        vocabulary: Vec<String>,
        df: &[u64],
        n_docs: usize,
        unseen: UnseenTerms,
    ) -> Result<Self, TextError> {
        let fail = |message: String| Err(TextError::Rebuild(message));
        if df.len() != vocabulary.len() {
            return fail(format!(
                "{} document frequencies for {} terms",
                df.len(),
                vocabulary.len()
            ));
        }
        if vocabulary.len() > u32::MAX as usize {
            return fail(format!("{} terms is too many", vocabulary.len()));
        }
        if let Some(j) = df.iter().position(|&d| d > n_docs as u64) {
            return fail(format!(
                "term `{}` is in {} documents of {n_docs}",
                vocabulary[j], df[j]
            ));
        }
        // Stop words never reach the vocabulary look-up (scikit-learn's
        // analyzer removes them first), even when the vocabulary lists them.
        let stop = |j: usize| {
            params
                .stop_words
                .as_ref()
                .is_some_and(|s| s.contains(&vocabulary[j]))
        };
        let known = |j: usize| !stop(j) && (df[j] > 0 || unseen == UnseenTerms::Kept);
        if params.use_idf && !params.smooth_idf {
            if let Some(j) = (0..df.len()).find(|&j| known(j) && df[j] == 0) {
                return fail(format!(
                    "term `{}` is in none of the {n_docs} documents and idf smoothing is \
                     off: its idf would be infinite",
                    vocabulary[j]
                ));
            }
        }
        let mut index = Interner::with_capacity(vocabulary.len());
        let mut columns = Vec::new();
        for (j, term) in vocabulary.iter().enumerate() {
            if !known(j) {
                continue;
            }
            let id = index.intern(term);
            if id as usize != columns.len() {
                return fail(format!("the vocabulary lists `{term}` twice"));
            }
            columns.push(j as u32);
        }
        let identity = columns.len() == vocabulary.len();
        let idf = params.use_idf.then(|| {
            (0..df.len())
                .map(|j| match known(j) {
                    true => idf_of(df[j], n_docs, params.smooth_idf),
                    false => 0.0,
                })
                .collect()
        });
        Ok(TfidfModel {
            params,
            vocabulary,
            index,
            columns: (!identity).then_some(columns),
            idf,
            n_docs,
        })
    }

    /// The vectorizer a fit on a fixed vocabulary
    /// ([`TfidfParams::fit_transform_with_vocabulary`]) with `params` learns
    /// from `n_docs` documents, of which `df[j]` hold `vocabulary[j]`: terms
    /// of no document are what [`UnseenTerms::of_fixed_vocabulary`] says. A
    /// term listed twice is a [`TextError::FixedVocabulary`], an empty
    /// vocabulary a [`TextError::EmptyFixedVocabulary`].
    pub fn fixed_vocabulary(
        params: TfidfParams,
        vocabulary: Vec<String>,
        df: &[u64],
        n_docs: usize,
    ) -> Result<Self, TextError> {
        if vocabulary.is_empty() {
            return Err(TextError::EmptyFixedVocabulary);
        }
        let unseen = UnseenTerms::of_fixed_vocabulary(&params);
        Self::from_document_frequencies(params, vocabulary, df, n_docs, unseen).map_err(|e| match e
        {
            TextError::Rebuild(message) => TextError::FixedVocabulary(message),
            e => e,
        })
    }

    /// The vectorizer a fit on the fixed `vocabulary` learns from the
    /// documents this one was fitted on, given this one's columns' document
    /// frequencies `df`, and how those documents met it. This one must hold
    /// every term of its documents, stop words aside (fitted with `min_df`
    /// 1, no `max_df`, no `max_features`): a term it lacks counts as in no
    /// document. The streaming build's way to a fixed vocabulary: its first
    /// pass is such a fit. `df` holds one count per column of this one
    /// ([`TextError::DocumentFrequencies`] otherwise).
    pub fn on_fixed_vocabulary(
        &self,
        df: &[u64],
        vocabulary: Vec<String>,
    ) -> Result<(TfidfModel, VocabularyMatch), TextError> {
        if df.len() != self.vocabulary.len() {
            return Err(TextError::DocumentFrequencies {
                found: df.len(),
                columns: self.vocabulary.len(),
            });
        }
        let df_fixed: Vec<u64> = vocabulary
            .iter()
            .map(|term| self.column(term).map_or(0, |c| df[c as usize]))
            .collect();
        let model =
            Self::fixed_vocabulary(self.params.clone(), vocabulary, &df_fixed, self.n_docs)?;
        let columns = self.vocabulary.iter().map(|term| model.column(term));
        let matched = VocabularyMatch::of_fixed_vocabulary(&model, &df_fixed, columns)?;
        Ok((model, matched))
    }

    /// The terms in column order (sorted, for a fit): column `j` of the
    /// matrix is `vocabulary()[j]`.
    pub fn vocabulary(&self) -> &[String] {
        &self.vocabulary
    }

    /// The idf weight of each column, when `use_idf` (0 for a column that is
    /// not a known term, see [`UnseenTerms`]).
    pub fn idf(&self) -> Option<&[f64]> {
        self.idf.as_deref()
    }

    /// The parameters the model was fitted with.
    pub fn params(&self) -> &TfidfParams {
        &self.params
    }

    /// The number of documents the model was fitted on.
    pub fn n_docs(&self) -> usize {
        self.n_docs
    }

    /// How many of the vocabulary's terms new documents can hold: all of
    /// them for a fit, fewer where [`UnseenTerms`] drops some.
    pub fn known_terms(&self) -> usize {
        self.index.len()
    }

    /// The column of `term`, if in the vocabulary (and known: see
    /// [`UnseenTerms`]).
    #[inline]
    pub fn column(&self, term: &str) -> Option<u32> {
        let id = self.index.find(term)?;
        Some(match &self.columns {
            Some(columns) => columns[id as usize],
            None => id,
        })
    }

    /// The TF-IDF matrix of new documents over the fitted vocabulary and idf;
    /// unknown terms are dropped, as scikit-learn's `transform`.
    pub fn transform<S: AsRef<str> + Sync>(&self, docs: &[S]) -> CsrMatrix {
        let blocks: Vec<RowBlock> = docs
            .par_chunks(chunk_len(docs.len()))
            .map(|chunk| self.transform_block(chunk))
            .collect();
        assemble(docs.len(), self.vocabulary.len(), blocks)
    }

    /// Loads 20 Newsgroups (as [`load_20newsgroups`](crate::load_20newsgroups))
    /// and transforms its posts in one pipelined pass: each block of posts is
    /// vectorized as soon as it is inflated and cleaned, while the next block
    /// inflates, and its texts are then freed (the documents' `texts` are
    /// empty strings). The same rows as [`transform`](Self::transform) of the
    /// loaded texts.
    pub fn transform_20newsgroups(
        &self,
        path: &std::path::Path,
        options: &crate::NewsgroupsOptions,
    ) -> Result<(crate::Documents, CsrMatrix), TextError> {
        let (docs, origins, blocks, _) =
            crate::newsgroups::load_20newsgroups_with(path, options, &|posts| {
                let block = self.transform_block(posts);
                posts.iter_mut().for_each(|p| p.text = String::new());
                block
            })?;
        if docs.is_empty() {
            return Err(TextError::NoDocuments);
        }
        let matrix = in_document_order(&origins, &blocks, self.vocabulary.len());
        Ok((docs, matrix))
    }

    /// The rows of `docs`, serially.
    pub(crate) fn transform_block<S: AsRef<str>>(&self, docs: &[S]) -> RowBlock {
        let mut block = RowBlock::default();
        let mut tally = vec![0u32; self.vocabulary.len()];
        let mut touched: Vec<u32> = Vec::new();
        let mut row: Vec<(u32, u32)> = Vec::new();
        let mut buf = String::new();
        for doc in docs {
            for_each_token(doc.as_ref(), self.params.lowercase, &mut buf, |token| {
                if let Some(col) = self.column(token) {
                    let slot = &mut tally[col as usize];
                    if *slot == 0 {
                        touched.push(col);
                    }
                    *slot += 1;
                }
            });
            row.clear();
            row.extend(
                touched
                    .drain(..)
                    .map(|c| (c, std::mem::take(&mut tally[c as usize]))),
            );
            self.push_row(&mut row, &mut block);
        }
        block
    }

    /// Appends one document's row, given its `(column, count)` pairs in any
    /// order: sorts them, weights (f64, as scikit-learn), normalizes, rounds to
    /// f32 once.
    fn push_row(&self, row: &mut [(u32, u32)], block: &mut RowBlock) {
        row.sort_unstable_by_key(|&(c, _)| c);
        let weight = |col: u32, count: u32| {
            let w = if self.params.sublinear_tf {
                (count as f64).ln() + 1.0
            } else {
                count as f64
            };
            match &self.idf {
                Some(idf) => w * idf[col as usize],
                None => w,
            }
        };
        // Two passes over the row rather than a buffer of weights: the
        // weights are recomputed identically (same f64 operations).
        let scale = match self.params.norm {
            Norm::L2 => row
                .iter()
                .map(|&(c, n)| {
                    let w = weight(c, n);
                    w * w
                })
                .sum::<f64>()
                .sqrt(),
            Norm::L1 => row.iter().map(|&(c, n)| weight(c, n).abs()).sum::<f64>(),
            Norm::None => 1.0,
        };
        let scale = if scale == 0.0 { 1.0 } else { scale };
        block.indices.extend(row.iter().map(|&(c, _)| c));
        block
            .values
            .extend(row.iter().map(|&(c, n)| (weight(c, n) / scale) as f32));
        block.lengths.push(row.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dense, naive TF-IDF straight from the formulas, as an independent check.
    fn naive(docs: &[&str], params: &TfidfParams) -> (Vec<String>, Vec<Vec<f64>>) {
        naive_on(docs, params, None)
    }

    /// [`naive`] on a learned or a `fixed` vocabulary (no pruning then).
    fn naive_on(
        docs: &[&str],
        params: &TfidfParams,
        fixed: Option<&[String]>,
    ) -> (Vec<String>, Vec<Vec<f64>>) {
        let tokens: Vec<Vec<String>> = docs
            .iter()
            .map(|d| {
                crate::tokenize::tokenize(d)
                    .into_iter()
                    .filter(|t| params.stop_words.as_ref().is_none_or(|s| !s.contains(t)))
                    .collect()
            })
            .collect();
        let mut vocab: Vec<String> = tokens.iter().flatten().cloned().collect();
        vocab.sort();
        vocab.dedup();
        let n = docs.len() as f64;
        let df = |t: &String| tokens.iter().filter(|d| d.contains(t)).count() as f64;
        let vocab: Vec<String> = match fixed {
            Some(fixed) => fixed.to_vec(),
            None => vocab
                .into_iter()
                .filter(|t| {
                    df(t) >= params.min_df.threshold(docs.len())
                        && df(t) <= params.max_df.threshold(docs.len())
                })
                .collect(),
        };
        let rows = tokens
            .iter()
            .map(|d| {
                let mut row: Vec<f64> = vocab
                    .iter()
                    .map(|t| {
                        let c = d.iter().filter(|x| *x == t).count() as f64;
                        if c == 0.0 {
                            return 0.0;
                        }
                        let tf = if params.sublinear_tf { 1.0 + c.ln() } else { c };
                        let s = if params.smooth_idf { 1.0 } else { 0.0 };
                        let idf = if params.use_idf {
                            ((n + s) / (df(t) + s)).ln() + 1.0
                        } else {
                            1.0
                        };
                        tf * idf
                    })
                    .collect();
                let norm = match params.norm {
                    Norm::L2 => row.iter().map(|x| x * x).sum::<f64>().sqrt(),
                    Norm::L1 => row.iter().sum::<f64>(),
                    Norm::None => 1.0,
                };
                if norm > 0.0 {
                    row.iter_mut().for_each(|x| *x /= norm);
                }
                row
            })
            .collect();
        (vocab, rows)
    }

    const DOCS: [&str; 5] = [
        "The cat sat on the mat. The cat!",
        "A dog and a cat; the DOG barked.",
        "",
        "Mat, mat, mat: nothing else here",
        "and the end of the dog",
    ];

    fn check(params: TfidfParams) {
        let (model, x) = params.fit_transform(&DOCS).unwrap();
        let (vocab, dense) = naive(&DOCS, &params);
        assert_eq!(model.vocabulary(), vocab.as_slice());
        assert_eq!(x.shape(), (DOCS.len(), vocab.len()));
        assert_equals_dense(&x, &dense, &params);
    }

    /// `x` holds the values of `dense` (to 1e-6) and no other non-zero.
    fn assert_equals_dense(x: &CsrMatrix, dense: &[Vec<f64>], params: &TfidfParams) {
        for (i, row) in dense.iter().enumerate() {
            let got = x.outer_view(i).unwrap();
            for (j, &want) in row.iter().enumerate() {
                let have = got.get(j).copied().unwrap_or(0.0) as f64;
                assert!(
                    (have - want).abs() < 1e-6,
                    "{params:?} ({i},{j}): {have} vs {want}"
                );
            }
            assert_eq!(got.nnz(), row.iter().filter(|&&v| v != 0.0).count());
        }
    }

    #[test]
    fn matches_naive_formulas_for_every_option() {
        check(TfidfParams::default());
        check(TfidfParams::default().stop_words(Some(StopWords::English)));
        check(TfidfParams::default().norm(Norm::L1).sublinear_tf(true));
        check(TfidfParams::default().norm(Norm::None).smooth_idf(false));
        check(TfidfParams::default().use_idf(false));
        check(TfidfParams::default().min_df(DocFreq::Count(2)));
        check(TfidfParams::default().max_df(DocFreq::Proportion(0.4)));
        check(TfidfParams::default().min_df(DocFreq::Proportion(0.3)));
    }

    /// A fixed vocabulary: not sorted, with a term of no document
    /// ("zebra"), a stop word ("the") and a term below any `min_df`
    /// ("barked"), without most of the documents' terms.
    fn fixed_vocabulary() -> Vec<String> {
        ["mat", "zebra", "dog", "the", "cat", "barked"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn a_fixed_vocabulary_fit_matches_naive_formulas_for_every_option() {
        let fixed = fixed_vocabulary();
        for params in [
            TfidfParams::default(),
            TfidfParams::default().stop_words(Some(StopWords::English)),
            TfidfParams::default().norm(Norm::L1).sublinear_tf(true),
            TfidfParams::default().norm(Norm::None).smooth_idf(false),
            TfidfParams::default().use_idf(false),
            // Document-frequency limits do not apply to a fixed vocabulary.
            TfidfParams::default()
                .min_df(DocFreq::Count(3))
                .max_features(Some(1)),
        ] {
            let (model, x, matched) = params.fit_transform_with_vocabulary(&fixed, &DOCS).unwrap();
            let (_, dense) = naive_on(&DOCS, &params, Some(&fixed));
            assert_eq!(model.vocabulary(), fixed.as_slice());
            assert_eq!(x.shape(), (DOCS.len(), fixed.len()));
            assert_equals_dense(&x, &dense, &params);
            // The documents' 13 distinct terms, 5 of them in the vocabulary;
            // with English stop words, 6 terms ("and", "else", "here",
            // "nothing", "of", "on" and "the" are stop words), 4 of them in
            // the vocabulary, whose "the" then holds no value.
            let expected = match params.stop_words {
                Some(_) => VocabularyMatch {
                    unmatched_terms: 2,
                    unused_terms: 2,
                },
                None => VocabularyMatch {
                    unmatched_terms: 8,
                    unused_terms: 1,
                },
            };
            assert_eq!(matched, expected, "{params:?}");
            // The model transforms as it fitted.
            assert_eq!(model.transform(&DOCS), x, "{params:?}");
        }
    }

    #[test]
    fn a_fixed_vocabulary_fit_keeps_unseen_terms_unless_their_idf_is_infinite() {
        let fixed = fixed_vocabulary();
        let fit = |p: TfidfParams| p.fit_transform_with_vocabulary(&fixed, &DOCS).unwrap().0;
        let smooth = fit(TfidfParams::default());
        assert_eq!(smooth.column("zebra"), Some(1));
        assert_eq!(smooth.idf().unwrap()[1], (6f64 / 1.0).ln() + 1.0);
        let sharp = fit(TfidfParams::default().smooth_idf(false));
        assert_eq!(sharp.column("zebra"), None);
        assert_eq!(sharp.column("dog"), Some(2));
        assert_eq!(
            fit(TfidfParams::default().use_idf(false)).column("zebra"),
            Some(1)
        );
    }

    /// Document frequencies not one per column were indexed out of bounds
    /// (a panic) by `on_fixed_vocabulary` and `VocabularyMatch`.
    #[test]
    fn document_frequencies_must_be_one_per_column() {
        let (fitted, x) = TfidfParams::default().fit_transform(&DOCS).unwrap();
        let columns = fitted.vocabulary().len();
        let mut df = vec![0u64; columns];
        for &j in x.indices() {
            df[j as usize] += 1;
        }
        let (model, matched) = fitted.on_fixed_vocabulary(&df, fixed_vocabulary()).unwrap();
        assert_eq!(model.vocabulary(), fixed_vocabulary().as_slice());
        for wrong in [&[][..], &df[1..]] {
            let e = fitted
                .on_fixed_vocabulary(wrong, fixed_vocabulary())
                .unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "{} document frequencies for the {columns} columns of the vectorizer",
                    wrong.len()
                )
            );
        }
        let columns_of = || fitted.vocabulary().iter().map(|t| model.column(t));
        let fixed_df: Vec<u64> = model
            .vocabulary()
            .iter()
            .map(|t| fitted.column(t).map_or(0, |c| df[c as usize]))
            .collect();
        assert_eq!(
            VocabularyMatch::of_fixed_vocabulary(&model, &fixed_df, columns_of()).unwrap(),
            matched
        );
        assert!(matches!(
            VocabularyMatch::of_fixed_vocabulary(&model, &[], columns_of()),
            Err(TextError::DocumentFrequencies {
                found: 0,
                columns: 6
            })
        ));
    }

    #[test]
    fn a_fixed_vocabulary_fit_checks_its_input() {
        let p = TfidfParams::default();
        let twice = ["cat", "dog", "cat"].map(String::from);
        let e = p.fit_transform_with_vocabulary(&twice, &DOCS).unwrap_err();
        assert!(matches!(e, TextError::FixedVocabulary(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            "invalid fixed vocabulary: the vocabulary lists `cat` twice"
        );
        let none: [&str; 0] = [];
        assert!(matches!(
            p.fit_transform_with_vocabulary(&twice[..2], &none),
            Err(TextError::NoDocuments)
        ));
        // scikit-learn: "empty vocabulary passed to fit".
        let e = p.fit_transform_with_vocabulary(&[], &DOCS).unwrap_err();
        assert!(matches!(e, TextError::EmptyFixedVocabulary), "{e:?}");
        assert_eq!(e.to_string(), "the fixed vocabulary has no terms");
        // Documents of stop words only: empty rows, not an error (an
        // ordinary fit has no vocabulary to learn there).
        let stop = p.clone().stop_words(Some(StopWords::English));
        let (_, x, matched) = stop
            .fit_transform_with_vocabulary(&twice[..2], &["the and of", "a"])
            .unwrap();
        assert_eq!((x.shape(), x.nnz()), ((2, 2), 0));
        assert_eq!(matched.unused_terms, 2);
        assert!(matches!(
            stop.fit_transform(&["the and of", "a"]),
            Err(TextError::EmptyVocabulary)
        ));
    }

    #[test]
    fn max_features_keeps_the_most_frequent_ties_in_vocabulary_order() {
        let params = TfidfParams::default().max_features(Some(3));
        let (model, _) = params.fit_transform(&DOCS).unwrap();
        // Counts: the 6, mat 4, cat 3, dog 3, and 2, ...: "cat" wins the tie.
        assert_eq!(model.vocabulary(), ["cat", "mat", "the"]);
    }

    #[test]
    fn validation_one_error_per_rule() {
        let p = TfidfParams::default();
        let e = |p: TfidfParams| p.fit_transform(&DOCS).unwrap_err().to_string();
        assert!(e(p.clone().min_df(DocFreq::Count(0))).starts_with("min_df must be"));
        assert!(e(p.clone().min_df(DocFreq::Proportion(1.5))).starts_with("min_df must be"));
        assert!(e(p.clone().max_df(DocFreq::Proportion(-0.1))).starts_with("max_df must be"));
        assert!(e(p.clone().max_df(DocFreq::Proportion(f64::NAN))).starts_with("max_df must be"));
        assert_eq!(
            e(p.clone().max_features(Some(0))),
            "max_features must be at least 1"
        );
        assert_eq!(
            e(p.clone()
                .min_df(DocFreq::Count(3))
                .max_df(DocFreq::Count(2))),
            "max_df corresponds to fewer documents than min_df"
        );
        assert!(e(p.clone().min_df(DocFreq::Count(5))).starts_with("after pruning"));
        let empty: [&str; 0] = [];
        assert_eq!(
            p.fit_transform(&empty).unwrap_err().to_string(),
            "the corpus has no documents"
        );
        assert!(TfidfParams::default()
            .stop_words(Some(StopWords::English))
            .fit_transform(&["the a an", "x"])
            .unwrap_err()
            .to_string()
            .starts_with("empty vocabulary"));
    }

    #[test]
    fn doc_freq_parses_like_python_numbers() {
        assert_eq!("2".parse::<DocFreq>().unwrap(), DocFreq::Count(2));
        assert_eq!("1.0".parse::<DocFreq>().unwrap(), DocFreq::Proportion(1.0));
        assert_eq!("0.5".parse::<DocFreq>().unwrap(), DocFreq::Proportion(0.5));
        assert!("x".parse::<DocFreq>().is_err());
    }

    #[test]
    fn transform_uses_the_fitted_vocabulary() {
        let params = TfidfParams::default();
        let (model, x) = params.fit_transform(&DOCS).unwrap();
        let again = model.transform(&DOCS);
        assert_eq!(again, x);
        let new = model.transform(&["unknown words only", "cat CAT zebra"]);
        assert_eq!(new.outer_view(0).unwrap().nnz(), 0);
        let row = new.outer_view(1).unwrap();
        assert_eq!(row.nnz(), 1);
        let cat = model.column("cat").unwrap() as usize;
        assert!((row.get(cat).copied().unwrap() - 1.0).abs() < 1e-7);
    }

    #[test]
    fn thread_count_does_not_change_the_result() {
        // Enough documents for several chunks.
        let docs: Vec<String> = (0..3000)
            .map(|i| format!("doc{} word{} common w{} Ünï{}", i % 97, i % 13, i, i % 5))
            .collect();
        let run = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    TfidfParams::default()
                        .min_df(DocFreq::Count(2))
                        .fit_transform(&docs)
                })
                .unwrap()
        };
        let (m1, x1) = run(1);
        let (m2, x2) = run(2);
        assert_eq!(m1.vocabulary(), m2.vocabulary());
        assert_eq!(x1, x2);
        assert_eq!(m1.vocabulary().len(), 97 + 13 + 1 + 5);
    }

    /// Column j's document frequency in x: its non-zeros.
    fn column_counts(x: &CsrMatrix) -> Vec<u64> {
        let mut df = vec![0u64; x.cols()];
        for &c in x.indices() {
            df[c as usize] += 1;
        }
        df
    }

    #[test]
    fn rebuilt_from_document_frequencies_transforms_as_the_fit() {
        let new = [
            "the cat and the mat",
            "DOG dog zebra",
            "",
            "barked barked end",
        ];
        for params in [
            TfidfParams::default(),
            TfidfParams::default().smooth_idf(false).norm(Norm::L1),
            TfidfParams::default().use_idf(false).sublinear_tf(true),
            TfidfParams::default()
                .stop_words(Some(StopWords::English))
                .min_df(DocFreq::Count(2)),
        ] {
            let (model, x) = params.fit_transform(&DOCS).unwrap();
            let rebuilt = TfidfModel::from_document_frequencies(
                params.clone(),
                model.vocabulary().to_vec(),
                &column_counts(&x),
                DOCS.len(),
                UnseenTerms::Dropped,
            )
            .unwrap();
            assert_eq!(rebuilt.idf(), model.idf(), "{params:?}");
            assert_eq!(rebuilt.transform(&new), model.transform(&new), "{params:?}");
            assert_eq!(rebuilt.transform(&DOCS), x, "{params:?}");
        }
    }

    #[test]
    fn unseen_terms_are_dropped_or_kept() {
        // Columns in any order; "zebra" is in no document.
        let vocabulary: Vec<String> = ["zebra", "cat", "dog"].map(String::from).to_vec();
        let df = [0, 2, 1];
        let rebuild = |unseen| {
            TfidfModel::from_document_frequencies(
                TfidfParams::default().norm(Norm::None),
                vocabulary.clone(),
                &df,
                3,
                unseen,
            )
            .unwrap()
        };
        let dropped = rebuild(UnseenTerms::Dropped);
        assert_eq!(dropped.known_terms(), 2);
        assert_eq!(dropped.column("zebra"), None);
        assert_eq!(dropped.column("dog"), Some(2));
        let x = dropped.transform(&["zebra cat dog dog"]);
        assert_eq!(x.indices(), [1, 2]);
        let idf = |df: f64| (4.0 / (df + 1.0)).ln() + 1.0;
        assert_eq!(x.data(), [idf(2.0) as f32, (2.0 * idf(1.0)) as f32]);
        assert_eq!(dropped.idf().unwrap()[0], 0.0);
        let kept = rebuild(UnseenTerms::Kept);
        assert_eq!(kept.known_terms(), 3);
        assert_eq!(kept.column("zebra"), Some(0));
        let x = kept.transform(&["zebra cat dog dog"]);
        assert_eq!(x.indices(), [0, 1, 2]);
        assert_eq!(x.data()[0], idf(0.0) as f32);
        // A stop word in the vocabulary is never a known term.
        let with_stop = TfidfModel::from_document_frequencies(
            TfidfParams::default().stop_words(Some(StopWords::English)),
            ["the", "cat"].map(String::from).to_vec(),
            &[0, 1],
            3,
            UnseenTerms::Kept,
        )
        .unwrap();
        assert_eq!(with_stop.column("the"), None);
        assert_eq!(with_stop.transform(&["the cat the"]).indices(), [1]);
    }

    #[test]
    fn rebuilding_checks_its_input() {
        let terms = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let rebuild = |params: TfidfParams, vocabulary: &[&str], df: &[u64], unseen| {
            TfidfModel::from_document_frequencies(params, terms(vocabulary), df, 2, unseen)
                .unwrap_err()
                .to_string()
        };
        let p = TfidfParams::default;
        assert_eq!(
            rebuild(p(), &["a", "b"], &[1], UnseenTerms::Dropped),
            "cannot rebuild the vectorizer: 1 document frequencies for 2 terms"
        );
        assert_eq!(
            rebuild(p(), &["ab"], &[3], UnseenTerms::Dropped),
            "cannot rebuild the vectorizer: term `ab` is in 3 documents of 2"
        );
        assert_eq!(
            rebuild(p(), &["ab", "cd", "ab"], &[1, 1, 1], UnseenTerms::Dropped),
            "cannot rebuild the vectorizer: the vocabulary lists `ab` twice"
        );
        assert_eq!(
            rebuild(
                p().smooth_idf(false),
                &["ab", "cd"],
                &[1, 0],
                UnseenTerms::Kept
            ),
            "cannot rebuild the vectorizer: term `cd` is in none of the 2 documents and idf \
             smoothing is off: its idf would be infinite"
        );
        // Dropped, the same term is no term: no idf to compute.
        assert!(TfidfModel::from_document_frequencies(
            p().smooth_idf(false),
            terms(&["ab", "cd"]),
            &[1, 0],
            2,
            UnseenTerms::Dropped
        )
        .is_ok());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// A vectorizer rebuilt from a fit's vocabulary and its matrix's
        /// column counts transforms any new documents as the fit does, for
        /// any options.
        #[test]
        fn rebuilt_vectorizer_transforms_as_the_fit(
            train in proptest::collection::vec(
                proptest::collection::vec("(the|and|[a-f]{2,3}|X[a-c]{2})", 0..12), 1..40),
            new in proptest::collection::vec(
                proptest::collection::vec("(the|[a-g]{2,3}|x[a-c]{2}|z)", 0..12), 0..10),
            options in (0u8..2, 1u64..4, 0u8..2, 0u8..3, 0u8..2, 0u8..2, 0u8..2),
        ) {
            let (stop, min_df, sublinear, norm, use_idf, smooth, lowercase) = options;
            let params = TfidfParams::default()
                .stop_words((stop == 1).then_some(StopWords::English))
                .min_df(DocFreq::Count(min_df))
                .sublinear_tf(sublinear == 1)
                .norm([Norm::L2, Norm::L1, Norm::None][norm as usize])
                .use_idf(use_idf == 1)
                .smooth_idf(smooth == 1)
                .lowercase(lowercase == 1);
            let train: Vec<String> = train.iter().map(|d| d.join(" ")).collect();
            let new: Vec<String> = new.iter().map(|d| d.join(" ")).collect();
            // Too few terms left is the fit's own error, not this test's.
            let Ok((fitted, x)) = params.fit_transform(&train) else {
                return Ok(());
            };
            let rebuilt = TfidfModel::from_document_frequencies(
                params.clone(),
                fitted.vocabulary().to_vec(),
                &column_counts(&x),
                train.len(),
                UnseenTerms::Dropped,
            )
            .unwrap();
            proptest::prop_assert_eq!(rebuilt.idf(), fitted.idf());
            proptest::prop_assert_eq!(rebuilt.transform(&new), fitted.transform(&new));
        }
    }
}
