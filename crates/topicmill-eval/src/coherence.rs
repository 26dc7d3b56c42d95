//! NPMI coherence from document co-occurrence.

use rayon::prelude::*;
use serde::Serialize;
use topicmill_sparse::CsrView;

use crate::EvalError;

/// NPMI coherence of a set of topics: one score per topic and their mean.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coherence {
    /// Mean NPMI over the word pairs of each topic, in [−1, 1].
    pub per_topic: Vec<f64>,
    /// Mean of `per_topic` (unweighted: every topic counts once).
    pub mean: f64,
}

/// NPMI coherence of each topic's words, counted on the documents of a corpus.
///
/// `xt` is Xᵀ, terms × documents in CSR (the corpus's `transpose()`): row w
/// lists the documents containing term w, sorted. A document *contains* a
/// term when its stored value is positive (presence, not weight). With N
/// documents, D(w) the documents containing w and D(wᵢ,wⱼ) those containing
/// both, P(w) = D(w)/N and P(wᵢ,wⱼ) = D(wᵢ,wⱼ)/N, and for each pair of words
///
/// ```text
/// NPMI(wᵢ,wⱼ) = ln( P(wᵢ,wⱼ) / (P(wᵢ) P(wⱼ)) ) / −ln P(wᵢ,wⱼ)
/// ```
///
/// Conventions, exact rather than smoothed (no ε is added anywhere):
/// - P(wᵢ,wⱼ) = 0 — the words never share a document — scores **−1**, the
///   limit of NPMI as the joint probability goes to 0 (gensim's `c_npmi` gets
///   close to −1 by adding ε = 1e-12 inside the logarithm; we use the limit).
/// - P(wᵢ,wⱼ) = 1 — both words in every document — scores **+1** (perfect
///   co-occurrence; the formula is 0/0 there).
/// - Natural logarithms; the base cancels in the ratio.
///
/// A topic's score is the mean over its unordered word pairs (45 for ten
/// words); a topic with fewer than two words has no pair and scores −1, the
/// worst value, so a dead topic cannot raise the mean. [`Coherence::mean`]
/// is the mean over topics.
///
/// Co-occurrence counts intersect the two sorted posting lists (O(D(wᵢ) +
/// D(wⱼ)) per pair); topics are scored in parallel and the result does not
/// depend on the thread count.
///
/// Errors: `xt` a view of column-major storage ([`EvalError::NotCsr`]);
/// no topics at all ([`EvalError::NoTopics`]: the mean would be 0/0); no
/// documents; a word out of range; and in the rows of the topics' words
/// (the only ones read), documents out of order or a value that is NaN,
/// infinite or negative ([`EvalError::NonFinite`], [`EvalError::Negative`]
/// naming the row and column of Xᵀ). Only those rows are read: that `xt`
/// is the transpose of the corpus's X is trusted
/// ([`evaluate`](crate::evaluate) checks it).
pub fn npmi_coherence(xt: CsrView<'_>, topics: &[Vec<u32>]) -> Result<Coherence, EvalError> {
    if !xt.is_csr() {
        return Err(EvalError::NotCsr { what: "Xᵀ" });
    }
    if topics.is_empty() {
        return Err(EvalError::NoTopics { what: "coherence" });
    }
    let (n_terms, n_docs) = xt.shape();
    if n_docs == 0 {
        return Err(EvalError::NoDocuments { what: "coherence" });
    }
    for (topic, words) in topics.iter().enumerate() {
        for (position, &term) in words.iter().enumerate() {
            if term as usize >= n_terms {
                return Err(EvalError::TermOutOfRange {
                    topic,
                    position,
                    term,
                    n_terms,
                });
            }
            check_postings(&xt, term as usize)?;
        }
    }
    let per_topic: Vec<f64> = topics
        .par_iter()
        .map(|words| topic_npmi(&xt, words, n_docs))
        .collect();
    let mean = mean(&per_topic);
    Ok(Coherence { per_topic, mean })
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// The postings of `term`: document indices and values.
fn postings<'a>(xt: &'a CsrView<'_>, term: usize) -> (&'a [u32], &'a [f32]) {
    let range = xt.indptr().outer_inds_sz(term);
    (&xt.indices()[range.clone()], &xt.data()[range])
}

/// The row of `term` in Xᵀ: documents strictly increasing, values finite
/// and non-negative.
fn check_postings(xt: &CsrView<'_>, term: usize) -> Result<(), EvalError> {
    let (docs, values) = postings(xt, term);
    if let Some(i) = docs.windows(2).position(|w| w[0] >= w[1]) {
        return Err(EvalError::UnsortedPostings {
            term,
            position: i + 1,
        });
    }
    match values.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
        None => Ok(()),
        Some(i) => {
            let (row, col, value) = (term, docs[i] as usize, f64::from(values[i]));
            Err(match values[i].is_finite() {
                false => EvalError::NonFinite {
                    what: "Xᵀ",
                    row,
                    col,
                    value,
                },
                true => EvalError::Negative {
                    what: "Xᵀ",
                    row,
                    col,
                    value,
                },
            })
        }
    }
}

fn document_frequency(xt: &CsrView<'_>, term: u32) -> u64 {
    let (_, values) = postings(xt, term as usize);
    values.iter().filter(|&&v| v > 0.0).count() as u64
}

/// Documents containing both terms: a merge of the two sorted posting lists.
fn co_document_frequency(xt: &CsrView<'_>, a: u32, b: u32) -> u64 {
    let (da, va) = postings(xt, a as usize);
    let (db, vb) = postings(xt, b as usize);
    let (mut i, mut j, mut count) = (0, 0, 0u64);
    while i < da.len() && j < db.len() {
        match da[i].cmp(&db[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                count += u64::from(va[i] > 0.0 && vb[j] > 0.0);
                i += 1;
                j += 1;
            }
        }
    }
    count
}

/// NPMI of one pair from document counts, with the conventions of
/// [`npmi_coherence`].
pub(crate) fn npmi_from_counts(joint: u64, a: u64, b: u64, n: u64) -> f64 {
    if joint == 0 {
        return -1.0;
    }
    if joint == n {
        return 1.0;
    }
    // Ratios of exact integer products, so independence (joint·n = a·b)
    // gives exactly 0 and the logarithm sees one rounding, not four.
    let pmi =
        ((u128::from(joint) * u128::from(n)) as f64 / (u128::from(a) * u128::from(b)) as f64).ln();
    pmi / (n as f64 / joint as f64).ln()
}

fn topic_npmi(xt: &CsrView<'_>, words: &[u32], n_docs: usize) -> f64 {
    if words.len() < 2 {
        return -1.0;
    }
    let n = n_docs as u64;
    let df: Vec<u64> = words.iter().map(|&w| document_frequency(xt, w)).collect();
    let (mut sum, mut pairs) = (0.0, 0usize);
    for i in 0..words.len() {
        for j in i + 1..words.len() {
            let joint = co_document_frequency(xt, words[i], words[j]);
            sum += npmi_from_counts(joint, df[i], df[j], n);
            pairs += 1;
        }
    }
    sum / pairs as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use topicmill_sparse::CsrMatrix;

    /// Xᵀ of 4 documents over 4 terms:
    /// term 0 in docs {0,1,2,3}, term 1 in {0,1}, term 2 in {2,3}, term 3 in {0}.
    fn xt() -> CsrMatrix {
        CsrMatrix::new(
            (4, 4),
            vec![0, 4, 6, 8, 9],
            vec![0, 1, 2, 3, 0, 1, 2, 3, 0],
            vec![1.0, 2.0, 1.0, 1.0, 0.5, 0.5, 3.0, 1.0, 1.0],
        )
    }

    #[test]
    fn hand_computed_pairs() {
        let xt = xt();
        // terms 1, 2: never together → −1.
        let c = npmi_coherence(xt.view(), &[vec![1, 2]]).unwrap();
        assert_eq!(c.per_topic, vec![-1.0]);
        // terms 1, 3: P(1)=1/2, P(3)=1/4, P(1,3)=1/4:
        // ln((1/4)/(1/8)) / −ln(1/4) = ln 2 / ln 4 = 1/2.
        let c = npmi_coherence(xt.view(), &[vec![1, 3]]).unwrap();
        assert!((c.per_topic[0] - 0.5).abs() < 1e-15, "{c:?}");
        // terms 0, 1: P(0)=1, P(1)=P(0,1)=1/2: ln 1 / ln 2 = 0 (independent).
        let c = npmi_coherence(xt.view(), &[vec![0, 1]]).unwrap();
        assert_eq!(c.per_topic, vec![0.0]);
        // term 0 with itself: P = 1 everywhere → +1 by convention.
        let c = npmi_coherence(xt.view(), &[vec![0, 0]]).unwrap();
        assert_eq!(c.per_topic, vec![1.0]);
    }

    #[test]
    fn topic_is_mean_over_pairs_and_mean_over_topics() {
        let xt = xt();
        // Topic {1, 2, 3}: pairs (1,2) = −1, (1,3) = 1/2, (2,3) = −1 → −1/2.
        // Topic {0, 1}: 0. Topic {3}: no pair → −1.
        let c = npmi_coherence(xt.view(), &[vec![1, 2, 3], vec![0, 1], vec![3]]).unwrap();
        assert!((c.per_topic[0] + 0.5).abs() < 1e-15);
        assert_eq!(c.per_topic[1..], [0.0, -1.0]);
        assert!((c.mean - (-0.5 + 0.0 - 1.0) / 3.0).abs() < 1e-15);
    }

    #[test]
    fn stored_zeros_are_absent() {
        // As xt() but term 3's only entry (doc 0) is an explicit 0: term 3 is
        // in no document, so it co-occurs with nothing.
        let mut data = vec![1.0, 2.0, 1.0, 1.0, 0.5, 0.5, 3.0, 1.0, 0.0];
        let x = CsrMatrix::new(
            (4, 4),
            vec![0, 4, 6, 8, 9],
            vec![0, 1, 2, 3, 0, 1, 2, 3, 0],
            data.clone(),
        );
        assert_eq!(
            npmi_coherence(x.view(), &[vec![1, 3]]).unwrap().per_topic,
            [-1.0]
        );
        data[8] = 1.0;
        let x = CsrMatrix::new(
            (4, 4),
            vec![0, 4, 6, 8, 9],
            vec![0, 1, 2, 3, 0, 1, 2, 3, 0],
            data,
        );
        assert!(npmi_coherence(x.view(), &[vec![1, 3]]).unwrap().per_topic[0] > 0.49);
    }

    #[test]
    fn errors_name_the_place() {
        let xt = xt();
        assert_eq!(
            npmi_coherence(xt.view(), &[vec![0, 1], vec![2, 9]])
                .unwrap_err()
                .to_string(),
            "coherence: topic 1, word 1: term index 9 is out of range for 4 terms"
        );
        let empty = CsrMatrix::new((2, 0), vec![0, 0, 0], vec![], vec![]);
        assert_eq!(
            npmi_coherence(empty.view(), &[vec![0, 1]]).unwrap_err(),
            EvalError::NoDocuments { what: "coherence" }
        );
    }

    #[test]
    fn no_topics_is_an_error_not_a_nan_mean() {
        assert_eq!(
            npmi_coherence(xt().view(), &[]).unwrap_err().to_string(),
            "coherence: k is 0, there is no topic to score"
        );
    }

    #[test]
    fn xt_must_be_a_csr_view_with_valid_values_in_the_rows_read() {
        let xt = xt();
        // Its CSC view (the same matrix by columns): the rows read were columns.
        let x = topicmill_sparse::transpose(xt.view());
        assert_eq!(
            npmi_coherence(x.transpose_view(), &[vec![1, 3]]).unwrap_err(),
            EvalError::NotCsr { what: "Xᵀ" }
        );
        // A NaN, an infinity or a negative value in a topic word's row was
        // silently "absent" (−1 where the words co-occur).
        let with = |v: f32| {
            let mut data = vec![1.0, 2.0, 1.0, 1.0, 0.5, 0.5, 3.0, 1.0, 1.0];
            data[8] = v;
            CsrMatrix::new(
                (4, 4),
                vec![0, 4, 6, 8, 9],
                vec![0, 1, 2, 3, 0, 1, 2, 3, 0],
                data,
            )
        };
        assert_eq!(
            npmi_coherence(with(f32::NAN).view(), &[vec![1, 3]])
                .unwrap_err()
                .to_string(),
            "Xᵀ: non-finite value NaN at row 3, column 0"
        );
        assert_eq!(
            npmi_coherence(with(-1.0).view(), &[vec![1, 3]])
                .unwrap_err()
                .to_string(),
            "Xᵀ: negative value -1 at row 3, column 0"
        );
        // Rows no topic reads are not checked (that is evaluate's job).
        assert!(npmi_coherence(with(f32::INFINITY).view(), &[vec![0, 1]]).is_ok());
    }

    #[test]
    fn npmi_is_bounded() {
        for n in 1..12u64 {
            for a in 1..=n {
                for b in 1..=n {
                    let lo = (a + b).saturating_sub(n);
                    for joint in lo..=a.min(b) {
                        let v = npmi_from_counts(joint, a, b, n);
                        assert!(
                            (-1.0..=1.0 + 1e-12).contains(&v),
                            "{joint} {a} {b} {n}: {v}"
                        );
                    }
                }
            }
        }
    }
}
