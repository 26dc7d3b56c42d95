//! Topic diversity.

use std::collections::HashSet;

use crate::EvalError;

/// Topic diversity: the fraction of unique words among the top `n` words of
/// all topics, |⋃ₜ topₙ(t)| / (k · n), in (0, 1]; 1 when no two topics share
/// a top word (Dieng et al. 2020 use n = 25).
///
/// Each list is cut to its first `n` words. A list shorter than `n` (a topic
/// with fewer positive weights, see [`top_words`](crate::top_words)) leaves
/// empty slots that count in the denominator like repeated words, so a dead
/// topic lowers diversity instead of vanishing from it. When the vocabulary
/// has fewer than `n` terms, pass `n` = the vocabulary size.
///
/// The denominator k · n is taken in f64, exact below 2⁵³ slots; beyond,
/// where k · n would overflow an integer, it is the fraction within
/// rounding (tiny, not infinite). No topics or `n` = 0 is an error.
pub fn topic_diversity(topics: &[Vec<u32>], n: usize) -> Result<f64, EvalError> {
    if topics.is_empty() {
        return Err(EvalError::NoTopics { what: "diversity" });
    }
    if n == 0 {
        return Err(EvalError::TooFewWords {
            what: "diversity",
            asked: 0,
            least: 1,
        });
    }
    let unique: HashSet<u32> = topics
        .iter()
        .flat_map(|words| words.iter().take(n).copied())
        .collect();
    Ok(unique.len() as f64 / (topics.len() as f64 * n as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed() {
        // 3 topics × 3 words = 9 slots; unique {0,1,2,3,4,5,6} = 7.
        let topics = [vec![0, 1, 2], vec![2, 3, 4], vec![4, 5, 6]];
        assert_eq!(topic_diversity(&topics, 3).unwrap(), 7.0 / 9.0);
        // Cut at n = 2: {0,1,2,3,4,5} of 6 slots.
        assert_eq!(topic_diversity(&topics, 2).unwrap(), 1.0);
        // A short list leaves empty slots: {0,1} and {} → 2 of 4.
        assert_eq!(topic_diversity(&[vec![0, 1], vec![]], 2).unwrap(), 0.5);
        // Identical topics: 3 unique of 9.
        let same = [vec![7, 8, 9], vec![7, 8, 9], vec![9, 8, 7]];
        assert_eq!(topic_diversity(&same, 3).unwrap(), 1.0 / 3.0);
    }

    #[test]
    fn a_huge_n_gives_a_tiny_score_not_infinity() {
        // k · n = 2⁶⁴ overflows usize (it wrapped to 0: the score was inf).
        let d = topic_diversity(&[vec![1], vec![2]], 1 << 63).unwrap();
        assert_eq!(d, 2.0 / 2f64.powi(64));
        // Just below the overflow, the same formula.
        let d = topic_diversity(&[vec![1], vec![1]], usize::MAX).unwrap();
        assert!(d > 0.0 && d < 1e-19, "{d}");
    }

    #[test]
    fn errors() {
        assert_eq!(
            topic_diversity(&[], 25).unwrap_err().to_string(),
            "diversity: k is 0, there is no topic to score"
        );
        assert_eq!(
            topic_diversity(&[vec![1]], 0).unwrap_err().to_string(),
            "diversity: 0 top words per topic asked for, at least 1 needed"
        );
    }
}
