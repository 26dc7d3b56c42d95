//! Matching the topics of two models: cosine similarity of H rows, the
//! Hungarian algorithm, and stability across seeds.

use rayon::prelude::*;
use serde::Serialize;

use crate::factors::check_factor;
use crate::EvalError;

/// Terms per parallel task when accumulating the similarity matrix (fixed,
/// so the result does not depend on the thread count).
const BLOCK_TERMS: usize = 4096;

/// Cosine similarity between the topics (H rows) of two models over the same
/// terms: a `k_a × k_b` row-major matrix in f64.
///
/// `a_ht` is m × k_a and `b_ht` m × k_b, both row-major (Hᵀ). A topic with
/// an all-zero row of H has no direction: its similarity to everything is 0.
pub fn cosine_similarities(
    a_ht: &[f32],
    k_a: usize,
    b_ht: &[f32],
    k_b: usize,
) -> Result<Vec<f64>, EvalError> {
    check_factor("Hᵀ of the first model", a_ht, k_a)?;
    check_factor("Hᵀ of the second model", b_ht, k_b)?;
    let m = a_ht.len() / k_a;
    if b_ht.len() / k_b != m {
        return Err(EvalError::ShapeMismatch {
            what: "terms (rows of Hᵀ) of the second model",
            expected: m,
            found: b_ht.len() / k_b,
        });
    }
    // One pass over the terms accumulates AᵀB and both squared norms.
    let width = k_a * k_b + k_a + k_b;
    let parts: Vec<Vec<f64>> = (0..m.div_ceil(BLOCK_TERMS))
        .into_par_iter()
        .map(|block| {
            let mut acc = vec![0.0f64; width];
            let (cross, norms) = acc.split_at_mut(k_a * k_b);
            let (norm_a, norm_b) = norms.split_at_mut(k_a);
            for j in block * BLOCK_TERMS..((block + 1) * BLOCK_TERMS).min(m) {
                let a = &a_ht[j * k_a..(j + 1) * k_a];
                let b = &b_ht[j * k_b..(j + 1) * k_b];
                for (s, &x) in a.iter().enumerate() {
                    if x == 0.0 {
                        continue;
                    }
                    let x = f64::from(x);
                    norm_a[s] += x * x;
                    for (c, &y) in cross[s * k_b..(s + 1) * k_b].iter_mut().zip(b) {
                        *c += x * f64::from(y);
                    }
                }
                for (n, &y) in norm_b.iter_mut().zip(b) {
                    *n += f64::from(y) * f64::from(y);
                }
            }
            acc
        })
        .collect();
    let mut total = vec![0.0f64; width];
    for part in parts {
        for (t, p) in total.iter_mut().zip(part) {
            *t += p;
        }
    }
    let (cross, norms) = total.split_at(k_a * k_b);
    let (norm_a, norm_b) = norms.split_at(k_a);
    Ok((0..k_a)
        .flat_map(|s| (0..k_b).map(move |t| (s, t)))
        .map(|(s, t)| {
            let denominator = (norm_a[s] * norm_b[t]).sqrt();
            if denominator > 0.0 {
                (cross[s * k_b + t] / denominator).min(1.0)
            } else {
                0.0
            }
        })
        .collect())
}

/// A maximum-weight assignment of the rows of a `rows × cols` row-major
/// weight matrix to distinct columns (rectangular allowed): `result[r]` is
/// the column of row r, `None` for the `rows − cols` rows left over when
/// there are more rows than columns. Every row is matched when rows ≤ cols.
///
/// The Hungarian algorithm with potentials (Kuhn–Munkres, the shortest
/// augmenting path form), O(min² · max) time; weights may be any finite
/// numbers, negative included. A shape of 0 rows or 0 columns matches
/// nothing; one whose rows × cols overflows, or whose result (one slot per
/// row) cannot be allocated, is [`EvalError::TooLarge`].
pub fn hungarian_max(
    weights: &[f64],
    rows: usize,
    cols: usize,
) -> Result<Vec<Option<usize>>, EvalError> {
    let too_large = EvalError::TooLarge {
        what: "weights (rows × cols)",
        rows,
        cols,
    };
    let Some(cells) = rows.checked_mul(cols) else {
        return Err(too_large);
    };
    if weights.len() != cells {
        return Err(EvalError::ShapeMismatch {
            what: "weights (rows × cols)",
            expected: cells,
            found: weights.len(),
        });
    }
    if cells == 0 {
        // Nothing to match, and no O(max) work for a huge other side.
        let mut unmatched = Vec::new();
        unmatched.try_reserve_exact(rows).map_err(|_| too_large)?;
        unmatched.resize(rows, None);
        return Ok(unmatched);
    }
    if let Some(i) = weights.iter().position(|w| !w.is_finite()) {
        return Err(EvalError::NonFinite {
            what: "weights",
            row: i / cols,
            col: i % cols,
            value: weights[i],
        });
    }
    if rows <= cols {
        let cost = |r: usize, c: usize| -weights[r * cols + c];
        Ok(min_cost_assignment(rows, cols, cost)
            .into_iter()
            .map(Some)
            .collect())
    } else {
        let cost = |c: usize, r: usize| -weights[r * cols + c];
        let column_to_row = min_cost_assignment(cols, rows, cost);
        let mut result = vec![None; rows];
        for (c, r) in column_to_row.into_iter().enumerate() {
            result[r] = Some(c);
        }
        Ok(result)
    }
}

/// Minimum-cost assignment of every one of `n` rows to a distinct one of
/// `m ≥ n` columns; returns each row's column. Potentials `u`, `v` keep
/// `cost(i, j) − u[i] − v[j] ≥ 0`, with equality on matched pairs; each row
/// is added by a Dijkstra-like search for the cheapest augmenting path.
fn min_cost_assignment(n: usize, m: usize, cost: impl Fn(usize, usize) -> f64) -> Vec<usize> {
    debug_assert!(n <= m);
    // 1-based, with row/column 0 as the virtual start of each search.
    let mut u = vec![0.0f64; n + 1];
    let mut v = vec![0.0f64; m + 1];
    let mut row_of = vec![0usize; m + 1]; // row_of[j]: row matched to column j (0 = none)
    let mut way = vec![0usize; m + 1];
    for i in 1..=n {
        row_of[0] = i;
        let mut j0 = 0;
        let mut min_to = vec![f64::INFINITY; m + 1];
        let mut used = vec![false; m + 1];
        loop {
            used[j0] = true;
            let i0 = row_of[j0];
            let (mut delta, mut j1) = (f64::INFINITY, 0);
            for j in 1..=m {
                if used[j] {
                    continue;
                }
                let reduced = cost(i0 - 1, j - 1) - u[i0] - v[j];
                if reduced < min_to[j] {
                    min_to[j] = reduced;
                    way[j] = j0;
                }
                if min_to[j] < delta {
                    delta = min_to[j];
                    j1 = j;
                }
            }
            for j in 0..=m {
                if used[j] {
                    u[row_of[j]] += delta;
                    v[j] -= delta;
                } else {
                    min_to[j] -= delta;
                }
            }
            j0 = j1;
            if row_of[j0] == 0 {
                break;
            }
        }
        // Flip the augmenting path back to the start.
        loop {
            let j1 = way[j0];
            row_of[j0] = row_of[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut column_of = vec![0usize; n];
    for j in 1..=m {
        if row_of[j] != 0 {
            column_of[row_of[j] - 1] = j - 1;
        }
    }
    column_of
}

/// One matched pair of topics.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TopicPair {
    /// Topic of the first model (0-based).
    pub a: usize,
    /// Topic of the second model (0-based).
    pub b: usize,
    /// Their cosine similarity.
    pub similarity: f64,
}

/// The one-to-one matching of two models' topics that maximizes the total
/// cosine similarity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicMatching {
    /// min(k_a, k_b) pairs, in the order of the first model's topics.
    pub pairs: Vec<TopicPair>,
    /// Topics of the first model without a partner (when k_a > k_b).
    pub unmatched_a: Vec<usize>,
    /// Topics of the second model without a partner (when k_b > k_a).
    pub unmatched_b: Vec<usize>,
    /// Mean similarity over `pairs`.
    pub mean_similarity: f64,
}

/// Matches the topics of two models over the same terms (Hᵀ m × k_a and
/// m × k_b, row-major) by the Hungarian algorithm on cosine similarity.
pub fn match_topics(
    a_ht: &[f32],
    k_a: usize,
    b_ht: &[f32],
    k_b: usize,
) -> Result<TopicMatching, EvalError> {
    let sim = cosine_similarities(a_ht, k_a, b_ht, k_b)?;
    let assignment = hungarian_max(&sim, k_a, k_b)?;
    let mut taken = vec![false; k_b];
    let mut pairs = Vec::with_capacity(k_a.min(k_b));
    let mut unmatched_a = Vec::new();
    for (a, b) in assignment.into_iter().enumerate() {
        match b {
            Some(b) => {
                taken[b] = true;
                pairs.push(TopicPair {
                    a,
                    b,
                    similarity: sim[a * k_b + b],
                });
            }
            None => unmatched_a.push(a),
        }
    }
    let unmatched_b = (0..k_b).filter(|&b| !taken[b]).collect();
    let mean_similarity = pairs.iter().map(|p| p.similarity).sum::<f64>() / pairs.len() as f64;
    Ok(TopicMatching {
        pairs,
        unmatched_a,
        unmatched_b,
        mean_similarity,
    })
}

/// Stability of a model across two seeds: the mean cosine similarity of
/// best-matched topic pairs (one-to-one, Hungarian), in [0, 1]. 1 means the
/// two runs found the same topics, up to order and scale.
pub fn stability(a_ht: &[f32], b_ht: &[f32], k: usize) -> Result<f64, EvalError> {
    Ok(match_topics(a_ht, k, b_ht, k)?.mean_similarity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The best total over every injection of rows into columns (or of
    /// columns into rows), by exhaustive search.
    fn brute_force(weights: &[f64], rows: usize, cols: usize) -> f64 {
        fn go(
            w: &[f64],
            rows: usize,
            cols: usize,
            r: usize,
            used: &mut Vec<bool>,
            transposed: bool,
        ) -> f64 {
            let (n, m) = if transposed {
                (cols, rows)
            } else {
                (rows, cols)
            };
            if r == n {
                return 0.0;
            }
            let mut best = f64::NEG_INFINITY;
            for c in 0..m {
                if !used[c] {
                    used[c] = true;
                    let x = if transposed {
                        w[c * cols + r]
                    } else {
                        w[r * cols + c]
                    };
                    best = best.max(x + go(w, rows, cols, r + 1, used, transposed));
                    used[c] = false;
                }
            }
            best
        }
        let transposed = rows > cols;
        let m = if transposed { rows } else { cols };
        go(weights, rows, cols, 0, &mut vec![false; m], transposed)
    }

    fn total(weights: &[f64], cols: usize, assignment: &[Option<usize>]) -> f64 {
        assignment
            .iter()
            .enumerate()
            .filter_map(|(r, c)| c.map(|c| weights[r * cols + c]))
            .sum()
    }

    #[test]
    fn hand_computed() {
        // Greedy would take 9 (row 0 → col 0) and then 1; the optimum is 8 + 8.
        let w = [9.0, 8.0, 8.0, 1.0];
        assert_eq!(hungarian_max(&w, 2, 2).unwrap(), vec![Some(1), Some(0)]);
        // 3 rows, 2 columns: the weakest row is left out.
        let w = [1.0, 0.0, 0.0, 5.0, 4.0, 0.0];
        assert_eq!(
            hungarian_max(&w, 3, 2).unwrap(),
            vec![None, Some(1), Some(0)]
        );
        assert_eq!(
            hungarian_max(&[], 0, 3).unwrap(),
            Vec::<Option<usize>>::new()
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            hungarian_max(&[1.0, f64::NAN], 1, 2)
                .unwrap_err()
                .to_string(),
            "weights: non-finite value NaN at row 0, column 1"
        );
        assert_eq!(
            cosine_similarities(&[1.0, 2.0], 1, &[1.0, 2.0, 3.0], 1)
                .unwrap_err()
                .to_string(),
            "terms (rows of Hᵀ) of the second model: expected 2, found 3"
        );
    }

    #[test]
    fn huge_shapes_are_errors_or_empty_not_a_crash() {
        // rows × cols wraps to 0 = weights.len(): it passed, then allocated
        // for 2⁶³ rows ("capacity overflow").
        assert_eq!(
            hungarian_max(&[], 1 << 63, 2).unwrap_err().to_string(),
            "weights (rows × cols): 9223372036854775808 × 2 is too large"
        );
        // One side empty: nothing is matched, whatever the other side's size
        // (the search allocated 2⁶³ + 1 potentials for no row).
        assert_eq!(hungarian_max(&[], 0, 1 << 63).unwrap(), vec![]);
        assert_eq!(hungarian_max(&[], 2, 0).unwrap(), vec![None, None]);
        assert_eq!(
            hungarian_max(&[], usize::MAX, 0).unwrap_err(),
            EvalError::TooLarge {
                what: "weights (rows × cols)",
                rows: usize::MAX,
                cols: 0
            }
        );
    }

    #[test]
    fn permuted_and_rescaled_model_is_recovered() {
        // m = 4 terms, k = 3 topics; model b = a's topics in order (2, 0, 1), rescaled.
        let a = [
            1.0, 0.0, 0.2, //
            0.5, 0.0, 0.0, //
            0.0, 2.0, 0.1, //
            0.0, 0.1, 3.0f32,
        ];
        let perm = [2usize, 0, 1];
        let b: Vec<f32> = (0..4)
            .flat_map(|j| perm.iter().map(move |&t| a[j * 3 + t] * (t as f32 + 2.0)))
            .collect();
        let matching = match_topics(&a, 3, &b, 3).unwrap();
        let found: Vec<(usize, usize)> = matching.pairs.iter().map(|p| (p.a, p.b)).collect();
        assert_eq!(found, vec![(0, 1), (1, 2), (2, 0)]);
        assert!(matching
            .pairs
            .iter()
            .all(|p| (p.similarity - 1.0).abs() < 1e-12));
        assert!((stability(&a, &b, 3).unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn cosine_hand_computed_and_zero_topic() {
        // a: topic 0 = (1, 0), topic 1 = (0, 0); b: topic 0 = (1, 1).
        let a = [1.0, 0.0, 0.0, 0.0f32];
        let b = [1.0, 1.0f32];
        let sim = cosine_similarities(&a, 2, &b, 1).unwrap();
        assert!((sim[0] - 0.5f64.sqrt()).abs() < 1e-15);
        assert_eq!(sim[1], 0.0);
        let m = match_topics(&a, 2, &b, 1).unwrap();
        assert_eq!(
            (m.pairs.len(), m.unmatched_a.clone(), m.unmatched_b.len()),
            (1, vec![1], 0)
        );
    }

    proptest! {
        #[test]
        fn hungarian_equals_brute_force(
            (rows, cols, w) in (0usize..7, 0usize..7).prop_flat_map(|(r, c)| (
                Just(r), Just(c), proptest::collection::vec(-5.0f64..5.0, r * c)))
        ) {
            let assignment = hungarian_max(&w, rows, cols).unwrap();
            // A valid injection of size min(rows, cols).
            let chosen: Vec<usize> = assignment.iter().flatten().copied().collect();
            prop_assert_eq!(chosen.len(), rows.min(cols));
            let mut sorted = chosen.clone();
            sorted.sort_unstable();
            sorted.dedup();
            prop_assert_eq!(sorted.len(), chosen.len());
            let best = brute_force(&w, rows, cols);
            let best = if rows.min(cols) == 0 { 0.0 } else { best };
            prop_assert!((total(&w, cols, &assignment) - best).abs() < 1e-9,
                "{} vs {}", total(&w, cols, &assignment), best);
        }

        #[test]
        fn hungarian_with_ties_equals_brute_force(
            (rows, cols, w) in (1usize..7, 1usize..7).prop_flat_map(|(r, c)| (
                Just(r), Just(c), proptest::collection::vec((0u8..3).prop_map(f64::from), r * c)))
        ) {
            let assignment = hungarian_max(&w, rows, cols).unwrap();
            prop_assert_eq!(total(&w, cols, &assignment), brute_force(&w, rows, cols));
        }

        #[test]
        fn stability_is_symmetric_and_bounded(
            (m, k, a, b) in (1usize..20, 1usize..5).prop_flat_map(|(m, k)| (
                Just(m), Just(k),
                proptest::collection::vec(prop_oneof![Just(0.0f32), 0.0f32..1.0], m * k),
                proptest::collection::vec(prop_oneof![Just(0.0f32), 0.0f32..1.0], m * k)))
        ) {
            let _ = m;
            let ab = stability(&a, &b, k).unwrap();
            let ba = stability(&b, &a, k).unwrap();
            prop_assert!((ab - ba).abs() < 1e-12);
            prop_assert!((0.0..=1.0).contains(&ab));
        }
    }
}
