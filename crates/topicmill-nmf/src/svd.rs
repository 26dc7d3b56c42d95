//! Randomized truncated SVD of a sparse matrix (Halko, Martinsson & Tropp
//! 2011), shaped like scikit-learn's `randomized_svd`: a Gaussian sketch
//! with `n_oversamples` extra columns, power iterations with QR
//! re-orthonormalization, then the SVD of the small projected matrix
//! B = QᵀX, taken from the eigendecomposition of its l × l Gram B·Bᵀ (B itself
//! is never stored). X stays sparse: only the products X·Ω and Xᵀ·Q are
//! formed.

use faer::Mat;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use topicmill_sparse::CsrView;

use crate::column_tiles::larger_than_cache;
use crate::error::{NmfError, Result};
use crate::kernel::{self, Blocks, Csr};

/// Options of [`randomized_svd`]. The defaults are scikit-learn's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SvdOptions {
    /// Extra sketch columns beyond `k` (default 10); the sketch has at
    /// most `min(n, m)` columns whatever this says.
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

/// The element type of the final basis and of the singular vectors: f64 for
/// the public [`TruncatedSvd`], f32 for the NMF initialization (its factors
/// are f32: an f64 basis and f64 vectors of the longer side would only double
/// the footprint). Products and sums are in f64 either way.
pub(crate) trait Real: Copy + Send + Sync + 'static {
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    /// Orthonormalizes the columns of the row-major p × l `y` in place, to
    /// the type's precision (Cholesky QR twice, Gram sums in f64).
    fn orthonormalize(y: &mut [Self], l: usize);
    /// `y` itself when `Self` is f32: the f32 path runs the AVX2 kernels.
    fn as_f32(y: &[Self]) -> Option<&[f32]>;
    /// [`Real::as_f32`], mutable.
    fn as_f32_mut(y: &mut [Self]) -> Option<&mut [f32]>;
    /// `v` as a buffer of `Self`: `v` itself when `Self` is f32.
    fn from_f32_vec(v: Vec<f32>) -> Vec<Self>;
}

impl Real for f64 {
    fn from_f64(v: f64) -> Self {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn orthonormalize(y: &mut [Self], l: usize) {
        orthonormalize_f64(y, l);
    }
    fn as_f32(_: &[Self]) -> Option<&[f32]> {
        None
    }
    fn as_f32_mut(_: &mut [Self]) -> Option<&mut [f32]> {
        None
    }
    fn from_f32_vec(v: Vec<f32>) -> Vec<Self> {
        v.into_iter().map(f64::from).collect()
    }
}

impl Real for f32 {
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn orthonormalize(y: &mut [Self], l: usize) {
        let mut partials = vec![0f64; kernel::gram_partials_len(y.len() / l, l)];
        orthonormalize(y, l, 2, &mut partials);
    }
    fn as_f32(y: &[Self]) -> Option<&[f32]> {
        Some(y)
    }
    fn as_f32_mut(y: &mut [Self]) -> Option<&mut [f32]> {
        Some(y)
    }
    fn from_f32_vec(v: Vec<f32>) -> Vec<Self> {
        v
    }
}

/// [`TruncatedSvd`] with singular vectors of element type `T`.
#[derive(Debug)]
pub(crate) struct Svd<T> {
    pub k: usize,
    /// `n × k`, row-major.
    pub u: Vec<T>,
    pub s: Vec<f64>,
    /// The right vectors in the layout asked of [`svd_pair`]: `k × m`
    /// row-major (Vt) or `m × k` row-major (V, the layout of the NMF's Hᵀ).
    pub v: Vec<T>,
}

/// Randomized truncated SVD of the sparse `x` (n × m) with `k` components.
///
/// Returns an error if X is a view of column-major (CSC) storage, if `k`
/// is 0 or larger than `min(n, m)`, if X is empty, or if it holds a NaN or
/// an infinity ([`NmfError::NonFiniteValue`]: the decomposition would be
/// NaN or silently wrong). Negative values are an SVD's as much as positive
/// ones. `n_oversamples` beyond `min(n, m) − k` sketches `min(n, m)` columns.
pub fn randomized_svd(x: &CsrView<'_>, k: usize, opts: &SvdOptions) -> Result<TruncatedSvd> {
    crate::checks::csr_storage(x, "X")?;
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
    crate::checks::finite_values(x)?;
    let xt: sprs::CsMatI<f32, u32, u64> = x.transpose_view().to_csr();
    let xt_view = xt.view();
    let (a, at) = (Csr::from_view(x), Csr::from_view(&xt_view));
    // Data whose largest value lies outside the range the float32 products
    // take as they are (their squares overflow or flush to zero) are
    // decomposed multiplied by 2^e: the same singular vectors, and singular
    // values 2^e times larger, scaled back (exact). e = 0 for other data.
    let e = crate::params::data_exponent(a.data);
    let (data, tdata);
    let (a, at) = if e == 0 {
        (a, at)
    } else {
        let scaled = |values: &[f32]| {
            let mut v = values.to_vec();
            crate::params::times_pow2(&mut v, e);
            v
        };
        (data, tdata) = (scaled(a.data), scaled(at.data));
        (Csr { data: &data, ..a }, Csr { data: &tdata, ..at })
    };
    let Svd { k, u, mut s, v } = svd_pair::<f64>(&a, &at, k, opts, Layout::KByRows)?;
    s.iter_mut().for_each(|v| *v *= 2f64.powi(-e));
    Ok(TruncatedSvd { k, u, s, vt: v })
}

/// The SVD given both X and Xᵀ in CSR.
///
/// Like scikit-learn's `transpose="auto"`, the basis is kept on the longer
/// side of X (documents or terms, whichever are more); the singular vectors
/// of the other side are formed from it a row at a time, B = Qᵀ·A is never
/// stored, and the largest buffers are that basis (in f64, once) and the k
/// singular vectors themselves. (Keeping the basis on the shorter side would
/// save a little more, but the sketch's last components then differ enough
/// to move NNDSVD's starting point, and HALS on all of 20 Newsgroups ended
/// 3·10⁻⁵ above scikit-learn's coordinate-descent error instead of below.)
/// The right vectors come in `v_layout`: the same values either way, and
/// `Layout::RowsByK` (V, m × k) is the basis itself when the terms are the
/// longer side, where `Layout::KByRows` (Vt) is a copy of it.
pub(crate) fn svd_pair<T: Real>(
    x: &Csr<'_>,
    xt: &Csr<'_>,
    k: usize,
    opts: &SvdOptions,
    v_layout: Layout,
) -> Result<Svd<T>> {
    let (n, m) = (x.rows, x.cols);
    let mut out = if n >= m {
        // Documents are the longer side: U from the basis, V streamed.
        let (u, s, v) = svd_core(x, xt, k, opts, Layout::RowsByK, v_layout)?;
        Svd { k, u, s, v }
    } else {
        // Terms are: Xᵀ = V S Uᵀ, so V comes from the basis, U is streamed.
        let (v, s, u) = svd_core(xt, x, k, opts, v_layout, Layout::RowsByK)?;
        Svd { k, u, s, v }
    };
    flip_signs(&mut out, n, m, v_layout);
    Ok(out)
}

/// How k singular vectors of length `len` are stored: `len × k` row-major
/// (the layout of U) or `k × len` row-major (the layout of Vt).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    RowsByK,
    KByRows,
}

fn flip_signs<T: Real>(t: &mut Svd<T>, n: usize, m: usize, v_layout: Layout) {
    let k = t.k;
    let neg = |v: &mut T| *v = T::from_f64(-v.to_f64());
    for c in 0..k {
        let mut best = 0.0f64;
        for i in 0..n {
            let v = t.u[i * k + c].to_f64();
            if v.abs() > best.abs() {
                best = v;
            }
        }
        if best < 0.0 {
            for i in 0..n {
                neg(&mut t.u[i * k + c]);
            }
            match v_layout {
                Layout::KByRows => t.v[c * m..(c + 1) * m].iter_mut().for_each(neg),
                Layout::RowsByK => t.v.iter_mut().skip(c).step_by(k).for_each(neg),
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

/// `A · B` for the row-major f32 B (q × l), each row stored as `T`: in f32
/// by the AVX2 product kernel (f32 sums, as in the power iterations), in f64
/// a row at a time with f64 sums.
fn sp_times_to<T: Real>(a: &Csr<'_>, b: &[f32], l: usize, blocks: &Blocks) -> Vec<T> {
    let mut out = vec![T::from_f64(0.0); a.rows * l];
    match T::as_f32_mut(&mut out) {
        Some(out32) => kernel::spmm(a, b, l, blocks, out32),
        None => fill_rows_by_k(&mut out, l, |i, o, _| sparse_row_times(a, b, l, i, o)),
    }
    out
}

/// How a power iteration forms `Q ← Aᵀ·(A·Q)` (A p × q, Q q × l).
enum Power {
    /// In one pass over A's rows, by panels ([`PowerPanels`]).
    Panels(PowerPanels),
    /// As two products through `Y = A·Q` (p × l, held here).
    Two(Vec<f32>),
}

impl Power {
    fn plan(a: &Csr<'_>, q: usize, l: usize) -> Self {
        // Where Y is larger than the cache, the panels' gathers and scatters
        // go to memory; the two products gather by column tiles instead.
        if larger_than_cache(a.rows, l) {
            return Power::Two(vec![0f32; a.rows * l]);
        }
        match PowerPanels::plan(a, q, l) {
            Some(panels) => Power::Panels(panels),
            None => Power::Two(vec![0f32; a.rows * l]),
        }
    }
}

/// `Q ← Aᵀ·(A·Q)` in one pass over A's rows: row i's `y_i = A_i·Q` is
/// gathered, then scattered straight back, `Q_new[j] += a_ij · y_i` over the
/// same row, while the row and y_i are in registers and cache. A's rows are
/// split into P fixed panels (contiguous, balanced by non-zeros); each
/// scatters into its own q × l share, and the shares are added in panel
/// order. Y = A·Q (p × l) is never stored.
///
/// The two products it replaces read all of Y, which both cores had just
/// written, and on the seed matrix (A = Xᵀ, 26576 × 2034, l = 14) the second
/// one ran no faster on two threads than on one (285 against 275 µs per
/// power iteration, throwaway timers). The seed fit's initialization
/// (`examples/real seed 5`, the first iteration's end) went from 9.4–10.1 to
/// 7.7–7.8 ms, three interleaved rounds; on all of 20 Newsgroups (k = 20,
/// l = 30, two panels) the time is unchanged, and HALS ends at the same
/// error (0.979665 after 200 iterations).
///
/// Used where the P shares are no larger than Y (P·q ≤ p): A's rows (the
/// longer side) outnumber its columns; and Y fits in the cache (not
/// `larger_than_cache`). On the NYTimes shape (A 300,000 × 102,660, l = 110, two
/// panels) the panels' rows of Q and of the shares came from memory, and
/// the two products by column tiles took NNDSVDa from 36–40 to 16–17 s.
struct PowerPanels {
    ranges: Vec<std::ops::Range<usize>>,
    /// P × q × l.
    shares: Vec<f32>,
}

/// Non-zeros per power panel (at most [`MAX_POWER_PANELS`] panels).
const NNZ_PER_POWER_PANEL: usize = 65536;
const MAX_POWER_PANELS: usize = 8;

impl PowerPanels {
    /// The plan for A (p × q) and l columns, or `None` where P·q ≤ p has no
    /// P ≥ 1 (A has fewer rows than columns) or Q is empty.
    fn plan(a: &Csr<'_>, q: usize, l: usize) -> Option<Self> {
        let (p, nnz) = (a.rows, a.nnz());
        let panels = (nnz / NNZ_PER_POWER_PANEL)
            .clamp(1, MAX_POWER_PANELS)
            .min(p / q.max(1));
        if panels == 0 || q * l == 0 {
            return None;
        }
        let ranges = kernel::balanced_ranges(&a.indptr[..=p], panels);
        Some(PowerPanels {
            shares: vec![0f32; ranges.len() * q * l],
            ranges,
        })
    }

    /// One power iteration's product, `qm ← Aᵀ·(A·qm)` (q × l).
    fn step(&mut self, a: &Csr<'_>, qm: &mut [f32], l: usize) {
        let ql = qm.len();
        let qr: &[f32] = qm;
        self.shares
            .par_chunks_mut(ql)
            .zip(self.ranges.par_iter())
            .for_each(|(share, r)| {
                kernel::dispatch_k!(l, power_panel_best(a, r, qr, l, share));
            });
        kernel::sum_shares(qm, &self.shares);
    }
}

/// One power panel: for each row i in `r`, `y = A_i·q`, then `share[j] +=
/// a_ij · y` over the row. y is one running f32 sum in the row's order: the
/// rows are short where panels are used, and the product kernel's four
/// partial sums and their reduction made the seed's power iterations
/// 0.3–0.9 ms slower.
#[inline(always)]
fn power_panel<const K: usize>(
    a: &Csr<'_>,
    r: &std::ops::Range<usize>,
    q: &[f32],
    kk: usize,
    share: &mut [f32],
) {
    let k = if K == 0 { kk } else { K };
    share.fill(0.0);
    let mut y = vec![0f32; k];
    for i in r.clone() {
        let (cols, vals) = a.row(i);
        y.fill(0.0);
        for (&c, &v) in cols.iter().zip(vals) {
            let c = c as usize;
            for (o, &x) in y.iter_mut().zip(&q[c * k..c * k + k]) {
                *o += v * x;
            }
        }
        for (&c, &v) in cols.iter().zip(vals) {
            let c = c as usize;
            for (o, &x) in share[c * k..c * k + k].iter_mut().zip(&y) {
                *o += v * x;
            }
        }
    }
}

kernel::multiversion!(power_panel_best, power_panel_avx2, power_panel,
    (a: &Csr<'_>, r: &std::ops::Range<usize>, q: &[f32], kk: usize, share: &mut [f32]) -> ());

/// Orthonormalizes the columns of the row-major p × l `y` in place (Cholesky
/// QR: `YᵀY = RᵀR` in f64, then `Y ← Y·R⁻¹`), `passes` times. Falls back to
/// faer's Householder QR when the Gram is numerically singular.
fn orthonormalize(y: &mut [f32], l: usize, passes: usize, partials: &mut [f64]) {
    for _ in 0..passes {
        let mut g = vec![0f64; l * l];
        kernel::gram(y, l, partials, &mut g);
        if inverse_cholesky_in_place(&mut g, l) {
            let rinv32: Vec<f32> = g.iter().map(|&v| v as f32).collect();
            drop(g);
            kernel::rows_times_small(y, &rinv32, l);
        } else {
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

/// Overwrites the SPD `g` (row-major l × l) with `R⁻¹` (upper triangular,
/// zeros below the diagonal) for its Cholesky factor `g = RᵀR`; `false`, `g`
/// then undefined, when a pivot is not safely positive. R is formed over g's
/// upper triangle, then inverted over itself column by column from the last
/// (column c of R⁻¹ reads R's columns up to c only, and each entry's own R
/// value last): no l × l buffer beside g, where R and R⁻¹ had taken two
/// (0.4 MB at l = 160).
fn inverse_cholesky_in_place(g: &mut [f64], l: usize) -> bool {
    let scale = (0..l).map(|i| g[i * l + i]).fold(0f64, f64::max);
    for j in 0..l {
        let mut d = g[j * l + j];
        for i in 0..j {
            d -= g[i * l + j] * g[i * l + j];
        }
        if d.is_nan() || d <= 1e-13 * scale {
            return false;
        }
        let rjj = d.sqrt();
        g[j * l + j] = rjj;
        for c in j + 1..l {
            let mut v = g[j * l + c];
            for i in 0..j {
                v -= g[i * l + j] * g[i * l + c];
            }
            g[j * l + c] = v / rjj;
        }
    }
    // Back substitution, column by column of the inverse, the last first:
    // entry (i, c) of R⁻¹ needs R's (i, t) for t ≤ c, and R⁻¹'s (t, c) for
    // t > i, already computed.
    for c in (0..l).rev() {
        let rcc = g[c * l + c];
        g[c * l + c] = 1.0 / rcc;
        for i in (0..c).rev() {
            let mut v = 0.0;
            for t in i + 1..=c {
                v += g[i * l + t] * g[t * l + c];
            }
            g[i * l + c] = -v / g[i * l + i];
        }
    }
    for a in 1..l {
        g[a * l..a * l + a].fill(0.0);
    }
    true
}

/// Two independent standard normals by the Box–Muller transform.
pub(crate) fn normal_pair(rng: &mut Xoshiro256PlusPlus) -> (f64, f64) {
    let (u1, u2) = uniform_pair(rng);
    box_muller(u1, u2)
}

/// The two uniforms behind [`normal_pair`]'s next pair: drawn in twos until
/// the first is positive (its logarithm is taken).
fn uniform_pair(rng: &mut Xoshiro256PlusPlus) -> (f64, f64) {
    loop {
        let u1: f64 = rng.random();
        let u2: f64 = rng.random();
        if u1 > 0.0 {
            return (u1, u2);
        }
    }
}

/// Box–Muller's transform of two uniforms, `u1 > 0`.
fn box_muller(u1: f64, u2: f64) -> (f64, f64) {
    let r = (-2.0 * u1.ln()).sqrt();
    let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
    (r * c, r * s)
}

/// Pairs of uniforms per batch of [`fill_normal_pairs`] (64 KiB of them:
/// with 1 MiB, Ω's draw was the fit's peak on a 3000 × 3000 corpus at k =
/// 40, 1.52 × the reference footprint), and per task in a batch.
const UNIFORM_BATCH: usize = 1 << 12;
const UNIFORM_TASK: usize = 512;

/// Fills `out` with the normals [`normal_pair`] draws from `rng`, two per
/// call (the last call's second dropped where `out.len()` is odd), leaving
/// `rng` where those calls leave it: the same values. The uniforms are drawn
/// in order, a batch at a time, and the transform, whose logarithm, root,
/// sine and cosine are nearly all the cost, runs on the pool. Drawn all in
/// order, Ω took 0.58–0.63 ms on the seed matrix (2034 × 14) and 12.2–16.5
/// ms on ng20 (18,846 × 30); so, 0.43–0.51 and 10.1–13.6 ms (fastest and
/// median of 60 and 6 fits, both ways side by side in one process, two
/// threads, the Xeon of model 207). Far from half: the uniforms are drawn
/// on one thread while the pool waits, and each batch wakes it again.
fn fill_normal_pairs(rng: &mut Xoshiro256PlusPlus, out: &mut [f32]) {
    let mut uniforms = Vec::with_capacity(out.len().div_ceil(2).min(UNIFORM_BATCH));
    for batch in out.chunks_mut(2 * UNIFORM_BATCH) {
        uniforms.clear();
        uniforms.extend((0..batch.len().div_ceil(2)).map(|_| uniform_pair(rng)));
        batch
            .par_chunks_mut(2 * UNIFORM_TASK)
            .zip(uniforms.par_chunks(UNIFORM_TASK))
            .for_each(|(o, u)| {
                for (pair, &(u1, u2)) in o.chunks_mut(2).zip(u) {
                    let (a, b) = box_muller(u1, u2);
                    pair[0] = a as f32;
                    if let Some(v) = pair.get_mut(1) {
                        *v = b as f32;
                    }
                }
            });
    }
}

/// Orthonormalizes the columns of the row-major f64 p × l `y` in place:
/// Cholesky QR twice (the second pass restores orthogonality to f64 precision
/// after the first), so that no second p × l buffer is needed. Falls back to
/// faer's Householder QR (which copies) when a Gram is numerically singular.
/// The column space, hence the SVD built on it, is the same as Householder's.
fn orthonormalize_f64(y: &mut [f64], l: usize) {
    for _ in 0..2 {
        let mut rinv = gram_f64(y, l);
        if !inverse_cholesky_in_place(&mut rinv, l) {
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
}

/// `YᵀY` for the row-major f64 p × l `y`.
fn gram_f64(y: &[f64], l: usize) -> Vec<f64> {
    rows_gram(y.len() / l.max(1), l, |i, row| {
        row.copy_from_slice(&y[i * l..i * l + l])
    })
}

/// `Σ_j b_j b_jᵀ` (l × l, row-major) over the `len` rows `b_j` that
/// `row(j, b)` writes into `b`: partial Grams over fixed chunks of rows
/// (their number depends on `len` only), summed in order, so that the result
/// does not depend on the thread count.
fn rows_gram<F>(len: usize, l: usize, row: F) -> Vec<f64>
where
    F: Fn(usize, &mut [f64]) + Sync,
{
    let rows = len.div_ceil(64).max(1024);
    let partials: Vec<Vec<f64>> = (0..len.div_ceil(rows))
        .into_par_iter()
        .map(|chunk| {
            let mut g = vec![0f64; l * l];
            let mut b = vec![0f64; l];
            for j in chunk * rows..((chunk + 1) * rows).min(len) {
                row(j, &mut b);
                for (a, &ba) in b.iter().enumerate() {
                    for (gv, &bb) in g[a * l + a..a * l + l].iter_mut().zip(&b[a..]) {
                        *gv += ba * bb;
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
/// `y`'s own buffer. Returns the p × k result in `y`'s allocation, shrunk: no
/// second p-row buffer.
///
/// Row i's result lands at `i·k..(i+1)·k`, never past where row i was read.
/// The first block of rows is computed into a buffer and copied back (its
/// results overlap its own rows). After it, the rows go by waves, each
/// computed in parallel straight into place: a wave of rows `r..e` writes
/// `r·k..e·k`, which lies before `r·l`, the start of the rows it reads, as
/// long as `e·k ≤ r·l`. So each wave can be `l/k` times as long as all the
/// rows before it: on the seed's 26,576 terms at k = 4 (l = 14) four
/// parallel loops instead of the 26 of fixed 1024-row blocks, which had cost
/// 0.8–0.9 ms of its 6 ms initialization in waking the pool (on a Zen 5
/// EPYC). Where k = l no wave can start early: the blocks are all
/// buffered, as the first.
fn rows_times_small_in_place<T: Real>(mut y: Vec<T>, l: usize, v: &[f64], k: usize) -> Vec<T> {
    debug_assert!(k <= l);
    let p = y.len() / l;
    // The buffered blocks' rows. Their results wait in `out` (block × k
    // values): with 4096 rows that buffer was most of the p × k result on
    // short matrices, and the largest part of NNDSVD's footprint beside Y at
    // k = 100 (1.64 of 5.36 MB on a 2000 × 6000 corpus); with 1024, 1.2 MB
    // at k = 300. Now 1024 rows up to k = 32, fewer above (32k values, 128
    // KiB), at least 128.
    let block = ((1usize << 15) / k.max(1)).clamp(128, 1024) & !15;
    let rows_into = |o: &mut [T], src: &[T]| {
        // Tasks of at least 64 rows.
        o.par_chunks_mut(k * 64)
            .zip(src.par_chunks(l * 64))
            .for_each(|(ob, yb)| kernel::dispatch_k!(k, rows_times_v_task_best(ob, yb, v, l, k)));
    };
    let mut out = vec![T::from_f64(0.0); block.min(p) * k];
    let mut start = 0;
    while start < p {
        // The longest wave computed in place, or a buffered block.
        let wave_end = if k < l { (start * l / k).min(p) } else { start };
        if wave_end > start {
            let (done, rest) = y.split_at_mut(start * l);
            rows_into(
                &mut done[start * k..wave_end * k],
                &rest[..(wave_end - start) * l],
            );
            start = wave_end;
        } else {
            let end = (start + block).min(p);
            let out = &mut out[..(end - start) * k];
            rows_into(out, &y[start * l..end * l]);
            // Rows start..end of the result land at start·k..end·k ≤ end·l:
            // rows of y that have all been read (into `out`, above).
            y[start * k..end * k].copy_from_slice(out);
            start = end;
        }
    }
    drop(out);
    y.truncate(p * k);
    // Shrinking gives the tail back in place (no copy with the system allocator).
    y.shrink_to_fit();
    y
}

/// The truncated SVD `A ≈ L·diag(S)·R` of the sparse p × q `a` (with `at` =
/// Aᵀ), its basis kept on the p side: returns (L in `left`'s layout, S, the
/// right vectors in `right`'s layout).
fn svd_core<T: Real>(
    a: &Csr<'_>,
    at: &Csr<'_>,
    k: usize,
    opts: &SvdOptions,
    left: Layout,
    right: Layout,
) -> Result<(Vec<T>, Vec<f64>, Vec<T>)> {
    let (p, q) = (a.rows, a.cols);
    let l = k.saturating_add(opts.n_oversamples).min(p.min(q));
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
    fill_normal_pairs(&mut rng, &mut qm);
    let (blocks_a, blocks_at) = (Blocks::new(a, l), Blocks::new(at, l));
    let mut power = Power::plan(a, q, l);
    let mut part_q = vec![0f64; kernel::gram_partials_len(q, l)];
    // Power iterations: a subspace iteration, so any well-conditioned basis
    // does between the products. One Cholesky-QR pass per iteration, on the
    // q side only (the shorter one in `svd_pair`), keeps it so: the p side's
    // product of an orthonormal basis has at most the condition of A, and
    // the next product takes it back to the q side, where it is
    // orthonormalized. (Orthonormalizing the p side too, as scikit-learn
    // does with its LU steps, spans the same subspace and cost a third of
    // NNDSVDa's time on the seed matrix, 12.5 → 8.9 ms, and a fifth on ng20,
    // 169 → 133 ms; HALS on ng20 reaches the same error, 0.979665 after 200
    // iterations.)
    for _ in 0..n_iter {
        match &mut power {
            Power::Panels(panels) => panels.step(a, &mut qm, l),
            Power::Two(y) => {
                sp_times(a, &qm, l, &blocks_a, y);
                sp_times(at, y, l, &blocks_at, &mut qm);
            }
        }
        orthonormalize(&mut qm, l, 1, &mut part_q);
    }
    // The power iterations' workspace is done with: free it first.
    drop((power, part_q));
    // The last product and the basis as T: in f64 the singular vectors are
    // orthonormal to f64 precision (LSI reports them).
    let mut y: Vec<T> = sp_times_to(a, &qm, l, &blocks_a); // p × l
    drop(qm);
    T::orthonormalize(&mut y, l);
    // G = B·Bᵀ = Vb Λ Vbᵀ (l × l) for B = Yᵀ·A: B's left singular vectors are
    // Vb and its singular values √Λ. In f64, B is never stored: its rows
    // Bᵀ[j] = Aᵀ[j]·Y are formed a row at a time, twice (here and for the
    // right vectors). In f32, Bᵀ (q × l, the shorter side) is formed once by
    // the AVX2 product kernel, and its Gram by the Gram kernel.
    let bt32 = T::as_f32(&y).map(|y32| {
        let mut bt = vec![0f32; q * l];
        kernel::spmm(at, y32, l, &blocks_at, &mut bt);
        bt
    });
    let g = match &bt32 {
        Some(bt) => {
            let mut g = vec![0f64; l * l];
            let mut partials = vec![0f64; kernel::gram_partials_len(q, l)];
            kernel::gram(bt, l, &mut partials, &mut g);
            g
        }
        None => rows_gram(q, l, |j, b| sparse_row_times(at, &y, l, j, b)),
    };
    let (lambda, vbm) = symmetric_eigen(g, l).ok_or(NmfError::SvdNoConvergence)?;
    let mut order: Vec<usize> = (0..l).collect();
    order.sort_by(|&i, &j| lambda[j].total_cmp(&lambda[i]));
    order.truncate(k);
    let lambda_max = lambda[order[0]].max(0.0);
    // A singular value below √(1e-14)·σ₁ is below the Gram's precision: it
    // is reported as 0, with a zero right vector.
    let s: Vec<f64> = order
        .iter()
        .map(|&o| {
            if lambda[o] > 1e-14 * lambda_max {
                lambda[o].sqrt()
            } else {
                0.0
            }
        })
        .collect();
    // Vb's k columns (l × k, row-major), then Vb/σ for the right vectors;
    // the eigenvectors are freed first, and Vb/σ once used (at k = 300 and
    // l = 310 each of these is 0.74 MB beside a 1000 × 300 factor).
    let mut vsel = vec![0.0; l * k];
    for (row, b) in vsel.chunks_exact_mut(k).zip(vbm.chunks_exact(l)) {
        for (x, &o) in row.iter_mut().zip(&order) {
            *x = b[o];
        }
    }
    drop(vbm);
    let mut vscaled = vec![0.0; l * k];
    for (o, row) in vscaled.chunks_exact_mut(k).zip(vsel.chunks_exact(k)) {
        for ((x, &v), &sigma) in o.iter_mut().zip(row).zip(&s) {
            if sigma > 0.0 {
                *x = v / sigma;
            }
        }
    }
    // Then the right singular vectors: A's on its q side are B's, Bᵀ·Vb/σ,
    // written over Bᵀ where the layout allows (a third q-row buffer beside
    // Y and Bᵀ was the initialization's peak on sparse inputs at large k).
    let right = match bt32 {
        Some(bt) if right == Layout::RowsByK => {
            T::from_f32_vec(rows_times_small_in_place(bt, l, &vscaled, k))
        }
        Some(bt) => rows_times_v(q, l, &vscaled, k, right, |j, b| {
            for (x, &v) in b.iter_mut().zip(&bt[j * l..j * l + l]) {
                *x = v as f64;
            }
        }),
        None => rows_times_v(q, l, &vscaled, k, right, |j, b| {
            sparse_row_times(at, &y, l, j, b)
        }),
    };
    drop(vscaled);
    // The left ones, on A's p side: Y·Vb, written over Y.
    let yv = rows_times_small_in_place(y, l, &vsel, k);
    let left = match left {
        Layout::RowsByK => yv,
        Layout::KByRows => {
            let p = yv.len() / k;
            let mut out = vec![T::from_f64(0.0); k * p];
            fill_k_by_rows(&mut out, k, p, |i, o, _| {
                for (x, &v) in o.iter_mut().zip(&yv[i * k..i * k + k]) {
                    *x = v.to_f64();
                }
            });
            out
        }
    };
    Ok((left, s, right))
}

/// Eigenvalues and eigenvectors (the columns of the row-major l × l matrix
/// returned) of the symmetric row-major l × l `a`, by cyclic Jacobi
/// rotations: small, accurate to f64 precision, deterministic, and with no
/// workspace beyond the two l × l matrices (faer's dense eigensolver keeps a
/// 4 MiB per-thread buffer alive for the thread's lifetime, which would count
/// in every later fit's footprint). `None` if the sweeps do not converge.
fn symmetric_eigen(mut a: Vec<f64>, l: usize) -> Option<(Vec<f64>, Vec<f64>)> {
    let mut v = vec![0f64; l * l];
    for i in 0..l {
        v[i * l + i] = 1.0;
    }
    for _sweep in 0..60 {
        let mut rotated = false;
        for p in 0..l {
            for q in p + 1..l {
                let apq = a[p * l + q];
                // Negligible beside both diagonal entries: adding it to
                // either would not change it (the test of Numerical Recipes'
                // `jacobi`), so the sweeps end once every pair passes it.
                let (app, aqq) = (a[p * l + p].abs(), a[q * l + q].abs());
                if apq == 0.0 || (app + 1e2 * apq.abs() == app && aqq + 1e2 * apq.abs() == aqq) {
                    continue;
                }
                rotated = true;
                // The rotation that zeroes a[p][q] (Golub & Van Loan 8.5.2).
                let theta = (a[q * l + q] - a[p * l + p]) / (2.0 * apq);
                let t = if theta.abs() > 1e150 {
                    0.5 / theta // θ² would overflow: t ≈ 1/(2θ)
                } else {
                    theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt())
                };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for r in 0..l {
                    // Columns p and q of A, then rows p and q: A ← JᵀAJ.
                    let (arp, arq) = (a[r * l + p], a[r * l + q]);
                    a[r * l + p] = c * arp - s * arq;
                    a[r * l + q] = s * arp + c * arq;
                }
                for r in 0..l {
                    let (apr, aqr) = (a[p * l + r], a[q * l + r]);
                    a[p * l + r] = c * apr - s * aqr;
                    a[q * l + r] = s * apr + c * aqr;
                }
                for r in 0..l {
                    let (vrp, vrq) = (v[r * l + p], v[r * l + q]);
                    v[r * l + p] = c * vrp - s * vrq;
                    v[r * l + q] = s * vrp + c * vrq;
                }
                // Zero in exact arithmetic: rounding is not left behind.
                a[p * l + q] = 0.0;
                a[q * l + p] = 0.0;
            }
        }
        if !rotated {
            let lambda = (0..l).map(|i| a[i * l + i]).collect();
            return Some((lambda, v));
        }
    }
    None
}

/// A task of [`rows_times_small_in_place`]: `o`'s rows (k wide) are `y`'s
/// (l wide) times V, each row widened to f64, its products summed in f64 and
/// rounded back once. A function of its own, with k compiled and
/// multiversioned like the kernels: as a closure of the baseline-compiled
/// caller, with k read at run time, the seed's left singular vectors
/// (26,576 rows, l = 14, k = 4) took 0.88–0.94 ms; with k compiled,
/// 0.37–0.45; multiversioned too, 0.20–0.24 (fastest of 200, three
/// interleaved rounds each, two threads, the Xeon of model 207).
#[inline(always)]
fn rows_times_v_task<const K: usize>(
    o: &mut [impl Real],
    y: &[impl Real],
    v: &[f64],
    l: usize,
    kk: usize,
) {
    let k = if K == 0 { kk } else { K };
    let (mut row, mut acc) = (vec![0f64; l], vec![0f64; k]);
    for (o, yr) in o.chunks_exact_mut(k).zip(y.chunks_exact(l)) {
        for (x, &y) in row.iter_mut().zip(yr) {
            *x = y.to_f64();
        }
        small_row_times_k::<K>(&row, v, k, &mut acc);
        for (o, &x) in o.iter_mut().zip(&acc) {
            *o = Real::from_f64(x);
        }
    }
}

kernel::multiversion!(rows_times_v_task_best, rows_times_v_task_avx2, rows_times_v_task,
    (o: &mut [impl Real], y: &[impl Real], v: &[f64], l: usize, kk: usize) -> ());

/// `o = row · V` for the l-vector `row` and the row-major l × k `v`, k
/// compiled where [`kernel::dispatch_k!`] has it.
fn small_row_times(row: &[f64], v: &[f64], k: usize, o: &mut [f64]) {
    kernel::dispatch_k!(k, small_row_times_k(row, v, k, o))
}

#[inline(always)]
fn small_row_times_k<const K: usize>(row: &[f64], v: &[f64], kk: usize, o: &mut [f64]) {
    let k = if K == 0 { kk } else { K };
    let o = &mut o[..k];
    o.fill(0.0);
    for (a, &ra) in row.iter().enumerate() {
        for (x, &vv) in o.iter_mut().zip(&v[a * k..a * k + k]) {
            *x += ra * vv;
        }
    }
}

/// `b = A[j] · Y`: row `j` of the sparse `a` times the row-major dense
/// (a.cols × l) `y`, products and sums in f64.
fn sparse_row_times<T: Real>(a: &Csr<'_>, y: &[T], l: usize, j: usize, b: &mut [f64]) {
    b.fill(0.0);
    let (cols, vals) = a.row(j);
    for (&c, &v) in cols.iter().zip(vals) {
        let r = &y[c as usize * l..c as usize * l + l];
        for (x, &yv) in b.iter_mut().zip(r) {
            *x += v as f64 * yv.to_f64();
        }
    }
}

/// `Bᵀ·V` (q × k) in `layout`, for the row-major l × k `v`, where `bt_row(j,
/// b)` writes row j of the q × l Bᵀ into `b`: no row of Bᵀ is kept.
fn rows_times_v<T, F>(q: usize, l: usize, v: &[f64], k: usize, layout: Layout, bt_row: F) -> Vec<T>
where
    T: Real,
    F: Fn(usize, &mut [f64]) + Sync,
{
    let mut out = vec![T::from_f64(0.0); q * k];
    let row = |j: usize, o: &mut [f64], b: &mut Vec<f64>| {
        b.resize(l, 0.0);
        bt_row(j, b);
        small_row_times(b, v, k, o);
    };
    match layout {
        Layout::RowsByK => fill_rows_by_k(&mut out, k, row),
        Layout::KByRows => fill_k_by_rows(&mut out, k, q, row),
    }
    out
}

/// Fills the row-major len × k `out` row by row: `f(j, o, scratch)` writes
/// the k values of row j into `o`. Rows are done in parallel chunks.
fn fill_rows_by_k<T: Real, F>(out: &mut [T], k: usize, f: F)
where
    F: Fn(usize, &mut [f64], &mut Vec<f64>) + Sync,
{
    out.par_chunks_mut(k * 256)
        .enumerate()
        .for_each(|(chunk, block)| {
            let (mut o64, mut scratch) = (vec![0f64; k], Vec::new());
            for (t, o) in block.chunks_exact_mut(k).enumerate() {
                f(chunk * 256 + t, &mut o64, &mut scratch);
                for (x, &v) in o.iter_mut().zip(&o64) {
                    *x = T::from_f64(v);
                }
            }
        });
}

/// Fills the row-major k × len `out` column by column: `f(j, o, scratch)`
/// writes the k values of column j into `o`. Columns are done in parallel
/// chunks, each written back into its own piece of every row of `out`.
fn fill_k_by_rows<T: Real, F>(out: &mut [T], k: usize, len: usize, f: F)
where
    F: Fn(usize, &mut [f64], &mut Vec<f64>) + Sync,
{
    const CHUNK: usize = 512;
    let n_chunks = len.div_ceil(CHUNK);
    // pieces[chunk][c] = row c of `out`, columns of that chunk.
    let mut pieces: Vec<Vec<&mut [T]>> = (0..n_chunks).map(|_| Vec::with_capacity(k)).collect();
    for row in out.chunks_exact_mut(len.max(1)).take(k) {
        for (piece, chunk) in row.chunks_mut(CHUNK).zip(pieces.iter_mut()) {
            chunk.push(piece);
        }
    }
    pieces
        .into_par_iter()
        .enumerate()
        .for_each(|(chunk, mut rows)| {
            let start = chunk * CHUNK;
            let width = rows.first().map_or(0, |r| r.len());
            let (mut o, mut scratch) = (vec![0f64; k], Vec::new());
            for t in 0..width {
                f(start + t, &mut o, &mut scratch);
                for (row, &v) in rows.iter_mut().zip(&o) {
                    row[t] = T::from_f64(v);
                }
            }
        });
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
    fn normals_drawn_by_batches_are_normal_pairs_in_order() {
        for len in [0, 1, 2, 7, 2 * UNIFORM_TASK + 1, 2 * UNIFORM_BATCH + 3] {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
            let mut serial = vec![0f32; len];
            for pair in serial.chunks_mut(2) {
                let (a, b) = normal_pair(&mut rng);
                pair[0] = a as f32;
                if let Some(v) = pair.get_mut(1) {
                    *v = b as f32;
                }
            }
            let after = rng.random::<u64>();
            for threads in [1, 2] {
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
                let mut out = vec![0f32; len];
                crate::testing::pool(threads).install(|| fill_normal_pairs(&mut rng, &mut out));
                let same = out
                    .iter()
                    .zip(&serial)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "len {len}, {threads} threads");
                assert_eq!(
                    rng.random::<u64>(),
                    after,
                    "len {len}: the stream's position"
                );
            }
        }
    }

    #[test]
    fn in_place_product_matches_a_naive_one_across_blocks() {
        // More rows than one block (1024 rows at k = 4, 128 at k = 300), k < l
        // so rows move forward, by waves from the first block on (three at
        // l/k = 7/4, many at 310/300); k = l, by blocks only; and fewer rows
        // than a block.
        for (p, l, k) in [
            (9000, 7, 4),
            (1000, 310, 300),
            (500, 9, 9),
            (3000, 9, 9),
            (100, 14, 4),
        ] {
            let y = matrix(p, l, 1);
            let v = matrix(l, k, 2);
            let mut naive = vec![0f64; p * k];
            for i in 0..p {
                for c in 0..k {
                    naive[i * k + c] = (0..l).map(|a| y[i * l + a] * v[a * k + c]).sum();
                }
            }
            // In f32 (the NMF's initialization, a compiled loop of its own):
            // f64 products of the widened rows, summed in order from 0,
            // rounded once, bit for bit.
            let y32: Vec<f32> = y.iter().map(|&x| x as f32).collect();
            let want32: Vec<f32> = (0..p * k)
                .map(|ic| {
                    let (i, c) = (ic / k, ic % k);
                    (0..l).fold(0f64, |s, a| s + y32[i * l + a] as f64 * v[a * k + c]) as f32
                })
                .collect();
            let got = rows_times_small_in_place(y, l, &v, k);
            assert_eq!(got.len(), p * k);
            for (g, n) in got.iter().zip(&naive) {
                assert!((g - n).abs() <= 1e-12 * (1.0 + n.abs()), "{g} vs {n}");
            }
            let got32 = rows_times_small_in_place(y32, l, &v, k);
            let same = got32.len() == p * k
                && got32
                    .iter()
                    .zip(&want32)
                    .all(|(g, w)| g.to_bits() == w.to_bits());
            assert!(same, "f32, {p} × {l} → {k}");
        }
    }

    #[test]
    fn power_panels_give_the_two_products() {
        // 20000 × 2000, about 200k non-zeros: three panels.
        let x = crate::testing::sparse(20000, 2000, 0.005, 9);
        let xt: sprs::CsMatI<f32, u32, u64> = x.transpose_view().to_csr();
        let (xv, xtv) = (x.view(), xt.view());
        let (a, at) = (Csr::from_view(&xv), Csr::from_view(&xtv));
        // l = 14 (k = 4) has its own compiled width; l = 17 runs the
        // run-time width.
        for l in [14, 17] {
            let q0: Vec<f32> = matrix(2000, l, 4).iter().map(|&v| v as f32).collect();
            let mut panels = PowerPanels::plan(&a, 2000, l).expect("a plan");
            assert_eq!(panels.ranges.len(), 3);
            let mut got = q0.clone();
            panels.step(&a, &mut got, l);
            let mut y = vec![0f32; 20000 * l];
            let mut want = vec![0f32; 2000 * l];
            sp_times(&a, &q0, l, &Blocks::new(&a, l), &mut y);
            sp_times(&at, &y, l, &Blocks::new(&at, l), &mut want);
            let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-5 * scale, "l = {l}: {g} vs {w}");
            }
            // No plan where A has fewer rows than columns.
            assert!(PowerPanels::plan(&at, 20000, l).is_none());
        }
    }

    #[test]
    fn inverse_cholesky_in_place_equals_the_two_buffer_form_bitwise() {
        // The form it replaced: R in a buffer of its own, then R⁻¹ in another.
        fn two_buffers(g: &[f64], l: usize) -> Vec<f64> {
            let mut r = vec![0f64; l * l];
            for j in 0..l {
                let mut d = g[j * l + j];
                for i in 0..j {
                    d -= r[i * l + j] * r[i * l + j];
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
            inv
        }
        for l in [1, 2, 5, 14, 31] {
            let y = matrix(3 * l + 4, l, l as u64);
            let g = gram_f64(&y, l);
            let mut got = g.clone();
            assert!(inverse_cholesky_in_place(&mut got, l), "l = {l}");
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&two_buffers(&g, l)), "l = {l}");
        }
        // A singular Gram (two equal columns) is refused.
        let mut y = matrix(20, 3, 9);
        for row in y.chunks_exact_mut(3) {
            row[2] = row[0];
        }
        assert!(!inverse_cholesky_in_place(&mut gram_f64(&y, 3), 3));
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

    #[test]
    fn jacobi_eigen_diagonalizes_a_symmetric_matrix() {
        let l = 9;
        let b = matrix(l, l, 4);
        // BᵀB (full rank), a rank-one matrix (eight zero eigenvalues, one
        // repeated), and a diagonal one with a 1e-12 spread of magnitudes.
        let full: Vec<f64> = (0..l * l)
            .map(|ij| (0..l).map(|t| b[t * l + ij / l] * b[t * l + ij % l]).sum())
            .collect();
        let rank_one: Vec<f64> = (0..l * l).map(|ij| b[ij / l] * b[ij % l]).collect();
        let diagonal: Vec<f64> = (0..l * l)
            .map(|ij| {
                if ij / l == ij % l {
                    10f64.powi(-((ij / l) as i32) * 3 / 2)
                } else {
                    0.0
                }
            })
            .collect();
        for a in [full, rank_one, diagonal] {
            let scale = a.iter().fold(0f64, |m, x| m.max(x.abs()));
            let (lambda, v) = symmetric_eigen(a.clone(), l).unwrap();
            for c in 0..l {
                for r in 0..l {
                    // (A·v_c)[r] = λ_c v_c[r]
                    let av: f64 = (0..l).map(|t| a[r * l + t] * v[t * l + c]).sum();
                    let err = (av - lambda[c] * v[r * l + c]).abs();
                    assert!(err < 1e-13 * scale, "A v - λ v at {r},{c}: {err}");
                }
                for d in 0..l {
                    let dot: f64 = (0..l).map(|t| v[t * l + c] * v[t * l + d]).sum();
                    assert!((dot - f64::from(u8::from(c == d))).abs() < 1e-13);
                }
            }
        }
    }

    #[test]
    fn streamed_svd_equals_a_dense_svd_when_the_sketch_spans_everything() {
        // With l = min(n, m) the sketch spans the whole row space, so the
        // randomized SVD is exact: it must equal a dense SVD of the same
        // matrix, in both orientations.
        for (n, m) in [(14, 40), (40, 14)] {
            let x = crate::testing::sparse(n, m, 0.3, 5);
            let xt: sprs::CsMatI<f32, u32, u64> = x.transpose_view().to_csr();
            let (xv, xtv) = (x.view(), xt.view());
            let (a, at) = (Csr::from_view(&xv), Csr::from_view(&xtv));
            let k = 5;
            let got = svd_pair::<f64>(&a, &at, k, &SvdOptions::default(), Layout::KByRows).unwrap();
            let dense = Mat::from_fn(n, m, |i, j| x.get(i, j).copied().unwrap_or(0.0) as f64);
            let want = dense.thin_svd().unwrap();
            let (wu, wv, ws) = (want.U(), want.V(), want.S().column_vector());
            for c in 0..k {
                assert!(
                    (got.s[c] - ws[c]).abs() < 1e-10 * ws[0],
                    "σ{c}: {} vs {}",
                    got.s[c],
                    ws[c]
                );
                // Same vectors up to sign (the singular values are distinct).
                let sign = (0..n)
                    .map(|i| got.u[i * k + c] * wu[(i, c)])
                    .sum::<f64>()
                    .signum();
                for i in 0..n {
                    assert!(
                        (got.u[i * k + c] - sign * wu[(i, c)]).abs() < 1e-9,
                        "U[{i}][{c}]"
                    );
                }
                for j in 0..m {
                    assert!(
                        (got.v[c * m + j] - sign * wv[(j, c)]).abs() < 1e-9,
                        "Vt[{c}][{j}]"
                    );
                }
            }
            // The f32 form (basis and vectors in f32, sums in f64) agrees to
            // f32 precision.
            let single =
                svd_pair::<f32>(&a, &at, k, &SvdOptions::default(), Layout::KByRows).unwrap();
            for (g, w) in single.s.iter().zip(&got.s) {
                assert!((g - w).abs() < 1e-6 * got.s[0], "σ: {g} vs {w}");
            }
            for (g, w) in single
                .u
                .iter()
                .zip(&got.u)
                .chain(single.v.iter().zip(&got.v))
            {
                assert!((*g as f64 - w).abs() < 1e-5, "{g} vs {w}");
            }
            // V in the m × k layout (the NMF initialization's): the same
            // values, transposed, bit for bit.
            let rows =
                svd_pair::<f32>(&a, &at, k, &SvdOptions::default(), Layout::RowsByK).unwrap();
            assert_eq!(rows.u, single.u);
            assert_eq!(rows.s, single.s);
            for c in 0..k {
                for j in 0..m {
                    assert_eq!(rows.v[j * k + c].to_bits(), single.v[c * m + j].to_bits());
                }
            }
        }
    }
}
