//! All the scores of one model on one corpus, in one call.

use std::hash::Hash;

use serde::Serialize;
use topicmill_sparse::CsrView;

use crate::{
    cluster_scores, dominant_topics, npmi_coherence, reconstruction_error, top_words,
    topic_diversity, ClusterScores, EvalError, Factors, Reconstruction,
};

/// How many top words the scores use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalOptions {
    /// Top words per topic for NPMI coherence. Default 10 (Bouma 2009,
    /// Lau et al. 2014).
    pub coherence_words: usize,
    /// Top words per topic for diversity. Default 25 (Dieng et al. 2020).
    pub diversity_words: usize,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            coherence_words: 10,
            diversity_words: 25,
        }
    }
}

/// The scores of one topic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicScore {
    /// Its top words (term indices, largest weight first), the ones its
    /// coherence is computed on.
    pub words: Vec<u32>,
    /// NPMI coherence of `words`.
    pub coherence: f64,
    /// Documents whose dominant topic this is.
    pub documents: usize,
    /// `documents` as a fraction of all documents.
    pub share: f64,
}

/// Every score of a model on a corpus; see [`evaluate`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// Per topic, in the model's order.
    pub topics: Vec<TopicScore>,
    /// Mean NPMI coherence over topics.
    pub coherence: f64,
    /// Unique fraction of all top-`diversity_words` words.
    pub diversity: f64,
    /// ‖X − WH‖_F and its ratio to ‖X‖_F.
    pub reconstruction: Reconstruction,
    /// Documents with an all-zero row of W (no dominant topic).
    pub unassigned_documents: usize,
    /// NMI, ARI, purity of the dominant-topic clustering, when labels were given.
    pub clustering: Option<ClusterScores>,
}

/// Scores a factorization on its corpus: NPMI coherence of every topic
/// ([`npmi_coherence`]), topic diversity ([`topic_diversity`]), the
/// reconstruction error ([`reconstruction_error`]), each topic's share of
/// dominant documents ([`dominant_topics`]) and, with `labels`, the
/// clustering scores ([`cluster_scores`]) where documents without a dominant
/// topic form a cluster of their own.
///
/// `x` is the corpus matrix (documents × terms) and `xt` its transpose (the
/// corpus's stored transpose, or `topicmill_sparse::transpose(x)`).
pub fn evaluate<L: Eq + Hash>(
    x: CsrView<'_>,
    xt: CsrView<'_>,
    factors: &Factors<'_>,
    labels: Option<&[L]>,
    options: &EvalOptions,
) -> Result<Evaluation, EvalError> {
    let (n, m) = x.shape();
    if xt.shape() != (m, n) {
        let (what, expected, found) = if xt.rows() != m {
            ("rows of Xᵀ (terms of X)", m, xt.rows())
        } else {
            ("columns of Xᵀ (documents of X)", n, xt.cols())
        };
        return Err(EvalError::ShapeMismatch {
            what,
            expected,
            found,
        });
    }
    if xt.nnz() != x.nnz() {
        return Err(EvalError::ShapeMismatch {
            what: "stored values of Xᵀ (stored values of X)",
            expected: x.nnz(),
            found: xt.nnz(),
        });
    }
    if options.coherence_words == 0 {
        return Err(EvalError::NoWords { what: "coherence" });
    }
    let reconstruction = reconstruction_error(x, factors)?;
    let k = factors.k();
    let words_needed = options.coherence_words.max(options.diversity_words);
    let top = top_words(factors.ht(), k, words_needed);
    let coherence_lists: Vec<Vec<u32>> = top
        .iter()
        .map(|w| w[..w.len().min(options.coherence_words)].to_vec())
        .collect();
    let coherence = npmi_coherence(xt, &coherence_lists)?;
    let diversity = topic_diversity(&top, options.diversity_words.min(m))?;
    let dominant = dominant_topics(factors.w(), k);
    let mut counts = vec![0usize; k];
    for t in dominant.iter().flatten() {
        counts[*t as usize] += 1;
    }
    let unassigned_documents = dominant.iter().filter(|d| d.is_none()).count();
    let clustering = labels
        .map(|labels| cluster_scores(labels, &dominant))
        .transpose()?;
    let topics = coherence_lists
        .into_iter()
        .zip(&coherence.per_topic)
        .zip(counts)
        .map(|((words, &coherence), documents)| TopicScore {
            words,
            coherence,
            documents,
            share: documents as f64 / n as f64,
        })
        .collect();
    Ok(Evaluation {
        topics,
        coherence: coherence.mean,
        diversity,
        reconstruction,
        unassigned_documents,
        clustering,
    })
}
