//! The streaming build: corpora larger than memory go straight to a corpus
//! directory in two passes over chunks of documents (one, through a vectorizer
//! already fitted: [`stream_transform_to_corpus`]).
//!
//! Pass 1 counts, per term, its document frequency and total count; the model
//! (vocabulary, idf) follows from those alone. Pass 2 re-reads the chunks,
//! computes their rows with the fitted model and pushes them into a
//! [`CorpusWriter`]. The result is identical to [`TfidfParams::fit_transform`].
//!
//! Memory bound: the term table (per distinct term seen: its bytes plus about
//! 56 bytes), one chunk of documents (`chunk_docs` texts) with its counts and
//! rows, the fitted model (kept terms, their index and idf), and the ids and
//! labels of all documents (which the corpus directory writes at the end; a
//! JSON-lines source with an id field also keeps a set of its ids, to check
//! that they are unique), plus the [`CorpusWriter`]'s own bound (a row pointer per document). Nothing grows
//! with the number of non-zeros.

use std::path::Path;

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use topicmill_sparse::{CorpusWriter, Manifest};

use crate::readers::{for_each_line_batch, jsonl_into, lines_into, JsonlFields, SeenIds, Utf8};
use crate::vectorizer::{count_chunk, TermStats, CHUNK_DOCS};
use crate::{Documents, TextError, TfidfModel, TfidfParams};

/// A corpus that can be read more than once, a chunk of documents at a time.
pub trait DocumentSource: Sync {
    /// Calls `each` with consecutive chunks of at most `chunk_docs` documents,
    /// in corpus order, the same on every call; every chunk has labels, or
    /// none has.
    fn for_each_chunk(
        &self,
        chunk_docs: usize,
        each: &mut dyn FnMut(Documents) -> Result<(), TextError>,
    ) -> Result<(), TextError>;
}

/// A plain-text file, one document per line (see [`read_lines`](crate::read_lines)).
#[derive(Debug, Clone)]
pub struct LinesSource<'a> {
    /// The file.
    pub path: &'a Path,
    /// Invalid UTF-8 policy.
    pub utf8: Utf8,
}

impl DocumentSource for LinesSource<'_> {
    fn for_each_chunk(
        &self,
        chunk_docs: usize,
        each: &mut dyn FnMut(Documents) -> Result<(), TextError>,
    ) -> Result<(), TextError> {
        for_each_line_batch(self.path, self.utf8, Some(chunk_docs), |batch| {
            let mut docs = Documents::default();
            lines_into(&mut docs, batch);
            each(docs)
        })
    }
}

/// A JSON-lines file (see [`read_jsonl`](crate::read_jsonl)).
#[derive(Debug, Clone)]
pub struct JsonlSource<'a> {
    /// The file.
    pub path: &'a Path,
    /// Its fields.
    pub fields: JsonlFields,
    /// Invalid UTF-8 policy.
    pub utf8: Utf8,
}

impl DocumentSource for JsonlSource<'_> {
    fn for_each_chunk(
        &self,
        chunk_docs: usize,
        each: &mut dyn FnMut(Documents) -> Result<(), TextError>,
    ) -> Result<(), TextError> {
        let mut seen = SeenIds::default();
        for_each_line_batch(self.path, self.utf8, Some(chunk_docs), |batch| {
            let mut docs = self.fields.no_documents();
            jsonl_into(&mut docs, batch, self.path, &self.fields, &mut seen)?;
            each(docs)
        })
    }
}

/// Documents already in memory, chunked (for tests and small corpora).
impl DocumentSource for Documents {
    fn for_each_chunk(
        &self,
        chunk_docs: usize,
        each: &mut dyn FnMut(Documents) -> Result<(), TextError>,
    ) -> Result<(), TextError> {
        self.check_parts(0)?;
        for start in (0..self.len()).step_by(chunk_docs.max(1)) {
            let end = (start + chunk_docs.max(1)).min(self.len());
            each(Documents {
                ids: self.ids[start..end].to_vec(),
                labels: self.labels.as_ref().map(|l| l[start..end].to_vec()),
                texts: self.texts[start..end].to_vec(),
            })?;
        }
        Ok(())
    }
}

/// Builds the TF-IDF corpus of `source` into the corpus directory `dir` in two
/// passes of `chunk_docs` documents, with bounded memory (see the module
/// documentation). `extra` is recorded in the manifest. Returns the
/// vectorizer the corpus was written with and the manifest.
///
/// The second pass computes the rows with the vectorizer `through` makes of
/// the first pass's: `through(fitted, df)` gets the vectorizer `params` fit
/// on `source` and each of its columns' document frequency, and returns the
/// one the corpus is written with (its vocabulary becomes the corpus's).
/// `|fitted, _| Ok(fitted)` writes an ordinary fit, identical to
/// [`TfidfParams::fit_transform`]'s. Others: one rebuilt by
/// [`TfidfModel::from_document_frequencies`] with the same terms in another
/// column order, or by [`TfidfModel::on_fixed_vocabulary`] on a fixed
/// vocabulary (fit with `min_df` 1, no `max_df`, no `max_features`, so that
/// every term has its count).
#[allow(clippy::too_many_arguments)]
pub fn stream_to_corpus(
    params: &TfidfParams,
    source: &dyn DocumentSource,
    chunk_docs: usize,
    dir: &Path,
    overwrite: bool,
    extra: serde_json::Value,
    progress: &mut dyn FnMut(usize),
    through: impl FnOnce(TfidfModel, Vec<u64>) -> Result<TfidfModel, TextError>,
) -> Result<(TfidfModel, Manifest), TextError> {
    params.validate()?;
    let chunk_docs = chunk_docs.max(1);
    // Pass 1: term statistics, ids and labels.
    let mut table: FxHashMap<Box<str>, (u64, u64)> = FxHashMap::default();
    let mut ids: Vec<String> = Vec::new();
    let mut labels: Option<Vec<String>> = None;
    let mut n_docs = 0usize;
    source.for_each_chunk(chunk_docs, &mut |docs| {
        docs.check_parts(n_docs)?;
        let counts: Vec<_> = docs
            .texts
            .par_chunks(CHUNK_DOCS)
            .map(|c| count_chunk(c, params.lowercase))
            .collect();
        for chunk in &counts {
            for (i, term) in chunk.terms.iter().enumerate() {
                let (df, tf) = (chunk.df[i], chunk.tf[i]);
                if let Some(slot) = table.get_mut(term) {
                    slot.0 += df;
                    slot.1 += tf;
                } else {
                    table.insert(term.into(), (df, tf));
                }
            }
        }
        // The corpus writer would refuse it only after both passes.
        n_docs += keep_ids(docs, n_docs, &mut ids, &mut labels)?;
        progress(n_docs);
        Ok(())
    })?;
    if n_docs == 0 {
        return Err(TextError::NoDocuments);
    }
    let mut terms: Vec<(&str, u64, u64)> = table
        .iter()
        .filter(|(t, _)| params.stop_words.as_ref().is_none_or(|s| !s.contains(t)))
        .map(|(t, &(df, tf))| (&**t, df, tf))
        .collect();
    terms.par_sort_unstable_by(|a, b| a.0.cmp(b.0));
    let df: Vec<u64> = terms.iter().map(|&(_, df, _)| df).collect();
    let (fitted, kept) = params.model_from_stats(TermStats { n_docs, terms })?;
    let mut column_df = vec![0u64; fitted.vocabulary().len()];
    for (&column, &df) in kept.iter().zip(&df) {
        if column != u32::MAX {
            column_df[column as usize] = df;
        }
    }
    let model = through(fitted, column_df)?;

    // Pass 2: rows, in order, into the corpus writer.
    let mut writer = CorpusWriter::create(dir, model.vocabulary().len())?.overwrite(overwrite);
    let mut done = 0usize;
    source.for_each_chunk(chunk_docs, &mut |docs| {
        push_rows(&model, &docs.texts, &mut writer)?;
        done += docs.texts.len();
        progress(n_docs + done);
        Ok(())
    })?;
    if done != n_docs {
        return Err(TextError::SourceChanged {
            first: n_docs,
            second: done,
        });
    }
    let manifest = writer.finish(model.vocabulary(), &ids, labels.as_deref(), extra)?;
    Ok((model, manifest))
}

/// The TF-IDF rows of `source` through a fitted vectorizer (`model`, for
/// example one rebuilt from a corpus directory by
/// [`TfidfModel::from_document_frequencies`]) into the corpus directory
/// `dir`, in one pass of `chunk_docs` documents: scikit-learn's `transform`.
/// Memory is bounded by the model, one chunk and the ids and labels of all
/// documents. `extra` is recorded in the manifest, which is returned.
pub fn stream_transform_to_corpus(
    model: &TfidfModel,
    source: &dyn DocumentSource,
    chunk_docs: usize,
    dir: &Path,
    overwrite: bool,
    extra: serde_json::Value,
    progress: &mut dyn FnMut(usize),
) -> Result<Manifest, TextError> {
    let mut writer = CorpusWriter::create(dir, model.vocabulary().len())?.overwrite(overwrite);
    let mut ids: Vec<String> = Vec::new();
    let mut labels: Option<Vec<String>> = None;
    let mut n_docs = 0usize;
    source.for_each_chunk(chunk_docs.max(1), &mut |mut docs| {
        docs.check_parts(n_docs)?;
        let texts = std::mem::take(&mut docs.texts);
        let len = keep_ids(docs, n_docs, &mut ids, &mut labels)?;
        push_rows(model, &texts, &mut writer)?;
        n_docs += len;
        progress(n_docs);
        Ok(())
    })?;
    if n_docs == 0 {
        return Err(TextError::NoDocuments);
    }
    Ok(writer.finish(model.vocabulary(), &ids, labels.as_deref(), extra)?)
}

/// Appends a chunk's ids and labels (the chunk starting at document `before`,
/// its parts checked one per text) after checking that each fits on a line
/// and that the chunk has labels if and only if the first one had; returns
/// the chunk's length.
fn keep_ids(
    docs: Documents,
    before: usize,
    ids: &mut Vec<String>,
    labels: &mut Option<Vec<String>>,
) -> Result<usize, TextError> {
    docs.check_one_per_line(before)?;
    if before == 0 {
        *labels = docs.labels.as_ref().map(|_| Vec::new());
    }
    match (labels, docs.labels) {
        (Some(all), Some(chunk)) => all.extend(chunk),
        (None, None) => {}
        _ => {
            return Err(TextError::LabelsOnSomeChunks {
                document: before + 1,
            })
        }
    }
    let len = docs.ids.len();
    ids.extend(docs.ids);
    Ok(len)
}

/// The rows of `texts` through `model`, in order, into `writer`.
fn push_rows(
    model: &TfidfModel,
    texts: &[String],
    writer: &mut CorpusWriter,
) -> Result<(), TextError> {
    let blocks: Vec<_> = texts
        .par_chunks(CHUNK_DOCS)
        .map(|c| model.transform_block(c))
        .collect();
    for block in blocks {
        let mut at = 0;
        for &len in &block.lengths {
            writer.push_row(&block.indices[at..at + len], &block.values[at..at + len])?;
            at += len;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DocFreq, StopWords};

    #[test]
    fn streaming_equals_in_memory() {
        let texts: Vec<String> = (0..2000)
            .map(|i| format!("Doc{} the word{} shared x{} Été{}", i % 31, i % 7, i, i % 3))
            .collect();
        let docs = Documents {
            ids: (0..texts.len()).map(|i| format!("d{i}")).collect(),
            labels: Some((0..texts.len()).map(|i| format!("l{}", i % 2)).collect()),
            texts,
        };
        let params = TfidfParams::default()
            .stop_words(Some(StopWords::English))
            .min_df(DocFreq::Count(2));
        let (model, x) = params.fit_transform(&docs.texts).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("corpus");
        let mut calls = 0;
        let (streamed, manifest) = stream_to_corpus(
            &params,
            &docs,
            300,
            &out,
            false,
            serde_json::json!({"k": 1}),
            &mut |_| calls += 1,
            |fitted, _| Ok(fitted),
        )
        .unwrap();
        assert_eq!(calls, 2 * 7);
        assert_eq!(streamed.vocabulary(), model.vocabulary());
        assert_eq!(manifest.nnz, x.nnz() as u64);
        let corpus = topicmill_sparse::Corpus::open(&out).unwrap();
        assert_eq!(corpus.matrix(), x.view());
        assert_eq!(corpus.doc_ids(), docs.ids.as_slice());
        assert_eq!(
            corpus.labels().unwrap(),
            docs.labels.as_ref().unwrap().as_slice()
        );
        assert_eq!(corpus.manifest().extra["k"], 1);
    }

    /// Through a vectorizer made from the first pass's: on a fixed
    /// vocabulary, what the in-memory fit on it gives.
    #[test]
    fn streaming_through_a_fixed_vocabulary_equals_in_memory() {
        let texts: Vec<String> = (0..700)
            .map(|i| format!("a{} b{} the c{}", i % 13, i % 4, i % 9))
            .collect();
        let docs = Documents {
            ids: (0..texts.len()).map(|i| format!("d{i}")).collect(),
            labels: None,
            texts,
        };
        let vocabulary: Vec<String> = ["c3", "zz", "a1", "the", "b0"].map(String::from).to_vec();
        let params = TfidfParams::default()
            .stop_words(Some(StopWords::English))
            .smooth_idf(false);
        let (want_model, want, want_matched) = params
            .fit_transform_with_vocabulary(&vocabulary, &docs.texts)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("corpus");
        let (model, _) = stream_to_corpus(
            &params,
            &docs,
            250,
            &out,
            false,
            serde_json::Value::Null,
            &mut |_| {},
            |fitted, df| {
                let (model, matched) = fitted.on_fixed_vocabulary(&df, vocabulary.clone())?;
                assert_eq!(matched, want_matched);
                Ok(model)
            },
        )
        .unwrap();
        assert_eq!(model.idf(), want_model.idf());
        let corpus = topicmill_sparse::Corpus::open(&out).unwrap();
        assert_eq!(corpus.vocabulary(), vocabulary.as_slice());
        assert_eq!(corpus.matrix(), want.view());
    }

    /// A JSON-lines source checks its ids across chunks, and afresh on each
    /// pass (the second pass sees the same ids again).
    #[test]
    fn a_jsonl_source_refuses_an_id_repeated_in_a_later_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let unique = dir.path().join("unique.jsonl");
        std::fs::write(
            &unique,
            "{\"k\": \"a\", \"text\": \"one two\"}\n{\"k\": \"b\", \"text\": \"two three\"}\n",
        )
        .unwrap();
        let source = |path| JsonlSource {
            path,
            fields: JsonlFields {
                id: Some("k".into()),
                ..JsonlFields::default()
            },
            utf8: Utf8::Strict,
        };
        let out = dir.path().join("corpus");
        let build = |path, out| {
            stream_to_corpus(
                &TfidfParams::default(),
                &source(path),
                1,
                out,
                false,
                serde_json::Value::Null,
                &mut |_| {},
                |fitted, _| Ok(fitted),
            )
        };
        build(&unique, &out).unwrap();
        let corpus = topicmill_sparse::Corpus::open(&out).unwrap();
        assert_eq!(corpus.doc_ids(), ["a", "b"]);

        let repeated = dir.path().join("repeated.jsonl");
        std::fs::write(
            &repeated,
            "{\"k\": \"a\", \"text\": \"one\"}\n{\"k\": \"b\", \"text\": \"two\"}\n{\"k\": \"a\", \"text\": \"three\"}\n",
        )
        .unwrap();
        let out = dir.path().join("refused");
        let err = build(&repeated, &out).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: line 3: duplicate id \"a\", first given on line 1",
                repeated.display()
            )
        );
        assert!(!out.exists());
    }

    #[test]
    fn streamed_transform_equals_in_memory() {
        let train: Vec<String> = (0..500)
            .map(|i| format!("a{} b{} the", i % 13, i % 4))
            .collect();
        let (model, _) = TfidfParams::default()
            .stop_words(Some(StopWords::English))
            .fit_transform(&train)
            .unwrap();
        let texts: Vec<String> = (0..1000)
            .map(|i| format!("A{} b{} new{} the", i % 17, i % 5, i))
            .collect();
        let docs = Documents {
            ids: (0..texts.len()).map(|i| format!("d{i}")).collect(),
            labels: None,
            texts,
        };
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("corpus");
        let mut seen = Vec::new();
        let manifest = stream_transform_to_corpus(
            &model,
            &docs,
            300,
            &out,
            false,
            serde_json::json!({"k": 2}),
            &mut |n| seen.push(n),
        )
        .unwrap();
        assert_eq!(seen, [300, 600, 900, 1000]);
        let corpus = topicmill_sparse::Corpus::open(&out).unwrap();
        assert_eq!(corpus.matrix(), model.transform(&docs.texts).view());
        assert_eq!(corpus.vocabulary(), model.vocabulary());
        assert_eq!(corpus.doc_ids(), docs.ids.as_slice());
        assert_eq!(manifest.extra["k"], 2);
        let none = Documents::default();
        let err = stream_transform_to_corpus(
            &model,
            &none,
            300,
            &dir.path().join("empty"),
            false,
            serde_json::Value::Null,
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "the corpus has no documents");
        assert!(!dir.path().join("empty").exists());
    }

    /// A source whose chunks are given as they are, whatever their parts.
    struct Chunks(Vec<Documents>);

    impl DocumentSource for Chunks {
        fn for_each_chunk(
            &self,
            _chunk_docs: usize,
            each: &mut dyn FnMut(Documents) -> Result<(), TextError>,
        ) -> Result<(), TextError> {
            self.0.iter().try_for_each(|d| each(d.clone()))
        }
    }

    /// Ids or labels not one per text, in memory or in a chunk, and labels on
    /// some chunks only, are errors naming the documents (the in-memory
    /// source panicked slicing ids or labels; a chunk without the labels the
    /// first had reached an `unreachable!`).
    #[test]
    fn parts_not_one_per_text_are_errors_naming_the_documents() {
        let texts = |n: usize| {
            (0..n)
                .map(|i| format!("word{i} common"))
                .collect::<Vec<_>>()
        };
        let labelled = |n: usize, labels: Option<usize>, ids: usize| Documents {
            ids: (0..ids).map(|i| format!("d{i}")).collect(),
            labels: labels.map(|l| (0..l).map(|i| format!("l{i}")).collect()),
            texts: texts(n),
        };
        let params = TfidfParams::default();
        let (model, _) = params.fit_transform(&texts(5)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("corpus");
        let build = |source: &dyn DocumentSource| {
            stream_to_corpus(
                &params,
                source,
                2,
                &out,
                false,
                serde_json::Value::Null,
                &mut |_| {},
                |fitted, _| Ok(fitted),
            )
            .map(|_| ())
            .unwrap_err()
            .to_string()
        };
        let transform = |source: &dyn DocumentSource| {
            stream_transform_to_corpus(
                &model,
                source,
                2,
                &out,
                false,
                serde_json::Value::Null,
                &mut |_| {},
            )
            .map(|_| ())
            .unwrap_err()
            .to_string()
        };
        let short_ids = labelled(5, None, 3);
        let short_labels = labelled(5, Some(4), 5);
        for run in [&build as &dyn Fn(&dyn DocumentSource) -> String, &transform] {
            assert_eq!(
                run(&short_ids),
                "the documents from number 1: 3 ids for 5 texts"
            );
            assert_eq!(
                run(&short_labels),
                "the documents from number 1: 4 labels for 5 texts"
            );
            // The second chunk (documents 3, 4) lacks an id.
            let chunks = Chunks(vec![labelled(2, None, 2), labelled(2, None, 1)]);
            assert_eq!(
                run(&chunks),
                "the documents from number 3: 1 ids for 2 texts"
            );
            let chunks = Chunks(vec![labelled(2, Some(2), 2), labelled(2, None, 2)]);
            assert_eq!(
                run(&chunks),
                "document 3: the source gives labels with some chunks and not with others"
            );
            let chunks = Chunks(vec![labelled(2, None, 2), labelled(2, Some(2), 2)]);
            assert_eq!(
                run(&chunks),
                "document 3: the source gives labels with some chunks and not with others"
            );
            assert!(!out.exists());
        }
    }
}
