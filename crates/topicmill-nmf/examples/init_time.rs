//! Times the NNDSVDa initialization (the randomized SVD and NNDSVD's factors)
//! on a corpus directory, and prints the factors' sums, which change with any
//! change of the result.
//!
//! `cargo run --release -p topicmill-nmf --example init_time -- DIR K`

use std::time::Instant;

use topicmill_nmf::{Init, Nmf};
use topicmill_sparse::Corpus;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(k)) = (args.get(1), args.get(2).and_then(|k| k.parse().ok())) else {
        eprintln!("usage: init_time CORPUS_DIR K");
        std::process::exit(2);
    };
    let corpus = Corpus::open(dir).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1);
    });
    let params = Nmf::params(k).init(Init::Nndsvda);
    let (x, xt) = (corpus.matrix(), corpus.transpose());
    let start = Instant::now();
    let (w, ht) = params.initial_factors(&x, Some(&xt)).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1);
    });
    let secs = start.elapsed().as_secs_f64();
    let sum = |v: &[f32]| v.iter().map(|&x| x as f64).sum::<f64>();
    println!(
        "NNDSVDa, k = {k}: {secs:.2} s (sum of W {:.6e}, of Hᵀ {:.6e})",
        sum(&w),
        sum(&ht)
    );
}
