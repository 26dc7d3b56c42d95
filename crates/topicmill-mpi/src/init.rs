//! Initial factors, computed exactly as topicmill-nmf's `init.rs` does
//! (same random streams, same NNDSVD formulas), so that a distributed fit
//! starts where the single-process fit starts.
//!
//! Random: every rank draws the same stream (Hᵀ first, then W row by row)
//! and keeps Hᵀ and its own rows of W; nothing is communicated but the sum
//! of X. NNDSVD*: rank 0 calls topicmill-nmf's `NmfParams::initial_factors`
//! on the whole mapped matrix (the very code `fit` starts from); the caller
//! broadcasts Hᵀ and scatters W.

use std::ops::Range;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

/// One standard normal by the Box–Muller transform (topicmill-nmf's draw).
fn standard_normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    loop {
        let u1: f64 = rng.random();
        let u2: f64 = rng.random();
        if u1 > 0.0 {
            return (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        }
    }
}

/// scikit-learn's random init: `|N(0,1)| · sqrt(mean / k)`, H (k × m, row
/// by row) drawn first, then W (n × k). Returns full Hᵀ (m × k) and the rows
/// `mine` of W.
pub(crate) fn random(
    n: usize,
    m: usize,
    k: usize,
    sum: f64,
    seed: u64,
    mine: &Range<usize>,
) -> (Vec<f32>, Vec<f32>) {
    let mean = sum / (n as f64 * m as f64);
    let avg = (mean / k as f64).sqrt();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut ht = vec![0f32; m * k];
    for t in 0..k {
        for j in 0..m {
            ht[j * k + t] = (avg * standard_normal(&mut rng)).abs() as f32;
        }
    }
    for _ in 0..mine.start * k {
        standard_normal(&mut rng);
    }
    let w = (0..mine.len() * k)
        .map(|_| (avg * standard_normal(&mut rng)).abs() as f32)
        .collect();
    (w, ht)
}
