//! The fitted vectorizer of a corpus directory or of a model, for
//! `vectorize --vectorizer-from`: scikit-learn's `fitted.transform(new)`.
//!
//! Nothing beyond what a corpus directory made by `topicmill vectorize`
//! holds is needed: its TF-IDF options (manifest), its vocabulary, and each
//! term's document frequency, the number of non-zeros of its column (a row of
//! the stored transpose); the idf follows, to the bit of the fit that made the
//! corpus. `topicmill fit` copies the same into the model
//! ([`VectorizerRecord`]), so that a model alone can vectorize new documents.

use std::path::Path;

use anyhow::{bail, Context, Result};
use topicmill_nmf::VectorizerRecord;
use topicmill_sparse::{Corpus, CsrView};
use topicmill_text::{TfidfModel, TfidfParams, UnseenTerms};

/// What a [`VectorizerRecord`]'s options hold (as JSON).
#[derive(serde::Serialize, serde::Deserialize)]
struct RecordedOptions {
    tfidf: TfidfParams,
    /// Fitted on a fixed vocabulary (`vectorize --no-new-terms`).
    no_new_terms: bool,
}

/// The record of the vectorizer that made `transpose` (terms × documents)
/// with `tfidf`, as a model keeps it.
pub fn record(tfidf: &TfidfParams, no_new_terms: bool, transpose: CsrView<'_>) -> VectorizerRecord {
    let options = RecordedOptions {
        tfidf: tfidf.clone(),
        no_new_terms,
    };
    VectorizerRecord {
        options: serde_json::to_string(&options).expect("options serialize to JSON"),
        document_frequencies: document_frequencies(transpose),
    }
}

/// Per term (row of `transpose`), the number of documents holding it.
fn document_frequencies(transpose: CsrView<'_>) -> Vec<u64> {
    transpose
        .outer_iterator()
        .map(|term| term.nnz() as u64)
        .collect()
}

/// The record of the vectorizer of corpus directory `dir`; `None` when the
/// corpus was not made by a fit of `topicmill vectorize` (an import, or a
/// corpus made through another's vectorizer), an error when its manifest's
/// TF-IDF options are damaged.
fn corpus_record(corpus: &Corpus, dir: &Path) -> Result<Option<VectorizerRecord>> {
    let extra = &corpus.manifest().extra;
    if extra.get("tfidf").is_none() || extra.get("vectorizer_from").is_some() {
        return Ok(None);
    }
    let options = corpus_options(corpus, dir)?;
    Ok(Some(record(
        &options.tfidf,
        options.no_new_terms,
        corpus.transpose(),
    )))
}

/// [`corpus_record`] for a model fitted on corpus `dir`: damaged options
/// are a warning (the fit itself does not need them), and no record.
pub fn record_for_fit(corpus: &Corpus, dir: &Path) -> Option<VectorizerRecord> {
    corpus_record(corpus, dir).unwrap_or_else(|e| {
        eprintln!("warning: {e:#}; the model records no vectorizer");
        None
    })
}

/// The options of the fit that made corpus directory `dir`, checked.
fn corpus_options(corpus: &Corpus, dir: &Path) -> Result<RecordedOptions> {
    let extra = &corpus.manifest().extra;
    let Some(tfidf) = extra.get("tfidf") else {
        bail!(
            "corpus {}: its manifest records no TF-IDF options (it was not made by \
             `topicmill vectorize`): no vectorizer to reuse",
            dir.display()
        );
    };
    if let Some(source) = extra.get("vectorizer_from").and_then(|v| v.as_str()) {
        bail!(
            "corpus {} was itself vectorized with --vectorizer-from {source}: its values are \
             that vectorizer's, not a fit of its own; give {source}",
            dir.display()
        );
    }
    let context = || format!("corpus {}: the manifest's TF-IDF options", dir.display());
    let tfidf: TfidfParams = serde_json::from_value(tfidf.clone()).with_context(context)?;
    tfidf.validate().with_context(context)?;
    let no_new_terms = extra.get("no_new_terms").and_then(|v| v.as_bool()) == Some(true);
    Ok(RecordedOptions {
        tfidf,
        no_new_terms,
    })
}

/// The fitted vectorizer of a corpus directory made by `topicmill vectorize`,
/// or of a model fitted on one. Terms of no document are not known to that
/// fit, unless the corpus was made with `--no-new-terms`, whose vectorizer,
/// like `TfidfVectorizer(vocabulary=…)`, knows every term (see
/// `UnseenTerms::of_fixed_vocabulary`).
pub fn vectorizer(path: &Path) -> Result<TfidfModel> {
    if path.is_file() {
        let model = crate::output::load_model_without_w(path)?;
        let (Some(record), Some(vocabulary)) = (model.vectorizer(), model.vocabulary()) else {
            bail!(
                "model {} records no vectorizer: it was saved by an older topicmill (model \
                 format 1), or fitted on a corpus that `topicmill vectorize` did not fit (an \
                 import, or one made with --vectorizer-from); give the corpus directory it \
                 was fitted on, or that corpus's own source",
                path.display()
            );
        };
        let context = || format!("model {}: the recorded TF-IDF options", path.display());
        let options: RecordedOptions =
            serde_json::from_str(&record.options).with_context(context)?;
        options.tfidf.validate().with_context(context)?;
        return build(
            options,
            &record.document_frequencies,
            vocabulary,
            model.n_docs(),
        )
        .with_context(|| format!("model {}", path.display()));
    }
    let corpus =
        Corpus::open(path).with_context(|| format!("cannot open corpus {}", path.display()))?;
    let options = corpus_options(&corpus, path)?;
    let df = document_frequencies(corpus.transpose());
    build(options, &df, corpus.vocabulary(), corpus.matrix().rows())
        .with_context(|| format!("corpus {}", path.display()))
}

/// The vectorizer fitted with `options` on `n_docs` documents, over
/// `vocabulary` with its document frequencies `df`.
fn build(
    options: RecordedOptions,
    df: &[u64],
    vocabulary: &[String],
    n_docs: usize,
) -> Result<TfidfModel> {
    let unseen = match options.no_new_terms {
        true => UnseenTerms::of_fixed_vocabulary(&options.tfidf),
        false => UnseenTerms::Dropped,
    };
    Ok(TfidfModel::from_document_frequencies(
        options.tfidf,
        vocabulary.to_vec(),
        df,
        n_docs,
        unseen,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use topicmill_nmf::{Nmf, NmfModel, StopReason};

    /// A saved model over `terms` terms (of 3 documents) with `record`.
    fn saved(dir: &Path, terms: &[&str], record: VectorizerRecord) -> std::path::PathBuf {
        let (n, m, k) = (3, terms.len(), 1);
        let mut model = NmfModel::from_parts(
            Nmf::params(k),
            n,
            m,
            vec![0.5; n * k],
            vec![0.5; m * k],
            vec![(0, 1.0)],
            1,
            StopReason::MaxIter,
            1.0,
        )
        .unwrap();
        model.set_vocabulary(Some(terms.iter().map(|t| t.to_string()).collect()));
        model.set_vectorizer(Some(record));
        let path = dir.join("m.model");
        let file = std::fs::File::create(&path).unwrap();
        model.save(std::io::BufWriter::new(file)).unwrap();
        path
    }

    #[test]
    fn a_model_gives_back_the_vectorizer_it_records() {
        let dir = tempfile::tempdir().unwrap();
        let options = RecordedOptions {
            tfidf: TfidfParams::default(),
            no_new_terms: false,
        };
        let record = VectorizerRecord {
            options: serde_json::to_string(&options).unwrap(),
            document_frequencies: vec![2, 0, 3],
        };
        let path = saved(dir.path(), &["cat", "dog", "emu"], record);
        let fitted = vectorizer(&path).unwrap();
        assert_eq!(fitted.n_docs(), 3);
        // "dog" is in no fitted document: not a term of that fit.
        assert_eq!(fitted.known_terms(), 2);
        let idf = |df: f64| (4.0 / (df + 1.0)).ln() + 1.0;
        assert_eq!(fitted.idf().unwrap(), [idf(2.0), 0.0, idf(3.0)]);
    }

    #[test]
    fn damaged_recorded_options_are_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let bad = |options: &str| VectorizerRecord {
            options: options.into(),
            document_frequencies: vec![1, 1],
        };
        for (options, expected) in [
            ("not json", "expected ident"),
            (
                r#"{"tfidf": {"lowercase": true}, "no_new_terms": false}"#,
                "missing field",
            ),
        ] {
            let path = saved(dir.path(), &["a", "b"], bad(options));
            let err = format!("{:#}", vectorizer(&path).unwrap_err());
            let context = format!("model {}: the recorded TF-IDF options: ", path.display());
            assert!(err.starts_with(&context), "{err}");
            assert!(err.contains(expected), "{err}");
        }
        // Options that parse but are invalid.
        let mut tfidf = serde_json::to_value(TfidfParams::default()).unwrap();
        tfidf["min_df"] = serde_json::json!({"count": 0});
        let options = serde_json::json!({"tfidf": tfidf, "no_new_terms": false});
        let path = saved(dir.path(), &["a", "b"], bad(&options.to_string()));
        let err = format!("{:#}", vectorizer(&path).unwrap_err());
        assert!(err.contains("min_df must be"), "{err}");
    }
}
