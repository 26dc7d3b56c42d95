//! A generated corpus's planted topics are what NMF finds: the benchmark
//! corpora have the structure real topic models look for, not just the shape.

use topicmill_nmf::{Init, Nmf, Solver};
use topicmill_sparse::{Corpus, GenerateParams};

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// All permutations of 0..k (k is small here).
fn permutations(k: usize) -> Vec<Vec<usize>> {
    if k == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(k - 1) {
        for pos in 0..=p.len() {
            let mut q = p.clone();
            q.insert(pos, k - 1);
            out.push(q);
        }
    }
    out
}

#[test]
fn fitting_recovers_the_planted_topics() {
    let k = 5;
    let params = GenerateParams::new(3_000, 800, 90_000, k).seed(7);
    let dir = tempfile::tempdir().unwrap();
    params.write(dir.path().join("c"), false).unwrap();
    let corpus = Corpus::open(dir.path().join("c")).unwrap();
    let model = Nmf::params(k)
        .solver(Solver::Hals)
        .init(Init::Nndsvda)
        .max_iter(200)
        .fit_with(&corpus.matrix(), Some(&corpus.transpose()), |_| {
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();

    // Fitted topic t's term weights, H[t, :].
    let m = corpus.matrix().cols();
    let ht = model.ht();
    let fitted: Vec<Vec<f64>> = (0..k)
        .map(|t| (0..m).map(|j| f64::from(ht[j * k + t])).collect())
        .collect();
    let planted: Vec<Vec<f64>> = (0..k).map(|t| params.topic_distribution(t)).collect();
    let sim: Vec<Vec<f64>> = planted
        .iter()
        .map(|p| fitted.iter().map(|f| cosine(p, f)).collect())
        .collect();
    // The best one-to-one matching of planted to fitted topics.
    let (best, matching) = permutations(k)
        .into_iter()
        .map(|perm| {
            let worst = (0..k)
                .map(|t| sim[t][perm[t]])
                .fold(f64::INFINITY, f64::min);
            (worst, perm)
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap();
    assert!(
        best > 0.9,
        "worst matched cosine {best:.3} (matching {matching:?}, similarities {sim:.3?})"
    );

    // And the documents: the fitted dominant topic is the planted label.
    let w = model.w();
    let labels = corpus.labels().unwrap();
    let agree = labels
        .iter()
        .enumerate()
        .filter(|(i, label)| {
            let row = &w[i * k..(i + 1) * k];
            let top = (0..k).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
            let planted: usize = label.trim_start_matches("topic").parse().unwrap();
            matching[planted] == top
        })
        .count();
    let share = agree as f64 / labels.len() as f64;
    assert!(
        share > 0.9,
        "dominant topic = planted label for {share:.3} of documents"
    );
}
