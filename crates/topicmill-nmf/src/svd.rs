//! Randomized truncated SVD of a sparse matrix (Halko, Martinsson & Tropp
//! 2011), shaped like scikit-learn's `randomized_svd`: a Gaussian sketch
//! with `n_oversamples` extra columns, power iterations with QR
//! re-orthonormalization, then a dense SVD of the small projected matrix.
//! X stays sparse: only the products X·Ω and Xᵀ·Q are formed.

use faer::Mat;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use topicmill_sparse::CsrView;

use crate::error::{NmfError, Result};
use crate::kernel::{self, Blocks, Csr};

/// Options of [`randomized_svd`]. The defaults are scikit-learn's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SvdOptions {
    /// Extra sketch columns beyond `k` (default 10).
    pub n_oversamples: usize,
    /// Power iterations; `None` = scikit-learn's "auto": 7 when
    /// `k < 0.1 · min(n, m)`, else 4.
    pub n_iter: Option<usize>,
    /// Seed of the Gaussian sketch.
    pub seed: u64,
}

impl Default for SvdOptions {
    fn default() -> Self {
        SvdOptions {
            n_oversamples: 10,
            n_iter: None,
            seed: 0,
        }
    }
}

/// A truncated SVD `X ≈ U · diag(S) · Vt`, dense, row-major.
///
/// Signs are made deterministic: in each column of U the entry of largest
/// magnitude is positive (the matching row of Vt is flipped with it).
#[derive(Clone, Debug, PartialEq)]
pub struct TruncatedSvd {
    /// Number of components.
    pub k: usize,
    /// `n × k`, row-major.
    pub u: Vec<f64>,
    /// The `k` singular values, in decreasing order.
    pub s: Vec<f64>,
    /// `k × m`, row-major.
    pub vt: Vec<f64>,
}

/// Randomized truncated SVD of the sparse `x` (n × m) with `k` components.
///
/// Returns an error if `k` is 0 or larger than `min(n, m)`, or if X is empty.
pub fn randomized_svd(x: &CsrView<'_>, k: usize, opts: &SvdOptions) -> Result<TruncatedSvd> {
    let (n, m) = (x.rows(), x.cols());
    if x.nnz() == 0 || n == 0 || m == 0 {
        return Err(NmfError::EmptyMatrix {
            rows: n,
            cols: m,
            nnz: x.nnz(),
        });
    }
    if k == 0 {
        return Err(NmfError::ZeroComponents);
    }
    if k > n.min(m) {
        return Err(NmfError::TooManyComponents {
            k,
            max: n.min(m),
            rows: n,
            cols: m,
        });
    }
    let xt: sprs::CsMatI<f32, u32, u64> = x.transpose_view().to_csr();
    let xt_view = xt.view();
    svd_pair(&Csr::from_view(x), &Csr::from_view(&xt_view), k, opts)
}

/// The SVD given both X and Xᵀ in CSR.
pub(crate) fn svd_pair(
    x: &Csr<'_>,
    xt: &Csr<'_>,
    k: usize,
    opts: &SvdOptions,
) -> Result<TruncatedSvd> {
    let (n, m) = (x.rows, x.cols);
    // Like scikit-learn's transpose="auto": sketch the longer side.
    if n < m {
        let t = svd_core(xt, x, k, opts)?;
        // Xᵀ = U' S V'ᵀ  ⇒  X = V' S U'ᵀ. Each source is freed once copied.
        let mut vt = vec![0.0; k * m];
        for j in 0..m {
            for c in 0..k {
                vt[c * m + j] = t.u[j * k + c];
            }
        }
        drop(t.u);
        let mut u = vec![0.0; n * k];
        for c in 0..k {
            for i in 0..n {
                u[i * k + c] = t.vt[c * n + i];
            }
        }
        drop(t.vt);
        let mut out = TruncatedSvd { k, u, s: t.s, vt };
        flip_signs(&mut out, n, m);
        Ok(out)
    } else {
        let mut out = svd_core(x, xt, k, opts)?;
        flip_signs(&mut out, n, m);
        Ok(out)
    }
}

fn flip_signs(t: &mut TruncatedSvd, n: usize, m: usize) {
    let k = t.k;
    for c in 0..k {
        let mut best = 0.0f64;
        for i in 0..n {
            let v = t.u[i * k + c];
            if v.abs() > best.abs() {
                best = v;
            }
        }
        if best < 0.0 {
            for i in 0..n {
                t.u[i * k + c] = -t.u[i * k + c];
            }
            for v in &mut t.vt[c * m..(c + 1) * m] {
                *v = -*v;
            }
        }
    }
}

/// `out = A · B` for sparse A (p × q) and row-major f32 B (q × l): the
/// NMF kernel's blocked product (f32 products and sums; the sketch needs no
/// more, and half the bytes of f64 keep the gathered rows in cache).
fn sp_times(a: &Csr<'_>, b: &[f32], l: usize, blocks: &Blocks, out: &mut [f32]) {
    kernel::spmm(a, b, l, blocks, out);
}

/// `A · B` in f64 for row-major B (q × l), rows in parallel chunks.
fn sp_times_f64(a: &Csr<'_>, b: &[f64], l: usize) -> Vec<f64> {
    let mut out = vec![0f64; a.rows * l];
    out.par_chunks_mut(l * 256)
        .enumerate()
        .for_each(|(chunk, rows)| {
            for (local, o) in rows.chunks_exact_mut(l).enumerate() {
                let (cols, vals) = a.row(chunk * 256 + local);
                for (&c, &v) in cols.iter().zip(vals) {
                    let r = &b[c as usize * l..c as usize * l + l];
                    for (x, &y) in o.iter_mut().zip(r) {
                        *x += v as f64 * y;
                    }
                }
            }
        });
    out
}

/// Orthonormalizes the columns of the row-major p × l `y` in place (Cholesky
/// QR: `YᵀY = RᵀR` in f64, then `Y ← Y·R⁻¹`), `passes` times. Falls back to
/// faer's Householder QR when the Gram is numerically singular.
fn orthonormalize(y: &mut [f32], l: usize, passes: usize, partials: &mut [f64]) {
    for _ in 0..passes {
        let mut g = vec![0f64; l * l];
        kernel::gram(y, l, partials, &mut g);
        match inverse_cholesky(&g, l) {
            Some(rinv) => {
                let rinv32: Vec<f32> = rinv.iter().map(|&v| v as f32).collect();
                kernel::rows_times_small(y, &rinv32, l);
            }
            None => {
                let p = y.len() / l;
                let m = Mat::from_fn(p, l, |i, j| y[i * l + j] as f64);
                let q = m.qr().compute_thin_Q();
                for i in 0..p {
                    for j in 0..l {
                        y[i * l + j] = q[(i, j)] as f32;
                    }
                }
            }
        }
    }
}

/// `R⁻¹` (row-major, upper triangular) for the Cholesky factor of the SPD
/// `g = RᵀR`, or `None` when a pivot is not safely positive.
fn inverse_cholesky(g: &[f64], l: usize) -> Option<Vec<f64>> {
    let mut r = vec![0f64; l * l];
    let scale = (0..l).map(|i| g[i * l + i]).fold(0f64, f64::max);
    for j in 0..l {
        let mut d = g[j * l + j];
        for i in 0..j {
            d -= r[i * l + j] * r[i * l + j];
        }
        if d.is_nan() || d <= 1e-13 * scale {
            return None;
        }
        let rjj = d.sqrt();
        r[j * l + j] = rjj;
        for c in j + 1..l {
            let mut v = g[j * l + c];
            for i in 0..j {
                v -= r[i * l + j] * r[i * l + c];
            }
            r[j * l + c] = v / rjj;
        }
    }
    // Back substitution, column by column of the inverse.
    let mut inv = vec![0f64; l * l];
    for c in 0..l {
        inv[c * l + c] = 1.0 / r[c * l + c];
        for i in (0..c).rev() {
            let mut v = 0.0;
            for t in i + 1..=c {
                v += r[i * l + t] * inv[t * l + c];
            }
            inv[i * l + c] = -v / r[i * l + i];
        }
    }
    Some(inv)
}

/// Two independent standard normals by the Box–Muller transform.
fn normal_pair(rng: &mut Xoshiro256PlusPlus) -> (f64, f64) {
    loop {
        let u1: f64 = rng.random();
        let u2: f64 = rng.random();
        if u1 > 0.0 {
            let r = (-2.0 * u1.ln()).sqrt();
            let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
            return (r * c, r * s);
        }
    }
}

/// One standard normal by the Box–Muller transform.
pub(crate) fn standard_normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    loop {
        let u1: f64 = rng.random();
        let u2: f64 = rng.random();
        if u1 > 0.0 {
            return (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        }
    }
}

/// Orthonormalizes the columns of the row-major f64 p × l `y` in place:
/// Cholesky QR twice (the second pass restores orthogonality to f64 precision
/// after the first), so that no second p × l buffer is needed. Falls back to
/// faer's Householder QR (which copies) when a Gram is numerically singular.
/// The column space, hence the SVD built on it, is the same as Householder's.
fn orthonormalize_f64(y: &mut [f64], l: usize) {
    for _ in 0..2 {
        let g = gram_f64(y, l);
        match inverse_cholesky(&g, l) {
            Some(rinv) => {
                y.par_chunks_mut(l * 256).for_each(|rows| {
                    let mut tmp = vec![0f64; l];
                    for row in rows.chunks_exact_mut(l) {
                        tmp.fill(0.0);
                        // R⁻¹ is upper triangular: row·R⁻¹ reads rinv[a][a..].
                        for (a, &ya) in row.iter().enumerate() {
                            for (t, &r) in tmp[a..].iter_mut().zip(&rinv[a * l + a..a * l + l]) {
                                *t += ya * r;
                            }
                        }
                        row.copy_from_slice(&tmp);
                    }
                });
            }
            None => {
                let p = y.len() / l;
                let q = Mat::from_fn(p, l, |i, j| y[i * l + j])
                    .qr()
                    .compute_thin_Q();
                for i in 0..p {
                    for j in 0..l {
                        y[i * l + j] = q[(i, j)];
                    }
                }
                return;
            }
        }
    }
}

/// `YᵀY` for the row-major f64 p × l `y`: partial Grams over fixed chunks of
/// rows (their number depends on p only), summed in order, so that the result
/// does not depend on the thread count.
fn gram_f64(y: &[f64], l: usize) -> Vec<f64> {
    let p = y.len() / l.max(1);
    let chunk_rows = p.div_ceil(64).max(1024);
    let partials: Vec<Vec<f64>> = y
        .par_chunks(chunk_rows * l)
        .map(|rows| {
            let mut g = vec![0f64; l * l];
            for row in rows.chunks_exact(l) {
                for (a, &ya) in row.iter().enumerate() {
                    for (gv, &yb) in g[a * l + a..a * l + l].iter_mut().zip(&row[a..]) {
                        *gv += ya * yb;
                    }
                }
            }
            g
        })
        .collect();
    let mut g = vec![0f64; l * l];
    for part in &partials {
        for (o, &v) in g.iter_mut().zip(part) {
            *o += v;
        }
    }
    for a in 0..l {
        for b in 0..a {
            g[a * l + b] = g[b * l + a];
        }
    }
    g
}

/// `Y · V` for the row-major p × l `y` and l × k `v` (k ≤ l), written over
/// `y`'s own buffer: row block by row block in order, each block's products
/// (computed in parallel) overwrite only rows already read. Returns the p × k
/// result in `y`'s allocation, shrunk: no second p-row buffer.
fn rows_times_small_in_place(mut y: Vec<f64>, l: usize, v: &[f64], k: usize) -> Vec<f64> {
    debug_assert!(k <= l);
    let p = y.len() / l;
    const BLOCK: usize = 4096;
    let mut out = vec![0f64; BLOCK.min(p) * k];
    for start in (0..p).step_by(BLOCK) {
        let end = (start + BLOCK).min(p);
        let out = &mut out[..(end - start) * k];
        out.par_chunks_mut(k * 256)
            .zip(y[start * l..end * l].par_chunks(l * 256))
            .for_each(|(ob, yb)| {
                for (o, yr) in ob.chunks_exact_mut(k).zip(yb.chunks_exact(l)) {
                    o.fill(0.0);
                    for (a, &ya) in yr.iter().enumerate() {
                        for (x, &vv) in o.iter_mut().zip(&v[a * k..a * k + k]) {
                            *x += ya * vv;
                        }
                    }
                }
            });
        // Rows start..end of the result land at start·k..end·k ≤ end·l: rows of
        // y that have all been read (this block's into `out`, above).
        y[start * k..end * k].copy_from_slice(out);
    }
    y.truncate(p * k);
    // Shrinking gives the tail back in place (no copy with the system allocator).
    y.shrink_to_fit();
    y
}

fn svd_core(a: &Csr<'_>, at: &Csr<'_>, k: usize, opts: &SvdOptions) -> Result<TruncatedSvd> {
    let (p, q) = (a.rows, a.cols);
    let l = (k + opts.n_oversamples).min(p.min(q));
    let n_iter = opts
        .n_iter
        .unwrap_or(if (k as f64) < 0.1 * p.min(q) as f64 {
            7
        } else {
            4
        });
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(opts.seed);
    // Ω (q × l), Gaussian, row-major.
    let mut qm = vec![0f32; q * l];
    for pair in qm.chunks_mut(2) {
        let (a, b) = normal_pair(&mut rng);
        pair[0] = a as f32;
        if let Some(v) = pair.get_mut(1) {
            *v = b as f32;
        }
    }
    let (blocks_a, blocks_at) = (Blocks::new(a, l), Blocks::new(at, l));
    let mut y = vec![0f32; p * l];
    let mut part_p = vec![0f64; kernel::gram_partials_len(p, l)];
    let mut part_q = vec![0f64; kernel::gram_partials_len(q, l)];
    // Power iterations: a subspace iteration, so any well-conditioned basis
    // does between the products; one Cholesky-QR pass keeps it so.
    for _ in 0..n_iter {
        sp_times(a, &qm, l, &blocks_a, &mut y);
        orthonormalize(&mut y, l, 1, &mut part_p);
        sp_times(at, &y, l, &blocks_at, &mut qm);
        orthonormalize(&mut qm, l, 1, &mut part_q);
    }
    // The f32 workspace is done with: free it before the f64 stage, whose
    // p × l basis is the largest buffer of the whole SVD.
    drop((y, part_p, part_q, blocks_a, blocks_at));
    // The last products and the final basis in f64, so that U has columns
    // orthonormal to f64 precision (LSI reports them).
    let qm64: Vec<f64> = qm.iter().map(|&v| v as f64).collect();
    drop(qm);
    let mut y = sp_times_f64(a, &qm64, l); // p × l
    drop(qm64);
    orthonormalize_f64(&mut y, l);
    let bt = {
        let bt64 = sp_times_f64(at, &y, l); // q × l = Bᵀ
        Mat::from_fn(q, l, |i, j| bt64[i * l + j])
    };
    let svd = bt.thin_svd().map_err(|_| NmfError::SvdNoConvergence)?;
    drop(bt);
    // Bᵀ = Ub Σ Vbᵀ  ⇒  B = Vb Σ Ubᵀ: left vectors of B are Vb, right are Ub.
    let (ub, vb, sv) = (svd.U(), svd.V(), svd.S());
    let sv = sv.column_vector();
    let mut order: Vec<usize> = (0..l).collect();
    order.sort_by(|&i, &j| sv[j].total_cmp(&sv[i]));
    let order = &order[..k];
    let mut vt = vec![0.0; k * q];
    let mut s = vec![0.0; k];
    let vsel: Vec<f64> = (0..l)
        .flat_map(|a| order.iter().map(move |&o| (a, o)))
        .map(|(a, o)| vb[(a, o)])
        .collect(); // l × k, row-major
    let u = rows_times_small_in_place(y, l, &vsel, k);
    for (c, &o) in order.iter().enumerate() {
        s[c] = sv[o];
        for j in 0..q {
            vt[c * q + j] = ub[(j, o)];
        }
    }
    Ok(TruncatedSvd { k, u, s, vt })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic p × l row-major matrix with entries in [-1, 1).
    fn matrix(p: usize, l: usize, seed: u64) -> Vec<f64> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        (0..p * l)
            .map(|_| rng.random::<f64>() * 2.0 - 1.0)
            .collect()
    }

    #[test]
    fn in_place_product_matches_a_naive_one_across_blocks() {
        // More rows than one 4096-row block, k < l so rows move forward.
        let (p, l, k) = (9000, 7, 4);
        let y = matrix(p, l, 1);
        let v = matrix(l, k, 2);
        let mut naive = vec![0f64; p * k];
        for i in 0..p {
            for c in 0..k {
                naive[i * k + c] = (0..l).map(|a| y[i * l + a] * v[a * k + c]).sum();
            }
        }
        let got = rows_times_small_in_place(y, l, &v, k);
        assert_eq!(got.len(), p * k);
        for (g, n) in got.iter().zip(&naive) {
            assert!((g - n).abs() <= 1e-12 * (1.0 + n.abs()), "{g} vs {n}");
        }
    }

    #[test]
    fn cholesky_qr_gives_an_orthonormal_basis_of_the_same_columns() {
        let (p, l) = (5000, 6);
        let mut y = matrix(p, l, 3);
        // Make the columns badly scaled and nearly dependent (condition ~1e4).
        for i in 0..p {
            y[i * l + 1] = y[i * l] + 1e-4 * y[i * l + 1];
            y[i * l + 2] *= 1e3;
        }
        let original = y.clone();
        orthonormalize_f64(&mut y, l);
        let g = gram_f64(&y, l);
        for a in 0..l {
            for b in 0..l {
                let want = if a == b { 1.0 } else { 0.0 };
                assert!(
                    (g[a * l + b] - want).abs() < 1e-12,
                    "QᵀQ[{a}][{b}] = {}",
                    g[a * l + b]
                );
            }
        }
        // Same span: each original column equals its projection on Q.
        for c in 0..l {
            let coef: Vec<f64> = (0..l)
                .map(|a| (0..p).map(|i| y[i * l + a] * original[i * l + c]).sum())
                .collect();
            let (mut err, mut norm) = (0f64, 0f64);
            for i in 0..p {
                let proj: f64 = (0..l).map(|a| y[i * l + a] * coef[a]).sum();
                err += (proj - original[i * l + c]).powi(2);
                norm += original[i * l + c].powi(2);
            }
            assert!(
                err.sqrt() <= 1e-10 * norm.sqrt(),
                "column {c}: {}",
                (err / norm).sqrt()
            );
        }
    }
}
