//! Shared helpers of the integration tests: small random sparse matrices
//! and a naive dense f64 reference implementation of each solver.

#![allow(clippy::needless_range_loop)]
#![allow(dead_code)]

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use topicmill_sparse::CsrMatrix;

/// A random n × m CSR matrix with about `density` of its entries set, values
/// in (0, 2]; rows listed in `empty_rows` and columns in `empty_cols` stay empty.
pub fn random_csr(
    n: usize,
    m: usize,
    density: f64,
    seed: u64,
    empty_rows: &[usize],
    empty_cols: &[usize],
) -> CsrMatrix {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut indptr = vec![0u64];
    let mut indices = Vec::new();
    let mut data = Vec::new();
    for i in 0..n {
        for j in 0..m {
            let keep: f64 = rng.random();
            if keep < density && !empty_rows.contains(&i) && !empty_cols.contains(&j) {
                indices.push(j as u32);
                let v: f32 = rng.random();
                data.push(2.0 * v + 1e-3);
            }
        }
        indptr.push(indices.len() as u64);
    }
    CsrMatrix::new((n, m), indptr, indices, data)
}

pub fn dense(x: &CsrMatrix) -> Vec<Vec<f64>> {
    let mut d = vec![vec![0.0; x.cols()]; x.rows()];
    for (v, (i, j)) in x.iter() {
        d[i as usize][j as usize] = *v as f64;
    }
    d
}

pub type Mat = Vec<Vec<f64>>;

pub fn from_rows(v: &[f32], rows: usize, k: usize) -> Mat {
    (0..rows)
        .map(|i| v[i * k..(i + 1) * k].iter().map(|&x| x as f64).collect())
        .collect()
}

pub fn matmul(a: &Mat, b: &Mat) -> Mat {
    let (n, k, m) = (a.len(), b.len(), b[0].len());
    let mut c = vec![vec![0.0; m]; n];
    for i in 0..n {
        for t in 0..k {
            for j in 0..m {
                c[i][j] += a[i][t] * b[t][j];
            }
        }
    }
    c
}

pub fn transpose(a: &Mat) -> Mat {
    let (n, m) = (a.len(), a[0].len());
    (0..m).map(|j| (0..n).map(|i| a[i][j]).collect()).collect()
}

/// ‖X − W Hᵀᵀ‖_F with W n×k and Ht m×k, densely.
pub fn frob(x: &Mat, w: &Mat, ht: &Mat) -> f64 {
    let wh = matmul(w, &transpose(ht));
    let mut s = 0.0;
    for (xr, r) in x.iter().zip(&wh) {
        for (a, b) in xr.iter().zip(r) {
            s += (a - b) * (a - b);
        }
    }
    s.sqrt()
}

/// sqrt(2·KL(X ‖ WH)) densely (terms with x = 0 contribute wh).
pub fn kl(x: &Mat, w: &Mat, ht: &Mat) -> f64 {
    let wh = matmul(w, &transpose(ht));
    let mut s = 0.0;
    for (xr, r) in x.iter().zip(&wh) {
        for (&a, &b) in xr.iter().zip(r) {
            if a > 0.0 {
                s += a * (a / b).ln() - a + b;
            } else {
                s += b;
            }
        }
    }
    (2.0 * s).sqrt()
}

/// One Lee–Seung MU half-step on F (rows × k) with A (rows × cols) and G (cols × k).
pub fn mu_half(a: &Mat, f: &mut Mat, g: &Mat, l1: f64, l2: f64) {
    let num = matmul(a, g);
    let s = matmul(&transpose(g), g);
    let fs = matmul(f, &s);
    for i in 0..f.len() {
        for t in 0..f[0].len() {
            let den = fs[i][t] + l1 + l2 * f[i][t];
            f[i][t] = if num[i][t] > 0.0 {
                f[i][t] * num[i][t] / den
            } else {
                0.0
            };
        }
    }
}

/// One coordinate-descent sweep (scikit-learn's `_update_cdnmf_fast`, in
/// scikit-learn's loop order: components outer, rows inner; a dead topic's
/// coordinate, which scikit-learn leaves, set to 0).
pub fn hals_half(a: &Mat, f: &mut Mat, g: &Mat, l1: f64, l2: f64) {
    let k = f[0].len();
    let mut n = matmul(a, g);
    let mut s = matmul(&transpose(g), g);
    for (t, row) in s.iter_mut().enumerate() {
        row[t] += l2;
    }
    for r in n.iter_mut() {
        for v in r.iter_mut() {
            *v -= l1;
        }
    }
    for t in 0..k {
        for i in 0..f.len() {
            let mut grad = -n[i][t];
            for r in 0..k {
                grad += s[t][r] * f[i][r];
            }
            // A dead topic (S_tt = 0) is set to 0; scikit-learn skips it.
            f[i][t] = if s[t][t] != 0.0 {
                (f[i][t] - grad / s[t][t]).max(0.0)
            } else {
                0.0
            };
        }
    }
}

/// One KL-MU half-step: F ← F ∘ ((A ⊘ F Gᵀ) G) ⊘ colsum(G).
pub fn kl_half(a: &Mat, f: &mut Mat, g: &Mat) {
    let fg = matmul(f, &transpose(g));
    let k = f[0].len();
    let gsum: Vec<f64> = (0..k).map(|t| g.iter().map(|r| r[t]).sum()).collect();
    let mut num = vec![vec![0.0; k]; f.len()];
    for i in 0..a.len() {
        for j in 0..a[0].len() {
            if a[i][j] > 0.0 {
                let ratio = a[i][j] / fg[i][j].max(f32::EPSILON as f64);
                for t in 0..k {
                    num[i][t] += ratio * g[j][t];
                }
            }
        }
    }
    for i in 0..f.len() {
        for t in 0..k {
            f[i][t] = if num[i][t] > 0.0 {
                f[i][t] * num[i][t] / gsum[t]
            } else {
                0.0
            };
        }
    }
}

/// Largest |a − b| relative to the largest |b|.
pub fn rel_diff(a: &Mat, b: &Mat) -> f64 {
    let mut d: f64 = 0.0;
    let mut top: f64 = 0.0;
    for (ra, rb) in a.iter().zip(b) {
        for (x, y) in ra.iter().zip(rb) {
            d = d.max((x - y).abs());
            top = top.max(y.abs());
        }
    }
    d / top
}

/// Positive starting factors from a seed.
pub fn start(n: usize, m: usize, k: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let w = (0..n * k).map(|_| 0.1 + rng.random::<f32>()).collect();
    let ht = (0..m * k).map(|_| 0.1 + rng.random::<f32>()).collect();
    (w, ht)
}
