//! Initial factors: random and the NNDSVD family (Boutsidis & Gallopoulos 2008),
//! following scikit-learn's `_initialize_nmf`.

use std::ops::Range;

use rand::rngs::Xoshiro256PlusPlus;
use rand::SeedableRng;

use crate::error::Result;
use crate::kernel::Csr;
use crate::params::Init;
use crate::svd::{standard_normal, svd_pair, SvdOptions};

/// scikit-learn's random init, `|N(0, 1)| · sqrt(mean(X) / k)`: H (k × m)
/// drawn first, then W (n × k), from one stream. Returns (rows `w_rows` of W,
/// all of Hᵀ), row-major f32; the draws of the rows before `w_rows` are made
/// and dropped, so any row range gets exactly its rows of the full init.
pub(crate) fn random(
    n: usize,
    m: usize,
    k: usize,
    mean: f64,
    seed: u64,
    w_rows: Range<usize>,
) -> (Vec<f32>, Vec<f32>) {
    debug_assert!(w_rows.end <= n);
    let avg = (mean / k as f64).sqrt();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut ht = vec![0f32; m * k];
    for t in 0..k {
        for j in 0..m {
            ht[j * k + t] = (avg * standard_normal(&mut rng)).abs() as f32;
        }
    }
    for _ in 0..w_rows.start * k {
        standard_normal(&mut rng);
    }
    let w = (0..w_rows.len() * k)
        .map(|_| (avg * standard_normal(&mut rng)).abs() as f32)
        .collect();
    (w, ht)
}

/// Returns (W n×k, Hᵀ m×k), row-major f32.
pub(crate) fn initialize(
    x: &Csr<'_>,
    xt: &Csr<'_>,
    k: usize,
    init: Init,
    seed: u64,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let (n, m) = (x.rows, x.cols);
    let mean = x.sum() / (n as f64 * m as f64);
    if init == Init::Random {
        return Ok(random(n, m, k, mean, seed, 0..n));
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let svd = svd_pair::<f32>(
        x,
        xt,
        k,
        &SvdOptions {
            seed,
            ..SvdOptions::default()
        },
    )?;
    // Each entry is computed in f64 and stored in f32 at once (below 1e-6 it
    // is 0, as scikit-learn does): no n × k or m × k f64 copies of the factors.
    let eps = 1e-6;
    let store = |v: f64| if v < eps { 0.0 } else { v as f32 };
    let mut w = vec![0f32; n * k];
    let mut ht = vec![0f32; m * k];
    let s0 = svd.s[0].sqrt();
    for i in 0..n {
        w[i * k] = store(s0 * (svd.u[i * k] as f64).abs());
    }
    for j in 0..m {
        ht[j * k] = store(s0 * (svd.vt[j] as f64).abs());
    }
    let norm = |it: &mut dyn Iterator<Item = f64>| it.map(|v| v * v).sum::<f64>().sqrt();
    for c in 1..k {
        let ucol = |i: usize| svd.u[i * k + c] as f64;
        let vrow = &svd.vt[c * m..(c + 1) * m];
        let xp = norm(&mut (0..n).map(|i| ucol(i).max(0.0)));
        let xn = norm(&mut (0..n).map(|i| (-ucol(i)).max(0.0)));
        let yp = norm(&mut vrow.iter().map(|&v| (v as f64).max(0.0)));
        let yn = norm(&mut vrow.iter().map(|&v| (-v as f64).max(0.0)));
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
            w[i * k + c] = store(lbd * (sign * ucol(i)).max(0.0) / xnorm);
        }
        for j in 0..m {
            ht[j * k + c] = store(lbd * (sign * vrow[j] as f64).max(0.0) / ynorm);
        }
    }
    drop(svd);
    match init {
        Init::Nndsvda => {
            for v in w.iter_mut().chain(ht.iter_mut()) {
                if *v == 0.0 {
                    *v = mean as f32;
                }
            }
        }
        Init::Nndsvdar => {
            // W first, then H, row-major order of W and of H (k × m).
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
