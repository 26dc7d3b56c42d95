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
    /// Top words per topic for NPMI coherence, at least 2 (it scores pairs
    /// of them: [`EvalError::TooFewWords`]). Default 10 (Bouma 2009, Lau et
    /// al. 2014).
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
/// corpus's stored transpose, or `topicmill_sparse::transpose(x)`), both
/// CSR views ([`EvalError::NotCsr`] names the one that is not). X's values
/// must be finite and non-negative (see [`reconstruction_error`]), and `xt`
/// must be X's transpose entry for entry: one pass over both, O(nnz), checks
/// it and names the first place where they differ
/// ([`EvalError::NotTranspose`]).
pub fn evaluate<L: Eq + Hash>(
    x: CsrView<'_>,
    xt: CsrView<'_>,
    factors: &Factors<'_>,
    labels: Option<&[L]>,
    options: &EvalOptions,
) -> Result<Evaluation, EvalError> {
    if !x.is_csr() {
        return Err(EvalError::NotCsr { what: "X" });
    }
    if !xt.is_csr() {
        return Err(EvalError::NotCsr { what: "Xᵀ" });
    }
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
    if options.coherence_words < 2 {
        return Err(EvalError::TooFewWords {
            what: "coherence",
            asked: options.coherence_words,
            least: 2,
        });
    }
    let reconstruction = reconstruction_error(x, factors)?;
    check_transpose(&x, &xt)?;
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

/// Checks that `xt` stores exactly the entries of X transposed, with the
/// same values ([`topicmill_sparse::transpose_difference`]: both read once,
/// in parallel; a difference is then located exactly, the first in Xᵀ's
/// row order).
fn check_transpose(x: &CsrView<'_>, xt: &CsrView<'_>) -> Result<(), EvalError> {
    match topicmill_sparse::transpose_difference(x.view(), xt.view()) {
        None => Ok(()),
        Some(d) => Err(EvalError::NotTranspose {
            row: d.row,
            col: d.col,
            xt_value: d.xt_value.map(f64::from),
            x_value: d.x_value.map(f64::from),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use topicmill_sparse::{transpose, CsrMatrix};

    /// 4 documents × 4 terms: documents 0–1 use terms 0–1, 2–3 terms 2–3
    /// (the crate example), with an exact rank-2 factorization.
    fn x() -> CsrMatrix {
        CsrMatrix::new(
            (4, 4),
            vec![0, 2, 4, 6, 8],
            vec![0, 1, 0, 1, 2, 3, 2, 3],
            vec![1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 3.0, 1.0],
        )
    }

    const W: [f32; 8] = [1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0];
    const HT: [f32; 8] = [1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0];
    const OPTIONS: EvalOptions = EvalOptions {
        coherence_words: 2,
        diversity_words: 2,
    };

    fn run(x: CsrView<'_>, xt: CsrView<'_>) -> Result<Evaluation, EvalError> {
        let factors = Factors::new(&W, &HT, 2).unwrap();
        evaluate(x, xt, &factors, None::<&[u8]>, &OPTIONS)
    }

    #[test]
    fn the_true_transpose_scores() {
        let x = x();
        let e = run(x.view(), transpose(x.view()).view()).unwrap();
        assert_eq!(e.topics[0].coherence, 1.0);
        assert_eq!(e.topics[1].coherence, 1.0);
    }

    /// Coherence scores pairs of words: one word per topic (every topic
    /// then scored −1, as a topic without a pair) is refused.
    #[test]
    fn coherence_needs_a_pair_of_words() {
        let x = x();
        let factors = Factors::new(&W, &HT, 2).unwrap();
        let xt = transpose(x.view());
        for asked in [0, 1] {
            let options = EvalOptions {
                coherence_words: asked,
                ..OPTIONS
            };
            let err = evaluate(x.view(), xt.view(), &factors, None::<&[u8]>, &options);
            assert_eq!(
                err.unwrap_err().to_string(),
                format!("coherence: {asked} top words per topic asked for, at least 2 needed")
            );
        }
    }

    #[test]
    fn column_major_views_are_named() {
        let x = x();
        let xt = transpose(x.view());
        // X's CSC view (through Xᵀ) as X, and Xᵀ's (through X) as Xᵀ: square,
        // so the old code took them for CSR and scored wrong numbers.
        assert_eq!(
            run(xt.transpose_view(), xt.view()).unwrap_err(),
            EvalError::NotCsr { what: "X" }
        );
        assert_eq!(
            run(x.view(), x.transpose_view()).unwrap_err().to_string(),
            "Xᵀ: the view stores its matrix by columns (CSC); a row-major (CSR) view is needed"
        );
    }

    #[test]
    fn xt_must_be_the_transpose_of_x() {
        let x = x();
        let xt = transpose(x.view());
        let with_data = |data: Vec<f32>| {
            CsrMatrix::new(
                (4, 4),
                xt.indptr().raw_storage().to_vec(),
                xt.indices().to_vec(),
                data,
            )
        };
        // Negated values: same shape and nnz; coherence read them as absent.
        let negated = with_data(xt.data().iter().map(|v| -v).collect());
        assert_eq!(
            run(x.view(), negated.view()).unwrap_err().to_string(),
            "Xᵀ is not the transpose of X: row 0, column 0 of Xᵀ holds -1, \
             but row 0, column 0 of X holds 1"
        );
        // A NaN in Xᵀ (X is clean).
        let mut data = xt.data().to_vec();
        data[5] = f32::NAN;
        assert!(matches!(
            run(x.view(), with_data(data).view()).unwrap_err(),
            EvalError::NotTranspose { row: 2, col: 3, xt_value: Some(v), x_value: Some(x) }
                if v.is_nan() && x == 3.0
        ));
        // Same shape and nnz, another structure: X itself as its transpose
        // (terms 0–1 in documents 0–1 becomes terms 0–1 in documents 0 and
        // 1 swapped around). The QA case: coherence −1 instead of 1.
        let other = CsrMatrix::new(
            (4, 4),
            vec![0, 2, 4, 6, 8],
            vec![0, 2, 1, 3, 0, 2, 1, 3],
            vec![1.0; 8],
        );
        assert_eq!(
            run(x.view(), other.view()).unwrap_err(),
            EvalError::NotTranspose {
                row: 0,
                col: 2,
                xt_value: Some(1.0),
                x_value: None
            }
        );
        // An entry of X missing from Xᵀ, with the same nnz: Xᵀ's row 1 lists
        // document 2 instead of document 1.
        let moved = CsrMatrix::new(
            (4, 4),
            vec![0, 2, 4, 6, 8],
            vec![0, 1, 0, 2, 2, 3, 2, 3],
            vec![1.0, 1.0, 2.0, 1.0, 1.0, 3.0, 1.0, 1.0],
        );
        assert_eq!(
            run(x.view(), moved.view()).unwrap_err().to_string(),
            "Xᵀ is not the transpose of X: row 1, column 2 of Xᵀ holds 1, \
             but row 2, column 1 of X stores nothing"
        );
    }

    #[test]
    fn values_of_x_are_checked_before_anything_is_scored() {
        let mut data = vec![1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 3.0, 1.0];
        data[3] = f32::INFINITY;
        let x = CsrMatrix::new(
            (4, 4),
            vec![0, 2, 4, 6, 8],
            vec![0, 1, 0, 1, 2, 3, 2, 3],
            data,
        );
        assert_eq!(
            run(x.view(), transpose(x.view()).view())
                .unwrap_err()
                .to_string(),
            "X: non-finite value inf at row 1, column 1"
        );
    }
}
