//! Times the NNDSVDa initialization (the randomized SVD and NNDSVD's factors)
//! on a corpus directory, and prints the factors' sums, which change with any
//! change of the result.
//!
//! `cargo run --release -p topicmill-nmf --example init_time -- DIR K [REPEATS]`
//!
//! With REPEATS (default 1) it runs that many times and prints the fastest, in
//! milliseconds: the seed's initialization takes a few of them, below what one
//! run can resolve.

use std::time::Instant;

use topicmill_nmf::{Init, Nmf};
use topicmill_sparse::Corpus;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(k)) = (args.get(1), args.get(2).and_then(|k| k.parse().ok())) else {
        eprintln!("usage: init_time CORPUS_DIR K [REPEATS]");
        std::process::exit(2);
    };
    let corpus = Corpus::open(dir).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1);
    });
    let params = Nmf::params(k).init(Init::Nndsvda);
    let (x, xt) = (corpus.matrix(), corpus.transpose());
    let repeats: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(1).max(1);
    let mut best = f64::INFINITY;
    let mut factors = None;
    for _ in 0..repeats {
        let start = Instant::now();
        let pair = params.initial_factors(&x, Some(&xt)).unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(1);
        });
        best = best.min(start.elapsed().as_secs_f64());
        factors = Some(pair);
    }
    let (w, ht) = factors.expect("at least one repeat");
    let sum = |v: &[f32]| v.iter().map(|&x| x as f64).sum::<f64>();
    println!(
        "NNDSVDa, k = {k}: {:.3} ms (fastest of {repeats}; sum of W {:.6e}, of Hᵀ {:.6e})",
        best * 1e3,
        sum(&w),
        sum(&ht)
    );
}
