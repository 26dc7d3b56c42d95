//! `topicmill fit --warm-start PREVIOUS.model`: the nightly workflow.
//!
//! Today's corpus is vectorized with `--vocabulary-from` yesterday's corpus or
//! model, so its first columns are yesterday's terms in yesterday's order. The
//! fit starts from yesterday's topics: H's rows for yesterday's terms are
//! yesterday's, new terms start at the mean of yesterday's H (positive, so the
//! multiplicative updates can move them); W starts at yesterday's model's
//! `transform` of today's documents (over yesterday's terms). After the fit,
//! today's topics are matched to yesterday's by the Hungarian algorithm on the
//! cosine similarity of their H rows over yesterday's terms, and renumbered so
//! that a matched topic keeps its id. The change report classifies every topic
//! by that similarity: `kept` (≥ `--keep-similarity`), `drifted` (≥
//! `--drift-similarity`), or `new`, in which case yesterday's topic of that id
//! is reported as `vanished`.

use std::io::Write as _;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};
use serde::Serialize;
use topicmill_eval::match_topics;
use topicmill_nmf::{NmfModel, NmfParams, Progress, Solver};
use topicmill_sparse::{Corpus, CsrMatrix};

use crate::output::{load_model_without_w, top_indices};

/// Warm-start options of `topicmill fit`.
#[derive(Debug, Default, clap::Args)]
pub struct WarmArgs {
    /// Start from a previous model (the corpus must be vectorized with
    /// `--vocabulary-from` its corpus or model); topics keep their ids.
    #[arg(long, value_name = "MODEL")]
    pub warm_start: Option<PathBuf>,
    /// With --warm-start: write the JSON change report (kept, drifted, new and
    /// vanished topics with their similarity) here.
    #[arg(long, value_name = "FILE", requires = "warm_start")]
    pub change_report: Option<PathBuf>,
    /// Cosine similarity from which a topic counts as kept.
    #[arg(
        long,
        default_value_t = 0.9,
        requires = "warm_start",
        allow_negative_numbers = true
    )]
    pub keep_similarity: f64,
    /// Cosine similarity from which a topic counts as drifted (below: new).
    #[arg(
        long,
        default_value_t = 0.5,
        requires = "warm_start",
        allow_negative_numbers = true
    )]
    pub drift_similarity: f64,
}

impl WarmArgs {
    /// The thresholds are cosine similarities of non-negative topics, in
    /// [0, 1], and a drifted topic is less similar than a kept one.
    pub fn check(&self) -> Result<()> {
        for (flag, v) in [
            ("--keep-similarity", self.keep_similarity),
            ("--drift-similarity", self.drift_similarity),
        ] {
            ensure!(
                (0.0..=1.0).contains(&v),
                "{flag} must be a cosine similarity in [0, 1], got {v}"
            );
        }
        ensure!(
            self.drift_similarity <= self.keep_similarity,
            "--drift-similarity ({}) must not exceed --keep-similarity ({})",
            self.drift_similarity,
            self.keep_similarity
        );
        Ok(())
    }
}

/// A previous model, checked against today's corpus.
pub struct Previous {
    path: PathBuf,
    model: NmfModel,
    vocabulary: Vec<String>,
}

/// Loads the previous model and checks that `corpus` extends its vocabulary.
pub fn load_previous(path: &Path, corpus: &Corpus, k: usize) -> Result<Previous> {
    let model = load_model_without_w(path)?;
    let vocabulary = model
        .vocabulary()
        .with_context(|| {
            format!(
                "model {} records no vocabulary, so today's terms cannot be lined up with it",
                path.display()
            )
        })?
        .to_vec();
    let today = corpus.vocabulary();
    ensure!(
        today.len() >= vocabulary.len() && today[..vocabulary.len()] == vocabulary[..],
        "corpus {} does not start with the vocabulary of {} ({} terms): vectorize it with \
         --vocabulary-from {}",
        corpus.dir().display(),
        path.display(),
        vocabulary.len(),
        path.display()
    );
    ensure!(
        model.k() == k,
        "--warm-start {} has k={}, but -k {k} was asked",
        path.display(),
        model.k()
    );
    Ok(Previous {
        path: path.to_path_buf(),
        model,
        vocabulary,
    })
}

/// Fits `corpus` starting from `previous`, then renumbers the topics to match it.
pub fn fit<F>(
    params: &NmfParams,
    corpus: &Corpus,
    previous: &Previous,
    callback: F,
) -> Result<(NmfModel, Vec<f64>)>
where
    F: FnMut(&Progress) -> ControlFlow<()> + Send,
{
    let (x, xt) = (corpus.matrix(), corpus.transpose());
    let (m_old, k) = (previous.vocabulary.len(), previous.model.k());
    let m = x.cols();

    // W: yesterday's topics fitted to today's documents, over yesterday's terms.
    let old_terms = restrict_columns(&x, m_old);
    let mut w0 = previous
        .model
        .transform(&old_terms.view())
        .with_context(|| format!("cannot apply {} to the corpus", previous.path.display()))?;
    let old_ht = previous.model.ht();
    let mean = {
        let sum: f64 = old_ht.iter().map(|&v| f64::from(v)).sum();
        if old_ht.is_empty() {
            0.0
        } else {
            (sum / old_ht.len() as f64) as f32
        }
    };
    if params.get_solver() == Solver::Mu {
        // A multiplicative update never revives an exact zero: start every
        // entry of a non-empty document slightly above it.
        let floor = mean.max(f32::MIN_POSITIVE) * 1e-2;
        for (i, row) in w0.chunks_exact_mut(k).enumerate() {
            if x.outer_view(i).is_some_and(|r| r.nnz() > 0) {
                row.iter_mut().for_each(|v| *v = v.max(floor));
            }
        }
    }
    let mut ht0 = Vec::with_capacity(m * k);
    ht0.extend_from_slice(old_ht);
    ht0.resize(m * k, mean);

    let mut model = params
        .fit_from(&x, Some(&xt), w0, ht0, callback)
        .with_context(|| format!("cannot fit {}", corpus.dir().display()))?;

    // Renumber: today's topic matched to yesterday's topic t becomes topic t.
    let today_old_terms = &model.ht()[..m_old * k];
    let matching = match_topics(old_ht, k, today_old_terms, k)
        .context("cannot match today's topics to yesterday's")?;
    let mut order = vec![0; k];
    let mut similarity = vec![0.0; k];
    for pair in &matching.pairs {
        order[pair.a] = pair.b;
        similarity[pair.a] = pair.similarity;
    }
    model.permute_topics(&order);
    Ok((model, similarity))
}

/// The rows of `x` keeping only columns `< m`.
fn restrict_columns(x: &topicmill_sparse::CsrView<'_>, m: usize) -> CsrMatrix {
    let mut indptr = Vec::with_capacity(x.rows() + 1);
    let mut indices = Vec::new();
    let mut data = Vec::new();
    indptr.push(0u64);
    for row in x.outer_iterator() {
        for (&j, &v) in row.indices().iter().zip(row.data()) {
            if (j as usize) < m {
                indices.push(j);
                data.push(v);
            }
        }
        indptr.push(indices.len() as u64);
    }
    CsrMatrix::new((x.rows(), m), indptr, indices, data)
}

#[derive(Debug, Clone, Serialize)]
struct TopicChange {
    /// 1-based, as in `topicmill topics`.
    id: usize,
    status: &'static str,
    similarity: f64,
    top_words: Vec<String>,
    previous_top_words: Vec<String>,
}

#[derive(Debug, Serialize)]
struct ChangeReport {
    previous_model: String,
    model: String,
    previous_terms: usize,
    new_terms: usize,
    keep_similarity: f64,
    drift_similarity: f64,
    kept: usize,
    drifted: usize,
    new: usize,
    vanished: usize,
    topics: Vec<TopicChange>,
    /// Yesterday's topics that no topic of today continues (status `new` at their id).
    vanished_topics: Vec<TopicChange>,
}

/// Prints a one-line summary per topic and returns the change report (JSON).
pub fn report(
    args: &WarmArgs,
    previous: &Previous,
    model: &NmfModel,
    vocabulary: &[String],
    similarity: &[f64],
    model_path: &Path,
) -> Result<String> {
    let k = model.k();
    let words = |ht: &[f32], t: usize, vocab: &[String]| -> Vec<String> {
        top_indices(ht.chunks_exact(k).map(|row| row[t]), 10)
            .into_iter()
            .filter(|&j| ht[j * k + t] > 0.0)
            .map(|j| vocab[j].clone())
            .collect()
    };
    let mut topics = Vec::with_capacity(k);
    let mut vanished_topics = Vec::new();
    for (t, &sim) in similarity.iter().enumerate() {
        let status = if sim >= args.keep_similarity {
            "kept"
        } else if sim >= args.drift_similarity {
            "drifted"
        } else {
            "new"
        };
        let change = TopicChange {
            id: t + 1,
            status,
            similarity: sim,
            top_words: words(model.ht(), t, vocabulary),
            previous_top_words: words(previous.model.ht(), t, &previous.vocabulary),
        };
        if status == "new" {
            vanished_topics.push(TopicChange {
                status: "vanished",
                top_words: Vec::new(),
                ..change.clone()
            });
        }
        topics.push(change);
    }
    let count = |s: &str| topics.iter().filter(|t| t.status == s).count();
    let report = ChangeReport {
        previous_model: previous.path.display().to_string(),
        model: model_path.display().to_string(),
        previous_terms: previous.vocabulary.len(),
        new_terms: vocabulary.len() - previous.vocabulary.len(),
        keep_similarity: args.keep_similarity,
        drift_similarity: args.drift_similarity,
        kept: count("kept"),
        drifted: count("drifted"),
        new: count("new"),
        vanished: vanished_topics.len(),
        topics,
        vanished_topics,
    };
    let mut err = std::io::stderr().lock();
    for topic in &report.topics {
        writeln!(
            err,
            "topic #{:02} {:<8} similarity {:.3}: {}",
            topic.id,
            topic.status,
            topic.similarity,
            topic.top_words.join(" ")
        )?;
    }
    Ok(serde_json::to_string_pretty(&report)?)
}
