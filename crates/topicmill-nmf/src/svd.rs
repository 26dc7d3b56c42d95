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
use crate::kernel::Csr;

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
        // Xᵀ = U' S V'ᵀ  ⇒  X = V' S U'ᵀ.
        let mut u = vec![0.0; n * k];
        for c in 0..k {
            for i in 0..n {
                u[i * k + c] = t.vt[c * n + i];
            }
        }
        let mut vt = vec![0.0; k * m];
        for j in 0..m {
            for c in 0..k {
                vt[c * m + j] = t.u[j * k + c];
            }
        }
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

/// `A · B` for sparse A (p × q) and dense B (q × l, column-major faer Mat).
fn sp_times(a: &Csr<'_>, b: &Mat<f64>) -> Mat<f64> {
    let l = b.ncols();
    // Row-major copy of B so that each non-zero touches one contiguous row.
    let mut br = vec![0f64; a.cols * l];
    for j in 0..l {
        for i in 0..a.cols {
            br[i * l + j] = b[(i, j)];
        }
    }
    let mut out = vec![0f64; a.rows * l];
    out.par_chunks_mut(l).enumerate().for_each(|(i, o)| {
        let (cols, vals) = a.row(i);
        for (&c, &v) in cols.iter().zip(vals) {
            let r = &br[c as usize * l..c as usize * l + l];
            for (x, &y) in o.iter_mut().zip(r) {
                *x += v as f64 * y;
            }
        }
    });
    Mat::from_fn(a.rows, l, |i, j| out[i * l + j])
}

fn orthonormal(y: &Mat<f64>) -> Mat<f64> {
    y.qr().compute_thin_Q()
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
    let mut omega = Mat::<f64>::zeros(q, l);
    for i in 0..q {
        for j in 0..l {
            omega[(i, j)] = standard_normal(&mut rng);
        }
    }
    let mut qm = omega;
    for _ in 0..n_iter {
        qm = orthonormal(&sp_times(a, &qm));
        qm = orthonormal(&sp_times(at, &qm));
    }
    let qm = orthonormal(&sp_times(a, &qm)); // p × l
    let bt = sp_times(at, &qm); // q × l  = Bᵀ
    let svd = bt.thin_svd().map_err(|_| NmfError::SvdNoConvergence)?;
    // Bᵀ = Ub Σ Vbᵀ  ⇒  B = Vb Σ Ubᵀ: left vectors of B are Vb, right are Ub.
    let (ub, vb, sv) = (svd.U(), svd.V(), svd.S());
    let sv = sv.column_vector();
    let mut order: Vec<usize> = (0..l).collect();
    order.sort_by(|&i, &j| sv[j].total_cmp(&sv[i]));
    let order = &order[..k];
    let uq = &qm * vb; // p × l
    let mut u = vec![0.0; p * k];
    let mut vt = vec![0.0; k * q];
    let mut s = vec![0.0; k];
    for (c, &o) in order.iter().enumerate() {
        s[c] = sv[o];
        for i in 0..p {
            u[i * k + c] = uq[(i, o)];
        }
        for j in 0..q {
            vt[c * q + j] = ub[(j, o)];
        }
    }
    Ok(TruncatedSvd { k, u, s, vt })
}
