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

/// The record of the vectorizer of corpus directory `dir`: an error, saying
/// why, when the corpus was not made by a fit of `topicmill vectorize`.
pub fn corpus_record(corpus: &Corpus, dir: &Path) -> Result<VectorizerRecord> {
    let options = corpus_options(corpus, dir)?;
    Ok(record(
        &options.tfidf,
        options.no_new_terms,
        corpus.transpose(),
    ))
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
        let model = crate::output::load_model(path)?;
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
