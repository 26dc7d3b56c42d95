//! The fitted factors as plain data, and what is read straight off them: top
//! words, top documents, dominant topics.

use crate::EvalError;

/// A factorization X ≈ W·H as borrowed row-major slices: W is n × k
/// (document–topic) and Hᵀ is m × k (term–topic), the layout of
/// `topicmill_nmf::NmfModel::{w, ht}` and of scikit-learn's `W` and `H.T`.
///
/// [`Factors::new`] checks the shapes and that every value is finite and
/// non-negative, once; the scores then trust them.
#[derive(Debug, Clone, Copy)]
pub struct Factors<'a> {
    w: &'a [f32],
    ht: &'a [f32],
    k: usize,
}

impl<'a> Factors<'a> {
    /// Checks and wraps W (n × k) and Hᵀ (m × k), both row-major.
    pub fn new(w: &'a [f32], ht: &'a [f32], k: usize) -> Result<Self, EvalError> {
        check_factor("W", w, k)?;
        check_factor("Hᵀ", ht, k)?;
        Ok(Factors { w, ht, k })
    }

    /// Number of topics.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Number of documents (rows of W).
    pub fn n_docs(&self) -> usize {
        self.w.len() / self.k
    }

    /// Number of terms (rows of Hᵀ).
    pub fn n_terms(&self) -> usize {
        self.ht.len() / self.k
    }

    /// W, n × k row-major.
    pub fn w(&self) -> &'a [f32] {
        self.w
    }

    /// Hᵀ, m × k row-major.
    pub fn ht(&self) -> &'a [f32] {
        self.ht
    }
}

/// Checks a row-major factor with k columns: whole rows, finite, ≥ 0.
pub(crate) fn check_factor(what: &'static str, values: &[f32], k: usize) -> Result<(), EvalError> {
    if k == 0 {
        return Err(EvalError::NoTopics { what });
    }
    if values.len() % k != 0 {
        return Err(EvalError::RaggedFactor {
            what,
            len: values.len(),
            k,
        });
    }
    for (i, &v) in values.iter().enumerate() {
        let (row, col, value) = (i / k, i % k, f64::from(v));
        if !v.is_finite() {
            return Err(EvalError::NonFinite {
                what,
                row,
                col,
                value,
            });
        }
        if v < 0.0 {
            return Err(EvalError::Negative {
                what,
                row,
                col,
                value,
            });
        }
    }
    Ok(())
}

/// The top `n` words of each topic: for topic t, the rows of Hᵀ with the `n`
/// largest values in column t, largest first, ties broken by the lower term
/// index. Only words of positive weight are listed, so a topic with fewer than
/// `n` positive weights has a shorter list (an all-zero topic an empty one).
///
/// `ht` is m × k row-major; the result has k lists.
///
/// # Panics
/// If `k` is 0 or does not divide `ht.len()` (use [`Factors`] to check).
pub fn top_words(ht: &[f32], k: usize, n: usize) -> Vec<Vec<u32>> {
    top_per_column(ht, k, n)
}

/// The `n` documents with the largest weight in each topic (rows of W, same
/// rules as [`top_words`]): a topic's example documents.
///
/// # Panics
/// If `k` is 0 or does not divide `w.len()`.
pub fn top_documents(w: &[f32], k: usize, n: usize) -> Vec<Vec<u32>> {
    top_per_column(w, k, n)
}

fn top_per_column(values: &[f32], k: usize, n: usize) -> Vec<Vec<u32>> {
    assert!(
        k > 0 && values.len() % k == 0,
        "a row-major matrix with k = {k} columns"
    );
    let rows = values.len() / k;
    let by_weight =
        |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0));
    (0..k)
        .map(|t| {
            let mut column: Vec<(u32, f32)> = (0..rows)
                .map(|r| (to_u32(r), values[r * k + t]))
                .filter(|&(_, v)| v > 0.0)
                .collect();
            if n < column.len() {
                column.select_nth_unstable_by(n, by_weight);
                column.truncate(n);
            }
            column.sort_unstable_by(by_weight);
            column.into_iter().map(|(r, _)| r).collect()
        })
        .collect()
}

fn to_u32(i: usize) -> u32 {
    u32::try_from(i).expect("row index fits u32 (CSR column indices are u32)")
}

/// The dominant topic of each document: the argmax of its row of W (ties:
/// the lower topic), or `None` when the row has no positive weight — a
/// document no topic explains. The clustering scores treat `None` as one more
/// cluster of its own ("no topic"), so such documents are neither dropped nor
/// credited to topic 0.
///
/// # Panics
/// If `k` is 0 or does not divide `w.len()`.
pub fn dominant_topics(w: &[f32], k: usize) -> Vec<Option<u32>> {
    assert!(
        k > 0 && w.len() % k == 0,
        "W is row-major with k = {k} columns"
    );
    w.chunks_exact(k)
        .map(|row| {
            let mut best: Option<(usize, f32)> = None;
            for (t, &v) in row.iter().enumerate() {
                if v > 0.0 && best.is_none_or(|(_, b)| v > b) {
                    best = Some((t, v));
                }
            }
            best.map(|(t, _)| to_u32(t))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factors_check_shape_and_values() {
        let w = [1.0, 0.0, 0.5, 2.0, 0.0, 0.0];
        let ht = [0.0, 1.0, 3.0, 0.0];
        let f = Factors::new(&w, &ht, 2).unwrap();
        assert_eq!((f.k(), f.n_docs(), f.n_terms()), (2, 3, 2));
        assert_eq!(
            Factors::new(&w, &ht, 0).unwrap_err(),
            EvalError::NoTopics { what: "W" }
        );
        assert_eq!(
            Factors::new(&w, &ht[..3], 2).unwrap_err().to_string(),
            "Hᵀ: 3 values is not a whole number of rows of k = 2"
        );
        let bad = [1.0, f32::NAN, 0.0, 0.0];
        assert_eq!(
            Factors::new(&w, &bad, 2).unwrap_err().to_string(),
            "Hᵀ: non-finite value NaN at row 0, column 1"
        );
        let neg = [1.0, 0.0, 0.0, 0.0, -0.5, 0.0];
        assert_eq!(
            Factors::new(&neg, &ht, 2).unwrap_err().to_string(),
            "W: negative value -0.5 at row 2, column 0"
        );
    }

    #[test]
    fn top_words_order_ties_and_zeros() {
        // m = 5 terms, k = 2 topics; topic 1 has only two positive weights.
        let ht = [
            0.5, 0.0, //
            2.0, 1.0, //
            0.5, 0.0, //
            3.0, 0.0, //
            2.0, 4.0,
        ];
        assert_eq!(top_words(&ht, 2, 3), vec![vec![3, 1, 4], vec![4, 1]]);
        assert_eq!(top_words(&ht, 2, 10), vec![vec![3, 1, 4, 0, 2], vec![4, 1]]);
        assert_eq!(top_words(&ht, 2, 0), vec![Vec::<u32>::new(), vec![]]);
        assert_eq!(top_documents(&ht, 2, 1), vec![vec![3], vec![4]]);
    }

    #[test]
    fn dominant_topic_is_argmax_or_none() {
        let w = [
            0.1, 0.3, 0.2, //
            0.0, 0.0, 0.0, //
            0.7, 0.0, 0.7, //
            0.0, 0.0, 1e-30,
        ];
        assert_eq!(
            dominant_topics(&w, 3),
            vec![Some(1), None, Some(0), Some(2)]
        );
    }
}
