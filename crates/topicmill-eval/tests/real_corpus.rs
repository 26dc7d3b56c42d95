//! Scores on a real corpus (UCI KOS blog entries, 3430 × 6906) against naive
//! references that walk X by documents instead of Xᵀ by terms.

use std::collections::HashSet;

use topicmill_eval::{npmi_coherence, reconstruction_error, Factors};
use topicmill_sparse::{read_docword, transpose, CsrMatrix};

fn kos() -> Option<CsrMatrix> {
    let path = topicmill_testdata::require("uci-bow/docword.kos.txt.gz")?;
    Some(read_docword(&path).expect("KOS reads"))
}

/// A small deterministic generator (xorshift64*), enough to pick test data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn coherence_matches_per_document_counting() {
    let Some(x) = kos() else { return };
    let xt = transpose(x.view());
    let (n, m) = x.shape();
    // Topics: the 10 most frequent terms, then random sets of frequent-ish
    // and arbitrary terms (many pairs never co-occur).
    let mut df = vec![0usize; m];
    for &j in x.indices() {
        df[j as usize] += 1;
    }
    let mut by_df: Vec<u32> = (0..m as u32).collect();
    by_df.sort_by_key(|&j| std::cmp::Reverse(df[j as usize]));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut topics = vec![by_df[..10].to_vec()];
    for _ in 0..8 {
        topics.push(
            (0..10)
                .map(|_| by_df[(rng.next() % 300) as usize])
                .collect(),
        );
        topics.push((0..10).map(|_| (rng.next() % m as u64) as u32).collect());
    }
    let got = npmi_coherence(xt.view(), &topics).unwrap();

    let docs: Vec<HashSet<u32>> = x
        .outer_iterator()
        .map(|row| {
            row.iter()
                .filter(|(_, &v)| v > 0.0)
                .map(|(j, _)| j as u32)
                .collect()
        })
        .collect();
    for (t, words) in topics.iter().enumerate() {
        let mut sum = 0.0;
        let mut pairs = 0;
        for i in 0..words.len() {
            for j in i + 1..words.len() {
                let (a, b) = (words[i], words[j]);
                let pa = docs.iter().filter(|d| d.contains(&a)).count() as f64 / n as f64;
                let pb = docs.iter().filter(|d| d.contains(&b)).count() as f64 / n as f64;
                let pab = docs
                    .iter()
                    .filter(|d| d.contains(&a) && d.contains(&b))
                    .count() as f64
                    / n as f64;
                sum += if pab == 0.0 {
                    -1.0
                } else if pab == 1.0 {
                    1.0
                } else {
                    (pab / (pa * pb)).ln() / -pab.ln()
                };
                pairs += 1;
            }
        }
        let want = sum / pairs as f64;
        assert!(
            (got.per_topic[t] - want).abs() < 1e-12,
            "topic {t}: {} vs {want}",
            got.per_topic[t]
        );
    }
    // The frequent-word topic is more coherent than random words.
    assert!(got.per_topic[0] > got.per_topic[2], "{:?}", got.per_topic);
}

#[test]
fn scores_do_not_depend_on_the_thread_count() {
    let Some(x) = kos() else { return };
    let xt = transpose(x.view());
    let (n, m) = x.shape();
    let k = 7;
    let mut rng = Rng(42);
    let mut draw = || (rng.next() >> 40) as f32 / (1u64 << 24) as f32;
    let w: Vec<f32> = (0..n * k).map(|_| draw()).collect();
    let ht: Vec<f32> = (0..m * k).map(|_| draw() * 0.01).collect();
    let ht2: Vec<f32> = (0..m * k).map(|_| draw()).collect();
    let factors = Factors::new(&w, &ht, k).unwrap();
    let topics = topicmill_eval::top_words(&ht, k, 10);
    let run = || {
        (
            reconstruction_error(x.view(), &factors).unwrap(),
            npmi_coherence(xt.view(), &topics).unwrap(),
            topicmill_eval::stability(&ht, &ht2, k).unwrap(),
        )
    };
    let many = run();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(run);
    assert_eq!(many, one);
    assert!(many.0.relative > 0.0 && many.0.relative.is_finite());
}
