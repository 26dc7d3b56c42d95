//! Initial factors, computed exactly as topicmill-nmf's `init.rs` does
//! (same random streams, same NNDSVD formulas), so that a distributed fit
//! starts where the single-process fit starts.
//!
//! Random: every rank draws the same stream (Hᵀ first, then W row by row)
//! and keeps Hᵀ and its own rows of W; nothing is communicated but the sum
//! of X. NNDSVD*: rank 0 runs topicmill-nmf's public `randomized_svd` on the
//! whole mapped matrix and turns it into factors; the caller broadcasts Hᵀ and
//! scatters W.

use std::ops::Range;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use topicmill_nmf::{randomized_svd, Init, NmfError, SvdOptions};
use topicmill_sparse::CsrView;

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

/// NNDSVD, NNDSVDa or NNDSVDar on the whole matrix (rank 0 only): full W
/// (n × k) and Hᵀ (m × k).
pub(crate) fn nndsvd(
    x: &CsrView<'_>,
    k: usize,
    init: Init,
    seed: u64,
) -> Result<(Vec<f32>, Vec<f32>), NmfError> {
    let (n, m) = (x.rows(), x.cols());
    let sum: f64 = x.data().iter().map(|&v| v as f64).sum();
    let mean = sum / (n as f64 * m as f64);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let svd = randomized_svd(
        x,
        k,
        &SvdOptions {
            seed,
            ..SvdOptions::default()
        },
    )?;
    let mut w = vec![0f64; n * k];
    let mut ht = vec![0f64; m * k];
    let s0 = svd.s[0].sqrt();
    for i in 0..n {
        w[i * k] = s0 * svd.u[i * k].abs();
    }
    for j in 0..m {
        ht[j * k] = s0 * svd.vt[j].abs();
    }
    let norm = |it: &mut dyn Iterator<Item = f64>| it.map(|v| v * v).sum::<f64>().sqrt();
    for c in 1..k {
        let ucol = |i: usize| svd.u[i * k + c];
        let vrow = &svd.vt[c * m..(c + 1) * m];
        let xp = norm(&mut (0..n).map(|i| ucol(i).max(0.0)));
        let xn = norm(&mut (0..n).map(|i| (-ucol(i)).max(0.0)));
        let yp = norm(&mut vrow.iter().map(|v| v.max(0.0)));
        let yn = norm(&mut vrow.iter().map(|v| (-v).max(0.0)));
        let (mp, mn) = (xp * yp, xn * yn);
        let (sign, xnorm, ynorm, sigma) = if mp > mn {
            (1.0, xp, yp, mp)
        } else {
            (-1.0, xn, yn, mn)
        };
        if sigma == 0.0 {
            continue;
        }
        let lbd = (svd.s[c] * sigma).sqrt();
        for i in 0..n {
            w[i * k + c] = lbd * (sign * ucol(i)).max(0.0) / xnorm;
        }
        for j in 0..m {
            ht[j * k + c] = lbd * (sign * vrow[j]).max(0.0) / ynorm;
        }
    }
    let eps = 1e-6;
    let to32 = |v: Vec<f64>| -> Vec<f32> {
        v.into_iter()
            .map(|v| if v < eps { 0.0 } else { v as f32 })
            .collect()
    };
    let (mut w, mut ht) = (to32(w), to32(ht));
    match init {
        Init::Nndsvda => {
            for v in w.iter_mut().chain(ht.iter_mut()) {
                if *v == 0.0 {
                    *v = mean as f32;
                }
            }
        }
        Init::Nndsvdar => {
            for v in w.iter_mut() {
                if *v == 0.0 {
                    *v = (mean * standard_normal(&mut rng) / 100.0).abs() as f32;
                }
            }
            for t in 0..k {
                for j in 0..m {
                    let v = &mut ht[j * k + t];
                    if *v == 0.0 {
                        *v = (mean * standard_normal(&mut rng) / 100.0).abs() as f32;
                    }
                }
            }
        }
        _ => {}
    }
    Ok((w, ht))
}
