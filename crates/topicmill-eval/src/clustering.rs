//! Agreement between a clustering (dominant topics) and reference labels.

use std::collections::HashMap;
use std::hash::Hash;

use serde::Serialize;

use crate::EvalError;

/// NMI, ARI and purity of a clustering against reference labels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ClusterScores {
    /// Normalized mutual information, arithmetic normalization (scikit-learn's
    /// `normalized_mutual_info_score` default), in [0, 1].
    pub nmi: f64,
    /// Adjusted Rand index (scikit-learn's `adjusted_rand_score`), ≤ 1, 0 for
    /// chance.
    pub ari: f64,
    /// Purity: the fraction of documents whose cluster's most frequent label
    /// is their own, in (0, 1].
    pub purity: f64,
    /// Number of distinct labels.
    pub classes: usize,
    /// Number of distinct clusters (a "no topic" cluster counts as one).
    pub clusters: usize,
}

/// The contingency table of two labellings, in a canonical order: class and
/// cluster ids by first appearance, non-zero cells sorted, so every sum below
/// is taken in the same order whatever the hash seeds.
struct Contingency {
    n: u64,
    class_sizes: Vec<u64>,
    cluster_sizes: Vec<u64>,
    /// (class, cluster, count), sorted, counts > 0.
    cells: Vec<(usize, usize, u64)>,
}

impl Contingency {
    fn new<L: Eq + Hash, C: Eq + Hash>(labels: &[L], clusters: &[C]) -> Result<Self, EvalError> {
        if labels.len() != clusters.len() {
            return Err(EvalError::LabelCount {
                labels: labels.len(),
                clusters: clusters.len(),
            });
        }
        if labels.is_empty() {
            return Err(EvalError::NoDocuments {
                what: "clustering scores",
            });
        }
        let class_of = ids(labels);
        let cluster_of = ids(clusters);
        let mut class_sizes = vec![0u64; class_of.iter().max().map_or(0, |m| m + 1)];
        let mut cluster_sizes = vec![0u64; cluster_of.iter().max().map_or(0, |m| m + 1)];
        let mut cells: HashMap<(usize, usize), u64> = HashMap::new();
        for (&a, &b) in class_of.iter().zip(&cluster_of) {
            class_sizes[a] += 1;
            cluster_sizes[b] += 1;
            *cells.entry((a, b)).or_default() += 1;
        }
        let mut cells: Vec<(usize, usize, u64)> =
            cells.into_iter().map(|((a, b), c)| (a, b, c)).collect();
        cells.sort_unstable();
        Ok(Contingency {
            n: labels.len() as u64,
            class_sizes,
            cluster_sizes,
            cells,
        })
    }

    /// Mutual information in nats, clamped at 0 like scikit-learn's.
    fn mutual_information(&self) -> f64 {
        if self.class_sizes.len() == 1 || self.cluster_sizes.len() == 1 {
            return 0.0;
        }
        let n = self.n as f64;
        let mi: f64 = self
            .cells
            .iter()
            .map(|&(a, b, c)| {
                // scikit-learn's order of operations, for the same rounding.
                let p = c as f64 / n;
                let outer = (self.class_sizes[a] * self.cluster_sizes[b]) as f64;
                p * ((c as f64).ln() - n.ln()) + p * (-outer.ln() + n.ln() + n.ln())
            })
            .sum();
        mi.max(0.0)
    }

    fn nmi(&self) -> f64 {
        let (classes, clusters) = (self.class_sizes.len(), self.cluster_sizes.len());
        // scikit-learn: both labellings a single cluster is a perfect match.
        if classes == 1 && clusters == 1 {
            return 1.0;
        }
        let mi = self.mutual_information();
        if mi == 0.0 {
            return 0.0;
        }
        let normalizer =
            (entropy(&self.class_sizes, self.n) + entropy(&self.cluster_sizes, self.n)) / 2.0;
        mi / normalizer
    }

    fn ari(&self) -> f64 {
        // Pair counts as in scikit-learn's `pair_confusion_matrix`, exact in i128.
        let n = i128::from(self.n);
        let sq = |v: u64| i128::from(v) * i128::from(v);
        let sum_squares: i128 = self.cells.iter().map(|&(_, _, c)| sq(c)).sum();
        let class_sq: i128 = self.class_sizes.iter().map(|&c| sq(c)).sum();
        let cluster_sq: i128 = self.cluster_sizes.iter().map(|&c| sq(c)).sum();
        let tp = sum_squares - n;
        let fp = cluster_sq - sum_squares;
        let fn_ = class_sq - sum_squares;
        let tn = n * n - fp - fn_ - sum_squares;
        if fn_ == 0 && fp == 0 {
            return 1.0;
        }
        let numerator = 2 * (tp * tn - fn_ * fp);
        let denominator = (tp + fn_) * (fn_ + tn) + (tp + fp) * (fp + tn);
        numerator as f64 / denominator as f64
    }

    fn purity(&self) -> f64 {
        let mut best = vec![0u64; self.cluster_sizes.len()];
        for &(_, b, c) in &self.cells {
            best[b] = best[b].max(c);
        }
        best.iter().sum::<u64>() as f64 / self.n as f64
    }
}

/// Dense ids 0.. in order of first appearance.
fn ids<T: Eq + Hash>(values: &[T]) -> Vec<usize> {
    let mut map: HashMap<&T, usize> = HashMap::new();
    values
        .iter()
        .map(|v| {
            let next = map.len();
            *map.entry(v).or_insert(next)
        })
        .collect()
}

/// Entropy in nats of a labelling with these cluster sizes.
fn entropy(sizes: &[u64], n: u64) -> f64 {
    if sizes.len() <= 1 {
        return 0.0;
    }
    let n = n as f64;
    -sizes
        .iter()
        .map(|&s| {
            let s = s as f64;
            (s / n) * (s.ln() - n.ln())
        })
        .sum::<f64>()
}

/// NMI, ARI and purity of `clusters` against `labels`, document by document.
///
/// NMI and ARI follow scikit-learn 1.9 exactly, including its special cases:
/// NMI is 1 when both labellings have a single cluster and 0 when only one of
/// them does (no information). Purity assigns each cluster its most frequent
/// label. Any hashable values work as labels and clusters; for a
/// dominant-topic clustering pass [`dominant_topics`](crate::dominant_topics),
/// whose `None` ("no topic") is then simply one more cluster.
///
/// The result does not depend on the order of the documents beyond rounding,
/// and is the same from run to run (sums are taken in a canonical order).
pub fn cluster_scores<L, C>(labels: &[L], clusters: &[C]) -> Result<ClusterScores, EvalError>
where
    L: Eq + Hash,
    C: Eq + Hash,
{
    let table = Contingency::new(labels, clusters)?;
    Ok(ClusterScores {
        nmi: table.nmi(),
        ari: table.ari(),
        purity: table.purity(),
        classes: table.class_sizes.len(),
        clusters: table.cluster_sizes.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12
    }

    /// Reference values from scikit-learn 1.9.1 (`.venv/bin/python`):
    ///
    /// ```python
    /// from sklearn.metrics import normalized_mutual_info_score as nmi, adjusted_rand_score as ari
    /// cases = [
    ///     ([0, 0, 1, 1], [0, 0, 1, 1]),
    ///     ([0, 0, 1, 1], [0, 1, 0, 1]),
    ///     ([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]),
    ///     ([0, 0, 1, 1, 2, 2, 2, 3], [1, 1, 0, 0, 0, 2, 2, 2]),
    ///     ([0, 0, 0, 0], [0, 1, 2, 3]),
    ///     ([0, 1, 2, 0, 3, 4, 5, 1, 1, 2, 0, 0], [2, 2, 0, 1, 1, 0, 0, 2, 3, 3, 3, 2]),
    /// ]
    /// for t, p in cases:
    ///     print(repr(nmi(t, p)), repr(ari(t, p)))
    /// ```
    #[rustfmt::skip]
    const SKLEARN: &[(&[u8], &[u8], f64, f64)] = &[
        (&[0, 0, 1, 1], &[0, 0, 1, 1], 1.0, 1.0),
        (&[0, 0, 1, 1], &[0, 1, 0, 1], 0.0, -0.5),
        (&[0, 0, 0, 1, 1, 1], &[0, 0, 1, 1, 2, 2], 0.5158037429793889, 0.24242424242424243),
        (&[0, 0, 1, 1, 2, 2, 2, 3], &[1, 1, 0, 0, 0, 2, 2, 2], 0.7020168761809934, 0.3684210526315789),
        (&[0, 0, 0, 0], &[0, 1, 2, 3], 0.0, 0.0),
        (&[0, 1, 2, 0, 3, 4, 5, 1, 1, 2, 0, 0], &[2, 2, 0, 1, 1, 0, 0, 2, 3, 3, 3, 2],
         0.4927098435206973, 0.003179650238473768),
    ];

    #[test]
    fn matches_scikit_learn() {
        for &(t, p, nmi, ari) in SKLEARN {
            let s = cluster_scores(t, p).unwrap();
            assert!(close(s.nmi, nmi), "NMI {t:?} {p:?}: {} vs {nmi}", s.nmi);
            assert!(close(s.ari, ari), "ARI {t:?} {p:?}: {} vs {ari}", s.ari);
        }
    }

    #[test]
    fn purity_hand_computed() {
        // Clusters {0,1,2} labels a,a,b → 2; {3,4} labels b,c → 1; {5} c → 1: 4/6.
        let labels = ["a", "a", "b", "b", "c", "c"];
        let clusters = [0, 0, 0, 1, 1, 2];
        let s = cluster_scores(&labels, &clusters).unwrap();
        assert!(close(s.purity, 4.0 / 6.0));
        assert_eq!((s.classes, s.clusters), (3, 3));
    }

    #[test]
    fn no_topic_is_a_cluster_of_its_own() {
        // Two documents with no topic (None) form one cluster: the label
        // split a|b is then recovered exactly.
        let labels = ["a", "a", "b", "b"];
        let clusters = [Some(0u32), Some(0), None, None];
        let s = cluster_scores(&labels, &clusters).unwrap();
        assert!(close(s.nmi, 1.0), "{}", s.nmi);
        assert_eq!((s.ari, s.purity, s.clusters), (1.0, 1.0, 2));
    }

    #[test]
    fn single_cluster_cases_follow_scikit_learn() {
        // sklearn: nmi([0,0],[5,5]) == 1.0; nmi([0,1],[5,5]) == 0.0;
        // ari([0,0],[5,5]) == 1.0; ari([0,1],[5,5]) == 0.0.
        let s = cluster_scores(&[0, 0], &[5, 5]).unwrap();
        assert_eq!((s.nmi, s.ari, s.purity), (1.0, 1.0, 1.0));
        let s = cluster_scores(&[0, 1], &[5, 5]).unwrap();
        assert_eq!((s.nmi, s.ari, s.purity), (0.0, 0.0, 0.5));
    }

    #[test]
    fn errors() {
        assert_eq!(
            cluster_scores(&[0, 1], &[0]).unwrap_err().to_string(),
            "clustering scores: 2 labels but 1 cluster assignments"
        );
        assert_eq!(
            cluster_scores::<u8, u8>(&[], &[]).unwrap_err().to_string(),
            "clustering scores: there are no documents"
        );
    }

    fn labelling() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
        (1usize..60).prop_flat_map(|n| {
            (
                proptest::collection::vec(0u8..6, n),
                proptest::collection::vec(0u8..6, n),
            )
        })
    }

    proptest! {
        #[test]
        fn relabelled_clustering_is_perfect(
            (labels, _) in labelling(),
            perm in Just((0u8..6).collect::<Vec<_>>()).prop_shuffle(),
        ) {
            let renamed: Vec<u8> = labels.iter().map(|&l| perm[l as usize] + 100).collect();
            let s = cluster_scores(&labels, &renamed).unwrap();
            prop_assert!(close(s.nmi, 1.0), "{}", s.nmi);
            prop_assert_eq!(s.ari, 1.0);
            prop_assert_eq!(s.purity, 1.0);
        }

        #[test]
        fn nmi_and_ari_are_symmetric_and_bounded((a, b) in labelling()) {
            let ab = cluster_scores(&a, &b).unwrap();
            let ba = cluster_scores(&b, &a).unwrap();
            prop_assert!(close(ab.nmi, ba.nmi));
            prop_assert!(close(ab.ari, ba.ari));
            prop_assert!((0.0..=1.0 + 1e-12).contains(&ab.nmi));
            prop_assert!(ab.ari <= 1.0 + 1e-12);
            prop_assert!(ab.purity > 0.0 && ab.purity <= 1.0);
        }

        #[test]
        fn order_of_documents_does_not_matter(
            (a, b) in labelling(),
            seed in any::<u64>(),
        ) {
            let mut idx: Vec<usize> = (0..a.len()).collect();
            // A seeded Fisher–Yates shuffle of the documents.
            let mut state = seed | 1;
            for i in (1..idx.len()).rev() {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17;
                idx.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let a2: Vec<u8> = idx.iter().map(|&i| a[i]).collect();
            let b2: Vec<u8> = idx.iter().map(|&i| b[i]).collect();
            let s1 = cluster_scores(&a, &b).unwrap();
            let s2 = cluster_scores(&a2, &b2).unwrap();
            prop_assert!(close(s1.nmi, s2.nmi) && close(s1.ari, s2.ari));
            prop_assert_eq!(s1.purity, s2.purity);
        }
    }
}
