//! The shared half-step kernel: `N = A·G`, `S = GᵀG`, and the row-local
//! MU / HALS / KL-MU rules, over fixed row blocks.
//!
//! Layout: every dense factor is row-major with `k` contiguous values per
//! row (W is n × k, Hᵀ is m × k), so the inner loops run over `k` and
//! vectorize. Reductions (Gram, loss terms) are done per fixed block in
//! f64 and the block results are added in block order, so the result does
//! not depend on the number of threads.

use std::ops::Range;

use rayon::iter::Either;
use rayon::prelude::*;
use topicmill_sparse::CsrView;

use crate::column_tiles::{
    blocks_for, by_tiles, kl_by_tiles, kl_loss_by_tiles, larger_than_cache, spmm_tiled, ColumnTiles,
};
use crate::params::Reg;

/// Calls `$f::<K>(args)` with `K = k` for the common sizes (the loops over
/// k then have constant bounds and unroll), or `K = 0` (runtime k). 14, 30
/// and 40 are also the SVD sketch widths `k + 10` of k = 4, 20 and 30. The
/// sizes are [`COMPILED_K`]'s. With 40 and 80 among them, MU on 20
/// Newsgroups at k = 40 runs 8.6–9.5 ms per iteration instead of 16.8–26.3
/// by the run-time loops, HALS 11.8–15.0 instead of 22.2–22.6, and at k = 80
/// 33.5–36.2 and 42.0–42.7 instead of 41.8–44.5 and 55.0–55.8; the workspace
/// builds about 2 s longer. 110 is the sketch width of k = 100: NNDSVDa on
/// the NYTimes shape (300,000 × 102,660, k = 100) 15.8–17.3 → 12.9–13.6 s;
/// k = 101 to 110 pad to it (ng20 MU at k = 105 68–71 → 59–60 ms per
/// iteration, HALS unchanged at 83–93 ms). 128 and 150: MU 20 % faster than
/// the run-time loops, HALS up to 10 %; loops compiled for 200 were slower
/// than the run-time ones (BENCHMARKS.md, "Faster at large k").
macro_rules! dispatch_k {
    ($k:expr, $f:ident ( $($arg:expr),* $(,)? )) => {
        match $k {
            2 => $f::<2>($($arg),*),
            3 => $f::<3>($($arg),*),
            4 => $f::<4>($($arg),*),
            5 => $f::<5>($($arg),*),
            8 => $f::<8>($($arg),*),
            10 => $f::<10>($($arg),*),
            14 => $f::<14>($($arg),*),
            16 => $f::<16>($($arg),*),
            20 => $f::<20>($($arg),*),
            30 => $f::<30>($($arg),*),
            32 => $f::<32>($($arg),*),
            40 => $f::<40>($($arg),*),
            50 => $f::<50>($($arg),*),
            64 => $f::<64>($($arg),*),
            80 => $f::<80>($($arg),*),
            100 => $f::<100>($($arg),*),
            110 => $f::<110>($($arg),*),
            128 => $f::<128>($($arg),*),
            150 => $f::<150>($($arg),*),
            _ => $f::<0>($($arg),*),
        }
    };
}
pub(crate) use dispatch_k;

/// The k that [`dispatch_k!`] has loops compiled for.
pub(crate) const COMPILED_K: [usize; 19] = [
    2, 3, 4, 5, 8, 10, 14, 16, 20, 30, 32, 40, 50, 64, 80, 100, 110, 128, 150,
];

/// The rank a Frobenius fit of rank `k` runs its kernels at: the smallest
/// of [`COMPILED_K`] at or above `k` when that is at most 32, or at most
/// 128 and a seventh above k; else `k` itself. The factors get `padded_k(k) − k`
/// columns of zeros, which every rule keeps at zero (a zero numerator, or a
/// zero Gram row and column) and which add only zeros to every sum. The
/// loops for a compiled k run up to 4× faster than the run-time-k ones
/// (BENCHMARKS.md, "Run-time k padded to a compiled one"). Above 32 the
/// zero columns' work counts: on 20 Newsgroups k = 45, 56, 60 and 90 ran
/// faster padded (to 50, 64, 64, 100), MU at k = 33 slower (to 50) and at
/// k = 40 no faster (before 40 and 80 were compiled; "Footprint at large
/// k"); HALS at k = 140 slower padded to 150 ("Faster at large k"). The rule depends on k alone,
/// so a model's documents are transformed at the k their fit ran at,
/// whatever else is transformed with them.
pub(crate) fn padded_k(k: usize) -> usize {
    match COMPILED_K.iter().copied().find(|&c| c >= k) {
        Some(c) if c <= 32 || (c <= 128 && 7 * c <= 8 * k) => c,
        _ => k,
    }
}

/// `v` (rows × `k`, row-major) with `kp − k` zeros after each row.
pub(crate) fn pad_columns(v: &[f32], k: usize, kp: usize) -> Vec<f32> {
    debug_assert!(kp >= k && k > 0 && v.len() % k == 0);
    let mut out = vec![0f32; v.len() / k * kp];
    for (o, r) in out.chunks_exact_mut(kp).zip(v.chunks_exact(k)) {
        o[..k].copy_from_slice(r);
    }
    out
}

/// The first `k` columns of `v` (rows × `kp`, row-major).
pub(crate) fn unpad_columns(v: &[f32], kp: usize, k: usize) -> Vec<f32> {
    debug_assert!(kp >= k && v.len() % kp == 0);
    // Sized exactly (collecting a `flat_map` grows the buffer by doubling).
    let mut out = Vec::with_capacity(v.len() / kp.max(1) * k);
    for r in v.chunks_exact(kp) {
        out.extend_from_slice(&r[..k]);
    }
    out
}

/// [`pad_columns`] in `v`'s own allocation (grown, its rows moved last to
/// first): the factor is never held twice, which at k = 90 padded to 100
/// had put a fit's footprint on 20 Newsgroups at 1.69 × the reference.
pub(crate) fn pad_columns_in_place(mut v: Vec<f32>, k: usize, kp: usize) -> Vec<f32> {
    assert!(kp >= k && k > 0 && v.len() % k == 0);
    if kp == k {
        return v;
    }
    let rows = v.len() / k;
    // Exactly: `resize` alone would at least double the capacity.
    v.reserve_exact(rows * kp - v.len());
    v.resize(rows * kp, 0.0);
    // Row i moves from i·k to i·kp ≥ i·k: last row first, no row is
    // overwritten before it has moved.
    for i in (0..rows).rev() {
        v.copy_within(i * k..(i + 1) * k, i * kp);
        v[i * kp + k..(i + 1) * kp].fill(0.0);
    }
    v
}

/// [`unpad_columns`] in `v`'s own allocation (its rows moved first to last,
/// then the tail given back).
pub(crate) fn unpad_columns_in_place(mut v: Vec<f32>, kp: usize, k: usize) -> Vec<f32> {
    assert!(kp >= k && kp > 0 && v.len() % kp == 0);
    if kp == k {
        return v;
    }
    let rows = v.len() / kp;
    // Row i moves from i·kp to i·k ≤ i·kp: first row first.
    for i in 0..rows {
        v.copy_within(i * kp..i * kp + k, i * k);
    }
    v.truncate(rows * k);
    v.shrink_to_fit();
    v
}

/// Whether the AVX2 versions of the block loops can run here (checked once).
#[inline]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static AVX2: OnceLock<bool> = OnceLock::new();
        *AVX2.get_or_init(|| std::arch::is_x86_feature_detected!("avx2"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Defines `$plain` (baseline ISA) and `$avx2` (compiled with AVX2) around the
/// `#[inline(always)]` body `$body`, and `$pick` (with visibility `$vis`) that
/// runs the best one. Both compute the same operations in the same order (no
/// FMA contraction), so they give bitwise-identical results.
macro_rules! multiversion {
    ($vis:vis $pick:ident, $avx2:ident, $body:ident, ($($p:ident : $t:ty),*) -> $ret:ty) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $avx2<const K: usize>($($p: $t),*) -> $ret {
            $body::<K>($($p),*)
        }
        #[inline]
        #[allow(clippy::too_many_arguments)]
        $vis fn $pick<const K: usize>($($p: $t),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            if $crate::kernel::has_avx2() {
                // SAFETY: `has_avx2` checked at run time that this CPU has AVX2.
                return unsafe { $avx2::<K>($($p),*) };
            }
            $body::<K>($($p),*)
        }
    };
}
pub(crate) use multiversion;

/// Denominators of the multiplicative updates are floored here. Together with
/// flushing subnormal factor entries to zero it keeps every update finite:
/// `f · n / max(den, DEN_FLOOR)` cannot overflow for `n` below ~1e8.
pub(crate) const DEN_FLOOR: f32 = 1e-30;
/// Where WH at a non-zero of X is below this, KL-MU uses this instead
/// (scikit-learn's `EPSILON`, the float32 machine epsilon).
pub(crate) const KL_EPS: f32 = f32::EPSILON;

/// A CSR matrix as three slices with a zero-based row pointer.
#[derive(Clone, Copy)]
pub(crate) struct Csr<'a> {
    pub indptr: &'a [u64],
    pub base: u64,
    pub indices: &'a [u32],
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
}

impl<'a> Csr<'a> {
    /// # Panics
    /// If `x` is a view of column-major storage: the public entry points
    /// refuse one first ([`crate::NmfError::NotCsr`]); read as rows, its
    /// arrays would index out of bounds or be another matrix.
    pub fn from_view(x: &'a CsrView<'_>) -> Self {
        assert!(
            x.is_csr(),
            "a column-major (CSC) view where CSR storage is needed: pass a CSR view"
        );
        let indptr = x.indptr().into_raw_storage();
        Csr {
            base: indptr[0],
            indptr,
            indices: x.indices(),
            data: x.data(),
            rows: x.rows(),
            cols: x.cols(),
        }
    }

    #[inline(always)]
    pub fn row(&self, i: usize) -> (&'a [u32], &'a [f32]) {
        let lo = (self.indptr[i] - self.base) as usize;
        let hi = (self.indptr[i + 1] - self.base) as usize;
        (&self.indices[lo..hi], &self.data[lo..hi])
    }

    pub fn nnz(&self) -> usize {
        (self.indptr[self.rows] - self.base) as usize
    }

    /// Σ x² in f64, in a fixed order.
    pub fn sq_norm(&self) -> f64 {
        self.data.iter().map(|&v| (v as f64) * (v as f64)).sum()
    }

    pub fn sum(&self) -> f64 {
        self.data.iter().map(|&v| v as f64).sum()
    }
}

/// Fixed row blocks of a matrix, balanced by work (`nnz + k` per row). The
/// boundaries depend on the matrix and k only, never on the thread count.
#[derive(Clone, Debug)]
pub(crate) struct Blocks {
    pub ranges: Vec<Range<usize>>,
}

impl Blocks {
    pub fn new(a: &Csr<'_>, k: usize) -> Self {
        let weight = |i: usize| (a.indptr[i + 1] - a.indptr[i]) as usize + k + 1;
        let total: usize = a.nnz() + a.rows * (k + 1);
        // About 64 blocks on large inputs (enough to balance a few threads),
        // fewer on small ones, where each task would do too little.
        let target = (total / 64).max(32768);
        let mut ranges = Vec::new();
        let mut start = 0;
        let mut acc = 0;
        for i in 0..a.rows {
            acc += weight(i);
            if acc >= target {
                ranges.push(start..i + 1);
                start = i + 1;
                acc = 0;
            }
        }
        if start < a.rows || ranges.is_empty() {
            ranges.push(start..a.rows);
        }
        Blocks { ranges }
    }

    /// Blocks of about equal row counts (work `k + 1` per row, as above).
    pub fn uniform(rows: usize, k: usize) -> Self {
        let per = (32768 / (k + 1)).max(1);
        let mut ranges: Vec<Range<usize>> = (0..rows)
            .step_by(per)
            .map(|s| s..(s + per).min(rows))
            .collect();
        if ranges.is_empty() {
            ranges.push(0..0);
        }
        Blocks { ranges }
    }

    pub fn len(&self) -> usize {
        self.ranges.len()
    }
}

/// `parts` contiguous ranges covering `0..ptr.len() - 1` (fewer when there
/// are fewer items), balanced by weight, item i weighing `ptr[i + 1] -
/// ptr[i]`: a CSR row pointer splits rows by non-zeros. Range l ends after
/// the first item at which the running weight reaches l/parts of the total;
/// the last range takes the rest. Depends on `ptr` only.
pub(crate) fn balanced_ranges(ptr: &[u64], parts: usize) -> Vec<Range<usize>> {
    let items = ptr.len() - 1;
    let total = ptr[items] - ptr[0];
    let mut ranges = Vec::with_capacity(parts);
    let mut start = 0;
    for i in 0..items {
        let done = ranges.len() as u64 + 1;
        if ranges.len() + 1 < parts && (ptr[i + 1] - ptr[0]) * parts as u64 >= total * done {
            ranges.push(start..i + 1);
            start = i + 1;
        }
    }
    ranges.push(start..items);
    ranges
}

/// Rows per chunk of the Gram reduction: about 64k products per chunk, at
/// least 512 rows, and at least 16·k, so that the chunks' k × k f64 partials
/// take at most an eighth of the factor's bytes (with 512 rows at k = 100
/// they took 0.39 of it: 11 MB on 20 Newsgroups). Depends on k only, never
/// on the thread count.
pub(crate) fn gram_chunk_rows(k: usize) -> usize {
    ((1 << 16) / (k * k).max(1)).clamp(512, 8192).max(16 * k)
}

/// A raw pointer to disjoint rows of a buffer, shared by the block tasks.
#[derive(Clone, Copy)]
pub(crate) struct RowsPtr(*mut f32);
// SAFETY: tasks only touch disjoint row ranges (distinct blocks), see `rows_mut`.
unsafe impl Send for RowsPtr {}
// SAFETY: as above.
unsafe impl Sync for RowsPtr {}

impl RowsPtr {
    pub fn new(buf: &mut [f32]) -> Self {
        RowsPtr(buf.as_mut_ptr())
    }
    /// # Safety
    /// `r` lies inside the buffer (as rows of `k`), and no other live
    /// reference covers these rows.
    #[inline(always)]
    pub unsafe fn rows_mut<'b>(self, r: &Range<usize>, k: usize) -> &'b mut [f32] {
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(r.start * k), (r.end - r.start) * k) }
    }
}

/// Partial Gram of one chunk of rows, f64 accumulation: at k = 4 by
/// [`fused4::gram_4`](crate::fused4::gram_4), at other k by
/// [`gram_tiles`](crate::gram_tiles::gram_tiles), where they run; the
/// same bits.
#[inline(always)]
fn gram_chunk<const K: usize>(p: &mut [f64], rows: &[f32], kk: usize) {
    if K == 4 && crate::fused4::gram_4(p, rows) {
        return;
    }
    if kk > 0 && crate::gram_tiles::gram_tiles(p, rows, kk) {
        return;
    }
    gram_chunk_loops::<K>(p, rows, kk);
}

/// [`gram_chunk`] by plain loops: per quad of rows, `(w0[a]·w0[b] +
/// w1[a]·w1[b]) + (w2[a]·w2[b] + w3[a]·w3[b])` added to the partial, then
/// the last `rows mod 4` rows one at a time, whether k is known at compile
/// time or not.
#[inline(always)]
pub(crate) fn gram_chunk_loops<const K: usize>(p: &mut [f64], rows: &[f32], kk: usize) {
    let k = if K == 0 { kk } else { K };
    p.fill(0.0);
    // Four rows per pass over the k × k partial (a quarter of its loads and
    // stores), widened to f64: products and sums in f64 throughout.
    if K > 0 {
        // The same loops with k known at compile time, over arrays: where the
        // tiles do not run (another CPU), 0.73 ms for the Gram of ng20's Hᵀ
        // at k = 20 against 0.93 ms by the run-time-k loops below.
        let mut quads = rows.chunks_exact(4 * K);
        for q in &mut quads {
            let mut w = [[0f64; K]; 4];
            for (r, wr) in w.iter_mut().enumerate() {
                for t in 0..K {
                    wr[t] = q[r * K + t] as f64;
                }
            }
            for a in 0..K {
                let (x0, x1, x2, x3) = (w[0][a], w[1][a], w[2][a], w[3][a]);
                let pa = &mut p[a * K..(a + 1) * K];
                for b in 0..K {
                    pa[b] += (x0 * w[0][b] + x1 * w[1][b]) + (x2 * w[2][b] + x3 * w[3][b]);
                }
            }
        }
        for row in quads.remainder().chunks_exact(K) {
            let mut w = [0f64; K];
            for t in 0..K {
                w[t] = row[t] as f64;
            }
            for a in 0..K {
                let pa = &mut p[a * K..(a + 1) * K];
                for b in 0..K {
                    pa[b] += w[a] * w[b];
                }
            }
        }
        return;
    }
    let mut quads = rows.chunks_exact(4 * k);
    let mut w = vec![0f64; 4 * k];
    for q in &mut quads {
        for (d, &s) in w.iter_mut().zip(q) {
            *d = s as f64;
        }
        let (w01, w23) = w.split_at(2 * k);
        let ((w0, w1), (w2, w3)) = (w01.split_at(k), w23.split_at(k));
        for a in 0..k {
            let (x0, x1, x2, x3) = (w0[a], w1[a], w2[a], w3[a]);
            let pa = &mut p[a * k..(a + 1) * k];
            for (b, s) in pa.iter_mut().enumerate() {
                *s += (x0 * w0[b] + x1 * w1[b]) + (x2 * w2[b] + x3 * w3[b]);
            }
        }
    }
    for row in quads.remainder().chunks_exact(k) {
        for (d, &s) in w.iter_mut().zip(row) {
            *d = s as f64;
        }
        let w = &w[..k];
        for (a, &ga) in w.iter().enumerate() {
            for (s, &gb) in p[a * k..(a + 1) * k].iter_mut().zip(w) {
                *s += ga * gb;
            }
        }
    }
}

multiversion!(pub(crate) gram_chunk_best, gram_chunk_avx2, gram_chunk, (p: &mut [f64], rows: &[f32], kk: usize) -> ());

fn gram_k<const K: usize>(g: &[f32], k: usize, partials: &mut [f64]) {
    partials
        .par_chunks_mut(k * k)
        .zip(g.par_chunks(gram_chunk_rows(k) * k))
        .for_each(|(p, rows)| gram_chunk_best::<K>(p, rows, k));
}

/// `S = GᵀG` (k × k, f64) with per-chunk partial sums reduced in chunk order.
/// `partials` is a workspace of [`gram_partials_len`] values: none when the
/// rows make one chunk, whose partial is then written straight into `out`
/// (the same bits: the reduction would add it to 0, and a partial is never
/// −0, its sums starting from +0).
pub(crate) fn gram(g: &[f32], k: usize, partials: &mut [f64], out: &mut [f64]) {
    let chunks = g.len().div_ceil(gram_chunk_rows(k) * k.max(1));
    if chunks <= 1 {
        dispatch_k!(k, gram_chunk_best(out, g, k));
        return;
    }
    dispatch_k!(k, gram_k(g, k, partials));
    sum_partials(&partials[..chunks * k * k], out);
}

/// `out = Σ` of the `out`-long partials in `partials`, in their order.
pub(crate) fn sum_partials(partials: &[f64], out: &mut [f64]) {
    out.fill(0.0);
    for p in partials.chunks_exact(out.len()) {
        for (o, &v) in out.iter_mut().zip(p) {
            *o += v;
        }
    }
}

/// The workspace [`gram`] needs for `rows × k` factors: a k × k partial per
/// chunk of rows, none for a single chunk (at k = 300 on 1000 and 3000 rows
/// the two sides' partials were 1.4 MB beside 4.8 MB of factors).
pub(crate) fn gram_partials_len(rows: usize, k: usize) -> usize {
    let chunks = rows.div_ceil(gram_chunk_rows(k));
    if chunks <= 1 {
        0
    } else {
        chunks * k * k
    }
}

/// The f32 copy of a (non-negative) Gram that the row rules use, entries
/// below [`GRAM_FLUSH`] flushed to zero.
pub(crate) fn gram_to_f32(s: &[f64], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(s) {
        let v = v as f32;
        *o = if v < GRAM_FLUSH { 0.0 } else { v };
    }
}

/// ⟨A, B⟩ of two equally shaped buffers, f64.
pub(crate) fn inner(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `n ← Σ_j a_j · G[col_j]` for one sparse row (f32), with the accumulators
/// in registers when `K > 0`:
/// independent sets (non-zero `p` goes to set `p mod S`) added at the end,
/// `((0 + 1) + (2 + 3))`, so the additions of consecutive non-zeros do not
/// wait on each other. S = 4 for K ≤ 8, where one set is a register or two
/// and a row's chain of additions is what it waits on; S = 2 above, up to
/// K = 40; S = 1 from K = 48, where a set takes six registers or more (two
/// sets and the row being added spilled out of AVX2's sixteen) and the K/8
/// independent additions of each non-zero keep the adders busy alone: MU on
/// 20 Newsgroups at k = 50 14.5–15.1 ms per iteration instead of 17.0–17.2,
/// at k = 100 43.4–46.4 instead of 47.1–47.5, the same at k = 64 and 80
/// (three interleaved rounds).
#[inline(always)]
pub(crate) fn sparse_row_times_k<const K: usize>(
    cols: &[u32],
    vals: &[f32],
    g: &[f32],
    kk: usize,
    n: &mut [f32],
) {
    sparse_row_times_from::<K>(cols, vals, g, 0, kk, n)
}

/// [`sparse_row_times_k`] where `g` holds G's rows from `first` on (every
/// column of the row is at least `first`).
#[inline(always)]
pub(crate) fn sparse_row_times_from<const K: usize>(
    cols: &[u32],
    vals: &[f32],
    g: &[f32],
    first: usize,
    kk: usize,
    n: &mut [f32],
) {
    if K == 0 {
        n.fill(0.0);
        return accumulate_k(cols, vals, g, first, kk, n);
    }
    let mut acc = [[0f32; K]; 4];
    match acc_sets(K) {
        4 => accumulate::<K, 4>(cols, vals, 0, g, first, &mut acc),
        2 => accumulate::<K, 2>(
            cols,
            vals,
            0,
            g,
            first,
            acc.first_chunk_mut().expect("4 sets"),
        ),
        _ => accumulate::<K, 1>(
            cols,
            vals,
            0,
            g,
            first,
            acc.first_chunk_mut().expect("4 sets"),
        ),
    }
    combine_sets(&acc, n);
}

/// The accumulator sets of [`sparse_row_times_k`] at compile-time k `K`
/// (0: run-time k, one set).
pub(crate) const fn acc_sets(k: usize) -> usize {
    match k {
        0 => 1,
        1..=8 => 4,
        48.. => 1,
        _ => 2,
    }
}

/// Adds the non-zeros `cols`, `vals` of a row, the first of them at
/// position `p0` of the row, times G's rows (`g` holds them from row `first`
/// on) to the row's `S` accumulator sets: the non-zero at position p to set
/// `p mod S`, in position order. The loop of every gathered product: whole
/// rows (p0 = 0), or a row's segment in one column tile (`column_tiles`),
/// whose sums are then the whole row's, bitwise.
#[inline(always)]
pub(crate) fn accumulate<const K: usize, const S: usize>(
    cols: &[u32],
    vals: &[f32],
    p0: usize,
    g: &[f32],
    first: usize,
    acc: &mut [[f32; K]; S],
) {
    let row = |c: u32| -> &[f32; K] {
        let c = c as usize - first;
        g[c * K..c * K + K].try_into().expect("K values")
    };
    // Up to the next position that is a multiple of S, set by set.
    let lead = ((S - p0 % S) % S).min(cols.len());
    for (q, (&c, &v)) in cols[..lead].iter().zip(&vals[..lead]).enumerate() {
        let (set, g0) = (&mut acc[(p0 + q) % S], row(c));
        for t in 0..K {
            set[t] += v * g0[t];
        }
    }
    let mut groups_c = cols[lead..].chunks_exact(S);
    let mut groups_v = vals[lead..].chunks_exact(S);
    for (c, v) in (&mut groups_c).zip(&mut groups_v) {
        let rows: [&[f32; K]; S] = std::array::from_fn(|s| row(c[s]));
        for t in 0..K {
            for s in 0..S {
                acc[s][t] += v[s] * rows[s][t];
            }
        }
    }
    for (s, (&c, &v)) in groups_c
        .remainder()
        .iter()
        .zip(groups_v.remainder())
        .enumerate()
    {
        let g0 = row(c);
        for t in 0..K {
            acc[s][t] += v * g0[t];
        }
    }
}

/// [`accumulate`] at run-time k: one set, `n` (k values).
#[inline(always)]
pub(crate) fn accumulate_k(
    cols: &[u32],
    vals: &[f32],
    g: &[f32],
    first: usize,
    k: usize,
    n: &mut [f32],
) {
    for (&c, &v) in cols.iter().zip(vals) {
        let c = c as usize - first;
        for (o, &x) in n.iter_mut().zip(&g[c * k..c * k + k]) {
            *o += v * x;
        }
    }
}

/// N's row from [`sparse_row_times_k`]'s four sets (unused ones zero):
/// `(0 + 1) + (2 + 3)`.
#[inline(always)]
pub(crate) fn combine_sets<const K: usize>(acc: &[[f32; K]; 4], n: &mut [f32]) {
    for t in 0..K {
        n[t] = (acc[0][t] + acc[1][t]) + (acc[2][t] + acc[3][t]);
    }
}

/// [`row_times_gram`] with register accumulators when `K > 0`.
#[inline(always)]
pub(crate) fn row_times_gram_k<const K: usize>(f: &[f32], s: &[f32], kk: usize, out: &mut [f32]) {
    if K == 0 {
        return row_times_gram(f, s, kk, out);
    }
    // No skipping of zero entries: with k constant the loop is branch-free,
    // and a data-dependent branch per entry mispredicts on sparse factors.
    let mut acc = [0f32; K];
    for (a, &fa) in f.iter().enumerate().take(K) {
        let sa: &[f32; K] = s[a * K..a * K + K].try_into().expect("K values");
        for t in 0..K {
            acc[t] += fa * sa[t];
        }
    }
    out[..K].copy_from_slice(&acc);
}

fn rows_times_small_k<const K: usize>(y: &mut [f32], m: &[f32], k: usize) {
    y.par_chunks_mut(k * 512)
        .for_each(|rows| rows_times_small_chunk_best::<K>(rows, m, k));
}

/// A task's rows of [`rows_times_small`], multiversioned like the kernels:
/// as a closure of the baseline-compiled caller, Y·R⁻¹ on the seed's basis
/// (26,576 × 14) took 0.29–0.44 ms per pass, 0.21–0.28 ms so (fastest of
/// 200, three interleaved rounds, two threads, the Xeon of model 207).
#[inline(always)]
fn rows_times_small_chunk<const K: usize>(rows: &mut [f32], m: &[f32], k: usize) {
    let mut tmp = vec![0f32; k];
    for row in rows.chunks_exact_mut(k) {
        row_times_gram_k::<K>(row, m, k, &mut tmp);
        row.copy_from_slice(&tmp);
    }
}

multiversion!(rows_times_small_chunk_best, rows_times_small_chunk_avx2, rows_times_small_chunk,
    (rows: &mut [f32], m: &[f32], k: usize) -> ());

/// `Y ← Y·M` for a row-major rows × k `y` and a k × k `m`, in place.
pub(crate) fn rows_times_small(y: &mut [f32], m: &[f32], k: usize) {
    dispatch_k!(k, rows_times_small_k(y, m, k))
}

/// `out ← f · S` for one row (S row-major k × k, f32).
#[inline(always)]
pub(crate) fn row_times_gram(f: &[f32], s: &[f32], k: usize, out: &mut [f32]) {
    out.fill(0.0);
    for (a, &fa) in f.iter().enumerate() {
        if fa == 0.0 {
            continue;
        }
        for (o, &sv) in out.iter_mut().zip(&s[a * k..a * k + k]) {
            *o += fa * sv;
        }
    }
}

/// Factor entries below this are flushed to zero.
///
/// They carry no information (the entries that matter are many orders of
/// magnitude larger: a TF-IDF matrix has values above ~1e-4), and keeping
/// them costs dearly: their products with the other factor or with the Gram
/// (whose entries are flushed at [`GRAM_FLUSH`]) would be subnormal floats,
/// which x86 computes about 100 times slower — a MU fit whose one-word
/// documents decay towards zero ran 8× slower per iteration before this —
/// and their reciprocals overflow. With both thresholds every product
/// `factor × Gram` stays ≥ 1e-37 > `f32::MIN_POSITIVE`.
pub(crate) const FLUSH_BELOW: f32 = 1e-18;
/// Gram entries (f32 copies used by the row rules) below this are flushed to zero.
pub(crate) const GRAM_FLUSH: f32 = 1e-19;

/// Values below [`FLUSH_BELOW`] are flushed to zero (see there).
#[inline(always)]
pub(crate) fn flush(v: f32) -> f32 {
    if v < FLUSH_BELOW {
        0.0
    } else {
        v
    }
}

/// `Σ a_t b_t` over the first k entries with eight partial sums (lanes
/// `t mod 8`) added in a fixed tree: vectorizes, and the additions do not
/// wait on each other as a single running sum's would.
#[inline(always)]
pub(crate) fn dot_k<const K: usize>(a: &[f32], b: &[f32], kk: usize) -> f32 {
    let k = if K == 0 { kk } else { K };
    let (a, b) = (&a[..k], &b[..k]);
    let mut acc = [0f32; 8];
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    for (l, (x, y)) in ca.remainder().iter().zip(cb.remainder()).enumerate() {
        acc[l] += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

/// One MU rule on a row: `f ← f ∘ n ⊘ max(f·S + l1 + l2 f, DEN_FLOOR)`,
/// computed so that a zero numerator gives exactly 0 and nothing overflows.
#[inline(always)]
pub(crate) fn mu_row(f: &mut [f32], n: &[f32], fs: &[f32], reg: Reg) {
    for ((x, &num), &den) in f.iter_mut().zip(n).zip(fs) {
        let den = (den + reg.l1 + reg.l2 * *x).max(DEN_FLOOR);
        // x / den ≤ 1 / S_tt in exact arithmetic (den ≥ x·S_tt); the min()
        // catches rounding at the extremes, the select keeps 0 · ∞ out.
        let v = ((*x / den) * num).min(f32::MAX);
        let v = if num > 0.0 { v } else { 0.0 };
        *x = flush(v);
    }
}

/// One HALS (coordinate descent) sweep on a row, as scikit-learn's
/// `_update_cdnmf_fast`: for t in order, `grad = (f·S')_t − n'_t`,
/// `f_t ← max(0, f_t − grad / S'_tt)`; here `S' = S + l2·I` and
/// `n' = n − l1`. Where `S'_tt = 0` (topic t's column of the other factor is
/// zero: a dead topic, and no l2) every `f_t` fits equally well, and `f_t ←
/// 0`: scikit-learn skips the step, so that a dead topic keeps its initial
/// values, on terms that occur in no document too (NNDSVDa's mean fill).
///
/// `f·S` is kept up to date in `r` (S is symmetric: when `f_t` moves by δ,
/// `r += δ·S[t]`), so the sweep is k vectorized row updates instead of k
/// dot products, each a chain of k dependent additions.
#[inline(always)]
pub(crate) fn hals_row_k<const K: usize>(f: &mut [f32], n: &[f32], s: &[f32], kk: usize, reg: Reg) {
    if K == 0 {
        return hals_row(f, n, s, kk, reg);
    }
    hals_rows_k::<K, 1>(f, n, s, reg);
}

/// The sweep of [`hals_row_k`] on `R` rows at once (`f`: R rows × K, `n`
/// likewise), their coordinate updates interleaved: each row's sweep is a
/// chain of dependent steps (a division among them), and independent chains
/// keep the core busy where one waits. A row's operations and their order do
/// not depend on R, so any R gives the results of R = 1 bitwise.
#[inline(always)]
pub(crate) fn hals_rows_k<const K: usize, const R: usize>(
    f: &mut [f32],
    n: &[f32],
    s: &[f32],
    reg: Reg,
) {
    debug_assert!(K > 0 && f.len() == R * K && n.len() == R * K);
    let mut r = [[0f32; K]; R];
    for (q, rq) in r.iter_mut().enumerate() {
        row_times_gram_k::<K>(&f[q * K..q * K + K], s, K, rq);
    }
    for t in 0..K {
        let hess = s[t * K + t] + reg.l2;
        let mut d = [0f32; R];
        if hess == 0.0 {
            // A dead topic: 0 (see `hals_row_k`).
            for q in 0..R {
                d[q] = 0.0 - f[q * K + t];
                f[q * K + t] = 0.0;
            }
        } else {
            for q in 0..R {
                let ft = f[q * K + t];
                let grad = r[q][t] + reg.l2 * ft - (n[q * K + t] - reg.l1);
                let new = flush((ft - grad / hess).max(0.0));
                d[q] = new - ft;
                f[q * K + t] = new;
            }
        }
        let st: &[f32; K] = s[t * K..t * K + K].try_into().expect("K values");
        for (rq, &dq) in r.iter_mut().zip(&d) {
            for b in 0..K {
                rq[b] += dq * st[b];
            }
        }
    }
}

/// [`hals_row_k`] for a run-time k.
#[inline(always)]
pub(crate) fn hals_row(f: &mut [f32], n: &[f32], s: &[f32], k: usize, reg: Reg) {
    let mut small = [0f32; 256];
    let mut heap;
    let r: &mut [f32] = if k <= 256 {
        &mut small[..k]
    } else {
        heap = vec![0f32; k];
        &mut heap[..]
    };
    hals_rows(f, n, s, k, reg, r);
}

/// [`hals_row`] on the rows of `f` (rows × k, `n` likewise) at once, with
/// `r` (at least as long as `f`) as their `f·S`: step t of each row in
/// turn, so that the rows' chains of dependent steps overlap. A row's
/// operations and their order are those of [`hals_row`] alone, and those of
/// the compiled sweep (`hals_rows_k`): every step updates `r`, a zero move
/// too (`r + 0·S` is `r`: it is never −0 and S is finite). Skipping those
/// updates behind a data-dependent branch cost a third of the time:
/// BENCHMARKS.md, "Run-time k: HALS rows interleaved".
#[inline(always)]
fn hals_rows(f: &mut [f32], n: &[f32], s: &[f32], k: usize, reg: Reg, r: &mut [f32]) {
    let r = &mut r[..f.len()];
    for (fq, rq) in f.chunks_exact(k).zip(r.chunks_exact_mut(k)) {
        row_times_gram(fq, s, k, rq);
    }
    for t in 0..k {
        let hess = s[t * k + t] + reg.l2;
        let st = &s[t * k..t * k + k];
        for ((fq, nq), rq) in f
            .chunks_exact_mut(k)
            .zip(n.chunks_exact(k))
            .zip(r.chunks_exact_mut(k))
        {
            let new = if hess == 0.0 {
                // A dead topic: 0 (see `hals_row_k`).
                0.0
            } else {
                let grad = rq[t] + reg.l2 * fq[t] - (nq[t] - reg.l1);
                flush((fq[t] - grad / hess).max(0.0))
            };
            let d = new - fq[t];
            fq[t] = new;
            for (rb, &sv) in rq.iter_mut().zip(st) {
                *rb += d * sv;
            }
        }
    }
}

/// Which row rule a Frobenius half-step applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rule {
    Mu,
    Hals,
}

/// Workspace of one half-step side: its row blocks, per-block partials and,
/// when N is computed elsewhere and then given, `N` (rows × k). A half-step
/// that gathers N from its sparse operand computes each row's N where it
/// applies the rule, and keeps no N: both sides' buffers, as large as the
/// two factors, were 28 MB of a fit's 87 MB on 20 Newsgroups at k = 100
/// (BENCHMARKS.md, "Footprint at large k"). By column tiles it keeps a
/// group of rows' sums, at most 16 MiB and an eighth of the larger factor.
pub(crate) struct Side {
    pub blocks: Blocks,
    /// Column tiles of the sparse operand, for a gathered half-step whose
    /// fixed factor is too large for the cache ([`Side::tiled`]).
    pub tiles: Option<ColumnTiles>,
    /// Empty unless made by [`Side::with_n`] or [`Side::for_rows`].
    pub n: Vec<f32>,
    pub block_sums: Vec<f64>,
    /// Per block, the Gram of its new rows (k² values, f64) from each
    /// half-step ([`update_frob`] without column tiles): empty unless
    /// [`Side::with_grams`] made it.
    pub grams: Vec<f64>,
}

impl Side {
    /// For the rows of `a`, N gathered from `a` (no N kept).
    pub fn new(a: &Csr<'_>, k: usize) -> Self {
        Self::with_blocks(Blocks::new(a, k))
    }

    /// [`Side::new`] with `a`'s column tiles when its G (a.cols × k) is
    /// larger than the cache: the Frobenius and KL half-steps (and KL's
    /// loss) then gather by tiles ([`crate::column_tiles`]), with the same
    /// result, over blocks cut finer for the tiles' groups (`blocks_for`).
    pub fn tiled(a: &Csr<'_>, k: usize) -> Self {
        let mut side = Self::with_blocks(blocks_for(a, k));
        side.tiles = ColumnTiles::plan(a, k, &side.blocks);
        side
    }

    /// For the rows of `a`, with an N of rows × k to be filled elsewhere.
    pub fn with_n(a: &Csr<'_>, k: usize) -> Self {
        Side {
            n: vec![0.0; a.rows * k],
            ..Self::new(a, k)
        }
    }

    /// For `rows` rows whose N is given, not computed from a matrix: blocks
    /// of equal row counts (every row costs the same, O(k²)).
    pub fn for_rows(rows: usize, k: usize) -> Self {
        Side {
            n: vec![0.0; rows * k],
            ..Self::with_blocks(Blocks::uniform(rows, k))
        }
    }

    /// This side with its blocks' Grams formed by each half-step, which
    /// [`Side::gram`] then adds instead of reading the rows again. The blocks'
    /// order of summation depends on the blocks only, never on the thread
    /// count.
    pub fn with_grams(self, k: usize) -> Self {
        assert!(self.tiles.is_none(), "tiled half-steps form no Grams");
        Side {
            grams: vec![0.0; self.blocks.len() * k * k],
            ..self
        }
    }

    /// The Gram `FᵀF` of this side's factor `f` (rows × k) after its last
    /// half-step: the blocks' Grams added in block order when the side keeps
    /// them ([`Side::with_grams`]), else [`gram`] over `f` (`partials` its
    /// workspace).
    pub fn gram(&self, f: &[f32], k: usize, partials: &mut [f64], out: &mut [f64]) {
        if self.grams.is_empty() {
            return gram(f, k, partials, out);
        }
        assert_eq!(self.grams.len(), self.blocks.len() * out.len());
        sum_partials(&self.grams, out);
    }

    fn with_blocks(blocks: Blocks) -> Self {
        Side {
            block_sums: vec![0.0; blocks.len()],
            grams: Vec::new(),
            n: Vec::new(),
            tiles: None,
            blocks,
        }
    }
}

/// Rows per interleaved HALS sweep (see `hals_rows_k`). A row's sweep is a
/// chain of k dependent steps, each some tens of cycles of latency (a
/// division among them); 16 chains at once keep the core busier than 4:
/// HALS on 20 Newsgroups, two threads, 7.0–7.1 → 5.7–5.8 ms per iteration
/// at k = 20, 37–41 → 21–23 ms at k = 50, 98–111 → 66–67 ms at k = 100
/// (BENCHMARKS.md, "HALS sweeps of 16 rows"). Results do not depend on it.
pub(crate) const HALS_ROWS: usize = 16;

/// The rule of [`frob_block`] on the block's rows in groups of `R` (N's
/// rows computed first when `a` is given), adding ⟨F_new, N⟩ of each row to
/// `acc` in row order. Returns the rows done: the block's rows but the last
/// `len mod R`, which the caller passes on with R = 1.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn rule_groups<const K: usize, const R: usize>(
    a: Option<&Csr<'_>>,
    r: &Range<usize>,
    fb: &mut [f32],
    nb: &mut [f32],
    g: &[f32],
    s32: &[f32],
    rule: Rule,
    reg: Reg,
    acc: &mut f64,
) -> usize {
    let mut done = 0;
    let mut local = [[0f32; K]; R];
    while r.len() - done >= R {
        let span = done * K..(done + R) * K;
        let fq = &mut fb[span.clone()];
        let nq: &mut [f32] = match a {
            Some(a) => {
                for (i, nr) in (r.start + done..).zip(local.iter_mut()) {
                    let (cols, vals) = a.row(i);
                    sparse_row_times_k::<K>(cols, vals, g, K, nr);
                }
                local.as_flattened_mut()
            }
            None => &mut nb[span],
        };
        match rule {
            Rule::Hals => hals_rows_k::<K, R>(fq, nq, s32, reg),
            Rule::Mu => mu_rows_k::<K, R>(fq, nq, s32, reg),
        }
        for (fr, nr) in fq.chunks_exact(K).zip(nq.chunks_exact(K)) {
            *acc += dot_k::<K>(fr, nr, K) as f64;
        }
        done += R;
    }
    done
}

/// The MU rule ([`row_times_gram_k`], then [`mu_row`]) on `R` rows at once,
/// their `f·S` sums interleaved: one row's is a chain of k dependent
/// additions per entry, and independent chains keep the core busy. A row's
/// operations and their order do not depend on R (bitwise the R = 1 result).
#[inline(always)]
fn mu_rows_k<const K: usize, const R: usize>(f: &mut [f32], n: &[f32], s: &[f32], reg: Reg) {
    debug_assert!(K > 0 && f.len() == R * K && n.len() == R * K);
    let mut fs = [[0f32; K]; R];
    for a in 0..K {
        let sa: &[f32; K] = s[a * K..a * K + K].try_into().expect("K values");
        for (q, fq) in fs.iter_mut().enumerate() {
            let fa = f[q * K + a];
            for t in 0..K {
                fq[t] += fa * sa[t];
            }
        }
    }
    for (q, fq) in fs.iter().enumerate() {
        mu_row(&mut f[q * K..q * K + K], &n[q * K..q * K + K], fq, reg);
    }
}

/// One block of the Frobenius half-step (see [`update_frob`]): with `a`, N's
/// rows are formed here, a group of rows at a time, and `nb` is not read
/// (it may be empty); with `a` `None` they are given in `nb`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn frob_block<const K: usize>(
    a: Option<&Csr<'_>>,
    r: &Range<usize>,
    fb: &mut [f32],
    nb: &mut [f32],
    g: &[f32],
    s32: &[f32],
    kk: usize,
    rule: Rule,
    reg: Reg,
) -> f64 {
    // N's rows are computed inline, not through a shared closure: a closure
    // does not inherit `frob_block_avx2`'s AVX2 target feature, and with one
    // the MU and HALS half-steps ran 2× slower.
    let mut acc = 0f64;
    if K == 4 && rule == Rule::Mu && a.is_none() {
        // N given: two rows per register where AVX2 runs (the same bits).
        // W's half-step with the panels: MU on the seed 0.113–0.115 →
        // 0.107–0.113 ms per iteration (`topicmill bench`, eight alternated
        // rounds).
        if let Some(dot) = crate::fused4::mu_rows_4(fb, nb, s32, reg) {
            return dot;
        }
    }
    if K > 0 {
        // Groups of R rows with their sweeps interleaved, then the last
        // `len mod R` rows one by one (R = 1: the same operations per row).
        let done = match (K, rule) {
            (_, Rule::Hals) => {
                rule_groups::<K, HALS_ROWS>(a, r, fb, nb, g, s32, rule, reg, &mut acc)
            }
            (1..=8, Rule::Mu) => rule_groups::<K, 4>(a, r, fb, nb, g, s32, rule, reg, &mut acc),
            // From k = 48 one row's f·S sums are six registers or more, and
            // two rows' spilled: all rows go one at a time, below. ng20 MU,
            // three interleaved rounds against two rows: k = 64 20.8–22.8 →
            // 18.9–20.1 ms per iteration, k = 80 32.0–36.1 → 28.4–30.5,
            // k = 50 14.5–15.1 → 13.0–14.3, k = 100 43.4–46.4 → 42.1–43.5.
            (48.., Rule::Mu) => 0,
            (_, Rule::Mu) => rule_groups::<K, 2>(a, r, fb, nb, g, s32, rule, reg, &mut acc),
        };
        let rest = r.start + done..r.end;
        // With `a`, `nb` is empty (N's rows are formed here).
        let nr = nb.get_mut(done * K..).unwrap_or_default();
        let fr = &mut fb[done * K..];
        rule_groups::<K, 1>(a, &rest, fr, nr, g, s32, rule, reg, &mut acc);
        return acc;
    }
    // Run-time k: HALS on groups of HALS_ROWS rows (their sweeps
    // interleaved, as above), MU a row at a time.
    let k = kk;
    let group = match rule {
        Rule::Hals => HALS_ROWS,
        Rule::Mu => 1,
    };
    let mut fs = vec![0f32; k];
    let mut rs = vec![0f32; if rule == Rule::Hals { group * k } else { 0 }];
    let mut own = vec![0f32; if a.is_some() { group * k } else { 0 }];
    let mut done = 0;
    while done < r.len() {
        let rows = group.min(r.len() - done);
        let span = done * k..(done + rows) * k;
        let fq = &mut fb[span.clone()];
        let nq: &mut [f32] = match a {
            Some(a) => {
                let own = &mut own[..rows * k];
                for (i, nr) in (r.start + done..).zip(own.chunks_exact_mut(k)) {
                    let (cols, vals) = a.row(i);
                    sparse_row_times_k::<0>(cols, vals, g, k, nr);
                }
                own
            }
            None => &mut nb[span],
        };
        match rule {
            Rule::Mu => {
                row_times_gram(fq, s32, k, &mut fs);
                mu_row(fq, nq, &fs, reg);
            }
            Rule::Hals => hals_rows(fq, nq, s32, k, reg, &mut rs),
        }
        for (fr, nr) in fq.chunks_exact(k).zip(nq.chunks_exact(k)) {
            acc += dot_k::<0>(fr, nr, k) as f64;
        }
        done += rows;
    }
    acc
}

multiversion!(pub(crate) frob_block_best, frob_block_avx2, frob_block,
    (a: Option<&Csr<'_>>, r: &Range<usize>, fb: &mut [f32], nb: &mut [f32], g: &[f32], s32: &[f32], kk: usize, rule: Rule, reg: Reg) -> f64);

/// Where the Frobenius half-step ([`update_frob`]) takes its N from.
#[derive(Clone, Copy)]
pub(crate) enum NFrom<'a> {
    /// `A·G`, formed by the half-step a few rows at a time (or by column
    /// tiles) and not kept.
    Product(&'a Csr<'a>),
    /// `side.n`, computed elsewhere: scattered, or summed over the ranks of
    /// a distributed fit.
    Given,
    /// The sum of these consecutive N-sized shares (the panels'), each
    /// block of rows adding its own rows of them before its rule runs
    /// ([`sum_shares_span`]: the bits of [`sum_shares`]), with no pass of
    /// its own over N. `side.n` holds N afterwards.
    Shares(&'a [f32]),
}

#[allow(clippy::too_many_arguments)]
fn update_frob_k<const K: usize>(
    from: NFrom<'_>,
    f: &mut [f32],
    g: &[f32],
    s32: &[f32],
    k: usize,
    side: &mut Side,
    rule: Rule,
    reg: Reg,
) -> f64 {
    let a = match from {
        NFrom::Product(a) => Some(a),
        _ => None,
    };
    if let (Some(a), Some(tiles)) = (a, side.tiles.as_mut()) {
        let rule = |r: &Range<usize>, fb: &mut [f32], nb: &mut [f32]| {
            frob_block_best::<K>(None, r, fb, nb, g, s32, k, rule, reg)
        };
        return by_tiles::<K>(tiles, a, g, k, &side.blocks, f, &rule, &mut side.block_sums);
    }
    let len = f.len();
    let fp = RowsPtr::new(f);
    let np = RowsPtr::new(&mut side.n);
    // Each block's Gram, when the side keeps them, or nothing (no list of
    // slices allocated per call).
    let grams = if side.grams.is_empty() {
        Either::Left(side.blocks.ranges.par_iter().map(|_| &mut [][..]))
    } else {
        Either::Right(side.grams.par_chunks_mut(k * k))
    };
    side.block_sums
        .par_iter_mut()
        .zip(side.blocks.ranges.par_iter())
        .zip(grams)
        .for_each(|((sum, r), gram)| {
            // SAFETY: block ranges are disjoint and inside 0..rows, and F
            // has `rows` rows of k, and so does N when no `a` is given
            // (checked by `update_frob`); each task owns its block's rows.
            let fb = unsafe { fp.rows_mut(r, k) };
            let nb: &mut [f32] = match a {
                Some(_) => &mut [],
                // SAFETY: as above.
                None => unsafe { np.rows_mut(r, k) },
            };
            if let NFrom::Shares(shares) = from {
                // The block's rows of N: its rows of the shares' sum.
                sum_shares_span(nb, shares, len, r.start * k..r.end * k);
            }
            *sum = frob_block_best::<K>(a, r, fb, nb, g, s32, k, rule, reg);
            if !gram.is_empty() {
                // The new rows' Gram, while they are in this core's cache.
                gram_chunk_best::<K>(gram, fb, k);
            }
        });
    side.block_sums.iter().sum()
}

/// The Frobenius half-step: N ([`NFrom`]: `A·G`, given in `side.n`, or
/// summed from shares), then the rule on every row of F with the Gram `s32 =
/// GᵀG` (f32 copy). Returns ⟨F_new, N⟩ (f64, fixed order), the term the loss
/// needs.
#[allow(clippy::too_many_arguments)]
pub(crate) fn update_frob(
    from: NFrom<'_>,
    f: &mut [f32],
    g: &[f32],
    s32: &[f32],
    k: usize,
    side: &mut Side,
    rule: Rule,
    reg: Reg,
) -> f64 {
    match from {
        NFrom::Product(a) => assert!(f.len() == a.rows * k && g.len() >= a.cols * k),
        NFrom::Given => assert_eq!(f.len(), side.n.len()),
        NFrom::Shares(shares) => {
            assert_eq!(f.len(), side.n.len());
            assert!(shares.len() >= f.len() && shares.len() % f.len().max(1) == 0);
        }
    }
    assert_eq!(side.blocks.ranges.last().map_or(0, |r| r.end) * k, f.len());
    dispatch_k!(k, update_frob_k(from, f, g, s32, k, side, rule, reg))
}

/// One block of [`spmm`].
#[inline(always)]
fn spmm_block<const K: usize>(a: &Csr<'_>, r: &Range<usize>, nb: &mut [f32], g: &[f32], kk: usize) {
    let k = if K == 0 { kk } else { K };
    for (local, i) in r.clone().enumerate() {
        let (cols, vals) = a.row(i);
        sparse_row_times_k::<K>(cols, vals, g, k, &mut nb[local * k..(local + 1) * k]);
    }
}

multiversion!(spmm_block_best, spmm_block_avx2, spmm_block,
    (a: &Csr<'_>, r: &Range<usize>, nb: &mut [f32], g: &[f32], kk: usize) -> ());

fn spmm_k<const K: usize>(a: &Csr<'_>, g: &[f32], k: usize, blocks: &Blocks, n: &mut [f32]) {
    if larger_than_cache(a.cols, k) {
        return spmm_tiled::<K>(a, g, k, blocks, n);
    }
    let np = RowsPtr::new(n);
    blocks.ranges.par_iter().for_each(|r| {
        // SAFETY: disjoint block ranges inside 0..a.rows; N has a.rows rows of k.
        let nb = unsafe { np.rows_mut(r, k) };
        spmm_block_best::<K>(a, r, nb, g, k);
    });
}

/// `N = A·G` alone (the SVD's products, the benchmarks), by column tiles
/// when G is larger than the cache (the same bits).
pub(crate) fn spmm(a: &Csr<'_>, g: &[f32], k: usize, blocks: &Blocks, n: &mut [f32]) {
    dispatch_k!(k, spmm_k(a, g, k, blocks, n))
}

/// ⟨F, A·G⟩ (F rows × k, as A's rows), without keeping A·G: each row of
/// the product is formed and used at once, or by `tiles` when given (a
/// group's rows at once); f64 sums per block of `blocks` (into `sums`, one
/// per block), added in block order. The loss's cross term before the first
/// half-step.
#[allow(clippy::too_many_arguments)]
pub(crate) fn cross_spmm(
    a: &Csr<'_>,
    g: &[f32],
    f: &[f32],
    k: usize,
    blocks: &Blocks,
    tiles: Option<&mut ColumnTiles>,
    sums: &mut [f64],
) -> f64 {
    assert!(f.len() == a.rows * k && g.len() >= a.cols * k && sums.len() == blocks.len());
    if let Some(tiles) = tiles {
        // Each block's rows of F against its N, in row order: cross_block's sum.
        let cross = |r: &Range<usize>, _: &mut [f32], nb: &mut [f32]| {
            crate::steps::cross(&f[r.start * k..r.end * k], nb)
        };
        return dispatch_k!(k, by_tiles(tiles, a, g, k, blocks, &mut [], &cross, sums));
    }
    sums.par_iter_mut()
        .zip(blocks.ranges.par_iter())
        .for_each(|(sum, r)| {
            let fb = &f[r.start * k..r.end * k];
            *sum = dispatch_k!(k, cross_block_best(a, r, g, fb, k));
        });
    sums.iter().sum()
}

/// One block of [`cross_spmm`]: `fb` holds the block's rows of F.
#[inline(always)]
fn cross_block<const K: usize>(
    a: &Csr<'_>,
    r: &Range<usize>,
    g: &[f32],
    fb: &[f32],
    kk: usize,
) -> f64 {
    let k = if K == 0 { kk } else { K };
    let mut own = [0f32; K];
    let mut heap = vec![0f32; if K == 0 { k } else { 0 }];
    let nr: &mut [f32] = if K == 0 { &mut heap } else { &mut own };
    let mut sum = 0f64;
    for (fr, i) in fb.chunks_exact(k).zip(r.clone()) {
        let (cols, vals) = a.row(i);
        sparse_row_times_k::<K>(cols, vals, g, k, nr);
        for (&x, &y) in fr.iter().zip(nr.iter()) {
            sum += x as f64 * y as f64;
        }
    }
    sum
}

multiversion!(cross_block_best, cross_block_avx2, cross_block,
    (a: &Csr<'_>, r: &Range<usize>, g: &[f32], fb: &[f32], kk: usize) -> f64);

/// The transposed product `N = Aᵀ·F` (A sparse rows × cols, F rows × k, N
/// cols × k) computed by scattering A's rows: `N[c] += a_ic · F[i]`.
///
/// The gather form (`spmm` over the rows of Aᵀ) pays a loop set-up, a
/// mispredicted loop exit and a store per row of Aᵀ; when those rows are
/// short (the seed matrix's terms average 5 documents, two in five only
/// one) that overhead is most of the product, and scattering A's long rows
/// costs less than half (0.12 against 0.28 ms on one thread, seed, k = 4).
///
/// Rows of A are split into [`SCATTER_LANES`] fixed ranges, balanced by
/// non-zeros; each lane scatters into its own cols × k buffer (lane 0 into
/// N), and the lanes are then added in lane order. Neither the split nor the
/// order depends on the thread count.
pub(crate) struct Scatter {
    lanes: Vec<Range<usize>>,
    extra: Vec<f32>,
}

/// Lanes of [`Scatter`]: at most two threads scatter at once, for one more
/// cols × k buffer.
pub(crate) const SCATTER_LANES: usize = 2;

impl Scatter {
    /// A plan for `Aᵀ·F` at rank k, or `None` when the gather form over
    /// `at` suits better: rows of Aᵀ of 8 non-zeros or more on average, or
    /// a lane buffer larger than half of A's indices and values.
    pub fn plan(a: &Csr<'_>, at: &Csr<'_>, k: usize) -> Option<Self> {
        let nnz = a.nnz();
        let extra = (SCATTER_LANES - 1) * a.cols * k;
        if at.rows == 0 || nnz >= 8 * at.rows || extra * 4 > nnz * 8 / 2 {
            return None;
        }
        Some(Scatter {
            lanes: balanced_ranges(&a.indptr[..=a.rows], SCATTER_LANES),
            extra: vec![0.0; extra],
        })
    }

    /// `n = Aᵀ·f` (n is cols × k, f rows × k).
    pub fn run(&mut self, a: &Csr<'_>, f: &[f32], k: usize, n: &mut [f32]) {
        assert!(f.len() == a.rows * k && n.len() == a.cols * k);
        dispatch_k!(k, scatter_k(a, f, k, &self.lanes, n, &mut self.extra))
    }
}

/// One lane of [`Scatter`]: `n = Σ_{i in rows} a_ic · F[i]` into `n`.
#[inline(always)]
fn scatter_lane<const K: usize>(
    a: &Csr<'_>,
    rows: &Range<usize>,
    f: &[f32],
    kk: usize,
    n: &mut [f32],
) {
    let k = if K == 0 { kk } else { K };
    n.fill(0.0);
    for i in rows.clone() {
        let (cols, vals) = a.row(i);
        let fr = &f[i * k..(i + 1) * k];
        if K > 0 {
            let fr: &[f32; K] = fr.try_into().expect("K values");
            for (&c, &v) in cols.iter().zip(vals) {
                let o: &mut [f32; K] = (&mut n[c as usize * K..c as usize * K + K])
                    .try_into()
                    .expect("K values");
                for t in 0..K {
                    o[t] += v * fr[t];
                }
            }
        } else {
            for (&c, &v) in cols.iter().zip(vals) {
                for (o, &x) in n[c as usize * k..c as usize * k + k].iter_mut().zip(fr) {
                    *o += v * x;
                }
            }
        }
    }
}

multiversion!(scatter_lane_best, scatter_lane_avx2, scatter_lane,
    (a: &Csr<'_>, rows: &Range<usize>, f: &[f32], kk: usize, n: &mut [f32]) -> ());

fn scatter_k<const K: usize>(
    a: &Csr<'_>,
    f: &[f32],
    k: usize,
    lanes: &[Range<usize>],
    n: &mut [f32],
    extra: &mut [f32],
) {
    let len = n.len();
    let mut outs: Vec<&mut [f32]> = Vec::with_capacity(lanes.len());
    outs.push(&mut *n);
    outs.extend(extra.chunks_exact_mut(len.max(1)));
    outs.par_iter_mut()
        .zip(lanes.par_iter())
        .for_each(|(out, rows)| scatter_lane_best::<K>(a, rows, f, k, out));
    let (first, rest) = outs.split_first_mut().expect("one lane at least");
    let rest: Vec<&[f32]> = rest.iter().map(|lane| &**lane).collect();
    add_in_order(first, &rest);
}

/// Elements per task of [`add_in_order`] and [`sum_shares`].
const SUM_CHUNK: usize = 1 << 14;

/// `out += p` for each part in turn, element by element (`((out + p₀) + p₁)
/// + …`); every part as long as `out`.
#[inline]
fn add_parts<'a>(out: &mut [f32], parts: impl IntoIterator<Item = &'a [f32]>) {
    for part in parts {
        for (x, &v) in out.iter_mut().zip(part) {
            *x += v;
        }
    }
}

/// `out += Σ parts`, element by element in part order (`((out + p₀) + p₁)
/// + …`), in parallel over chunks: the sum does not depend on the thread
/// count. Every part is as long as `out`.
pub(crate) fn add_in_order(out: &mut [f32], parts: &[&[f32]]) {
    out.par_chunks_mut(SUM_CHUNK)
        .enumerate()
        .for_each(|(c, o)| {
            let span = c * SUM_CHUNK..c * SUM_CHUNK + o.len();
            add_parts(o, parts.iter().map(|p| &p[span.clone()]));
        });
}

/// Elements `span` of the sum of the consecutive `len`-long `shares`, into
/// `out` (as long as `span`), added in share order (`((s₀ + s₁) + s₂) + …`):
/// the bits [`sum_shares`] gives them, whatever the spans a caller splits
/// the sum into.
pub(crate) fn sum_shares_span(out: &mut [f32], shares: &[f32], len: usize, span: Range<usize>) {
    let mut parts = shares.chunks_exact(len.max(1)).map(|s| &s[span.clone()]);
    if let Some(first) = parts.next() {
        out.copy_from_slice(first);
        add_parts(out, parts);
    }
}

/// `out = shares[0] + shares[1] + …` over consecutive shares as long as
/// `out`, added in share order, in parallel over chunks
/// ([`sum_shares_span`]).
pub(crate) fn sum_shares(out: &mut [f32], shares: &[f32]) {
    let len = out.len();
    out.par_chunks_mut(SUM_CHUNK)
        .enumerate()
        .for_each(|(c, o)| {
            let span = c * SUM_CHUNK..c * SUM_CHUNK + o.len();
            sum_shares_span(o, shares, len, span);
        });
}

/// Column sums of a rows × k factor, f64, fixed order.
pub(crate) fn col_sums(g: &[f32], k: usize) -> Vec<f64> {
    let mut out = vec![0f64; k];
    for row in g.chunks_exact(k) {
        for (o, &v) in out.iter_mut().zip(row) {
            *o += v as f64;
        }
    }
    out
}

/// One block of the KL-MU half-step (see [`update_kl`]).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn kl_block<const K: usize>(
    a: &Csr<'_>,
    r: &Range<usize>,
    fb: &mut [f32],
    g: &[f32],
    gsum: &[f32],
    kk: usize,
    reg: Reg,
) {
    let k = if K == 0 { kk } else { K };
    // A row's numerator, used by its rule at once (no N is kept).
    let mut own = [0f32; K];
    let mut heap = vec![0f32; if K == 0 { k } else { 0 }];
    let nr: &mut [f32] = if K == 0 { &mut heap } else { &mut own };
    for (fr, i) in fb.chunks_exact_mut(k).zip(r.clone()) {
        let (cols, vals) = a.row(i);
        kl_row_numerator::<K>(cols, vals, fr, g, k, nr);
        mu_row(fr, nr, gsum, reg);
    }
}

/// `n ← Σ_j (a_j / max(f·g_j, KL_EPS)) · g_j` over one sparse row: the KL-MU
/// numerator, WH evaluated at the row's non-zeros only.
#[inline(always)]
pub(crate) fn kl_row_numerator<const K: usize>(
    cols: &[u32],
    vals: &[f32],
    f: &[f32],
    g: &[f32],
    kk: usize,
    n: &mut [f32],
) {
    let k = if K == 0 { kk } else { K };
    n[..k].fill(0.0);
    kl_add_segment::<K>(cols, vals, f, g, kk, n);
}

/// Adds `Σ_j (a_j / max(f·g_j, KL_EPS)) · g_j` over `cols`, `vals` (a row,
/// or its segment in one column tile) to `n`, in position order: a row's
/// numerator is the same sum, bitwise, whether its non-zeros come at once
/// or segment by segment (`column_tiles`).
///
/// At run-time k the non-zeros go four at a time: their four dot products
/// are independent chains, then each entry of `n` adds the four terms in
/// position order, the same operations in the same order as one at a time.
/// The KL rows of the W-only solve, which revisit a row's cached rows of G
/// up to 500 times and wait on those chains, ran about 30 % faster:
/// `topicmill bench ng20 -k K --solvers kl --iters 2 --repeat 1 --no-limit
/// --init random --final-w-iters 200`, `fit_seconds`, three interleaved
/// rounds, k = 50 1.49–1.55 → 1.08–1.11 s, k = 100 2.76–2.82 → 1.97–2.02 s.
/// The compiled loops (k ≤ `KL_COMPILED_MAX`) keep one at a time: four at
/// once made KL at k = 20 slower (10.8–13.3 → 13.5–17.8 ms per iteration).
#[inline(always)]
pub(crate) fn kl_add_segment<const K: usize>(
    cols: &[u32],
    vals: &[f32],
    f: &[f32],
    g: &[f32],
    kk: usize,
    n: &mut [f32],
) {
    if K == 0 {
        let k = kk;
        let row = |c: u32| &g[c as usize * k..c as usize * k + k];
        let mut cp = cols.chunks_exact(4);
        let mut vp = vals.chunks_exact(4);
        for (c, v) in (&mut cp).zip(&mut vp) {
            let (g0, g1, g2, g3) = (row(c[0]), row(c[1]), row(c[2]), row(c[3]));
            let r0 = v[0] / dot_k::<0>(f, g0, k).max(KL_EPS);
            let r1 = v[1] / dot_k::<0>(f, g1, k).max(KL_EPS);
            let r2 = v[2] / dot_k::<0>(f, g2, k).max(KL_EPS);
            let r3 = v[3] / dot_k::<0>(f, g3, k).max(KL_EPS);
            for ((((o, &y0), &y1), &y2), &y3) in n.iter_mut().zip(g0).zip(g1).zip(g2).zip(g3) {
                *o += r0 * y0;
                *o += r1 * y1;
                *o += r2 * y2;
                *o += r3 * y3;
            }
        }
        for (&c, &v) in cp.remainder().iter().zip(vp.remainder()) {
            let gr = row(c);
            let ratio = v / dot_k::<0>(f, gr, k).max(KL_EPS);
            for (o, &y) in n.iter_mut().zip(gr) {
                *o += ratio * y;
            }
        }
        return;
    }
    let f: &[f32; K] = f[..K].try_into().expect("K values");
    let mut acc: [f32; K] = n[..K].try_into().expect("K values");
    for (&c, &v) in cols.iter().zip(vals) {
        let gr: &[f32; K] = g[c as usize * K..c as usize * K + K]
            .try_into()
            .expect("K values");
        let ratio = v / dot_k::<K>(f, gr, K).max(KL_EPS);
        for t in 0..K {
            acc[t] += ratio * gr[t];
        }
    }
    n[..K].copy_from_slice(&acc);
}

multiversion!(kl_block_best, kl_block_avx2, kl_block,
    (a: &Csr<'_>, r: &Range<usize>, fb: &mut [f32], g: &[f32], gsum: &[f32], kk: usize, reg: Reg) -> ());

/// The KL rule on a block's rows, their numerators `nb` formed (`mu_row`
/// with the column sums `gsum` of G).
#[inline(always)]
fn kl_rule_block<const K: usize>(fb: &mut [f32], nb: &[f32], gsum: &[f32], kk: usize, reg: Reg) {
    let k = if K == 0 { kk } else { K };
    for (fr, nr) in fb.chunks_exact_mut(k).zip(nb.chunks_exact(k)) {
        mu_row(fr, nr, gsum, reg);
    }
}

multiversion!(kl_rule_block_best, kl_rule_block_avx2, kl_rule_block,
    (fb: &mut [f32], nb: &[f32], gsum: &[f32], kk: usize, reg: Reg) -> ());

fn update_kl_k<const K: usize>(
    a: &Csr<'_>,
    f: &mut [f32],
    g: &[f32],
    gsum: &[f32],
    k: usize,
    side: &mut Side,
    reg: Reg,
) {
    if let Some(tiles) = side.tiles.as_mut() {
        let rule = |_: &Range<usize>, fb: &mut [f32], nb: &mut [f32]| {
            kl_rule_block_best::<K>(fb, nb, gsum, k, reg);
            0.0
        };
        kl_by_tiles::<K>(tiles, a, g, k, &side.blocks, f, &rule, &mut side.block_sums);
        return;
    }
    let fp = RowsPtr::new(f);
    side.blocks.ranges.par_iter().for_each(|r| {
        // SAFETY: disjoint block ranges inside 0..a.rows; F has a.rows rows
        // of k (checked by `update_kl`).
        let fb = unsafe { fp.rows_mut(r, k) };
        kl_block_best::<K>(a, r, fb, g, gsum, k, reg);
    });
}

/// The KL-MU half-step: `N = (A ⊘ FGᵀ)·G` evaluated at A's non-zeros only
/// (with `FGᵀ` floored at `KL_EPS`), then `F ← F ∘ N ⊘ (colsum(G) + l1 + l2 F)`.
/// Memory: one row of N per task, used by the row's rule at once; neither N
/// nor the ratios are stored. By the column tiles of `side` when it has
/// them (G larger than the cache): a group of rows' numerators carried from
/// tile to tile, the same bits.
pub(crate) fn update_kl(
    a: &Csr<'_>,
    f: &mut [f32],
    g: &[f32],
    gsum: &[f32],
    k: usize,
    side: &mut Side,
    reg: Reg,
) {
    assert!(f.len() == a.rows * k && g.len() >= a.cols * k && gsum.len() == k);
    assert_eq!(side.blocks.ranges.last().map_or(0, |r| r.end), a.rows);
    if k > KL_COMPILED_MAX {
        return update_kl_k::<0>(a, f, g, gsum, k, side, reg);
    }
    dispatch_k!(k, update_kl_k(a, f, g, gsum, k, side, reg))
}

/// The largest k whose KL loops run compiled for it; above, the run-time-k
/// loops, which give the same bits and are faster there (the compiled ones
/// keep f and the numerator as arrays of k, 2k/8 registers' worth, which
/// presumably spill; the machine has no counters to show it).
/// KL-MU on 20 Newsgroups (`topicmill bench ng20 -k K --solvers kl --iters
/// 10 --repeat 2 --no-limit`, two rounds, ms per iteration, compiled
/// against run-time): k = 16 8.7–9.2 / 9.6–11.1, k = 20 11.3–13.1 /
/// 16.5–16.7, k = 32 17.4–18.5 / 16.1–16.3, k = 64 40.7–41.4 / 26.5–27.7,
/// k = 100 61.3–65.8 / 41.8–44.8.
pub(crate) const KL_COMPILED_MAX: usize = 20;

/// Adds `x log(x / max(w·h, KL_EPS))` over a row's non-zeros `cols`,
/// `vals` (the row, or its segment in one column tile), `wr` its row of W,
/// to `r` in position order (f64): a row's sum is the same, bitwise, at once
/// or segment by segment.
#[inline(always)]
pub(crate) fn kl_add_terms(
    cols: &[u32],
    vals: &[f32],
    wr: &[f32],
    ht: &[f32],
    k: usize,
    r: &mut f64,
) {
    for (&c, &v) in cols.iter().zip(vals) {
        let hr = &ht[c as usize * k..c as usize * k + k];
        let wh = dot_k::<0>(wr, hr, k);
        if v > KL_EPS {
            let wh = wh.max(KL_EPS) as f64;
            *r += v as f64 * (v as f64 / wh).ln();
        }
    }
}

/// One block of [`kl_loss`]: its rows' sums added in row order. (`K` is
/// unused: `multiversion!` wraps functions generic in it.)
#[inline(always)]
fn kl_loss_block<const K: usize>(
    x: &Csr<'_>,
    r: &Range<usize>,
    w: &[f32],
    ht: &[f32],
    kk: usize,
) -> f64 {
    let mut acc = 0f64;
    for i in r.clone() {
        let (cols, vals) = x.row(i);
        let mut row = 0f64;
        kl_add_terms(cols, vals, &w[i * kk..(i + 1) * kk], ht, kk, &mut row);
        acc += row;
    }
    acc
}

multiversion!(kl_loss_block_best, kl_loss_block_avx2, kl_loss_block,
    (x: &Csr<'_>, r: &Range<usize>, w: &[f32], ht: &[f32], kk: usize) -> f64);

/// Generalized KL divergence `Σ_nz x log(x / wh) − Σ x + Σ WH` without
/// forming WH: `Σ WH = colsum(W) · colsum(Hᵀ)`. Per row an f64 sum in
/// position order, per block the rows' sums in row order (into `partials`),
/// the blocks' in block order; by `tiles` when given (Hᵀ larger than the
/// cache: the same sums, bitwise).
pub(crate) fn kl_loss(
    x: &Csr<'_>,
    w: &[f32],
    ht: &[f32],
    k: usize,
    blocks: &Blocks,
    tiles: Option<&mut ColumnTiles>,
    partials: &mut [f64],
) -> f64 {
    match tiles {
        Some(tiles) => kl_loss_by_tiles(tiles, x, w, ht, k, blocks, partials),
        None => partials
            .par_iter_mut()
            .zip(blocks.ranges.par_iter())
            .for_each(|(p, r)| *p = kl_loss_block_best::<0>(x, r, w, ht, k)),
    }
    let xlogx: f64 = partials.iter().sum();
    let sw = col_sums(w, k);
    let sh = col_sums(ht, k);
    let sum_wh: f64 = sw.iter().zip(&sh).map(|(a, b)| a * b).sum();
    (xlogx - x.sum() + sum_wh).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// W's half-step from the panels' shares, each block summing its rows,
    /// gives the bits of the shares summed first (`sum_shares`) and the
    /// half-step on that N: the new rows, N and ⟨F_new, N⟩, over blocks of
    /// X's rows, MU and HALS, one thread or three. Its blocks' Grams
    /// ([`Side::with_grams`]) are those of the new rows, block by block,
    /// added in block order, whatever the thread count.
    #[test]
    fn the_half_step_from_shares_equals_the_shares_summed_first() {
        let (rows, cols, k) = (3000, 700, 4);
        let m = crate::testing::sparse(rows, cols, 0.02, 11);
        let mv = m.view();
        let a = Csr::from_view(&mv);
        let mut next = crate::testing::xorshift(0xC0FFEE);
        let mut values = |len: usize| (0..len).map(|_| next()).collect::<Vec<f32>>();
        let (f, g, shares) = (values(rows * k), values(cols * k), values(3 * rows * k));
        let s32 = crate::testing::GRAM_4;
        let reg = Reg { l1: 0.0, l2: 0.0 };
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for rule in [Rule::Mu, Rule::Hals] {
            let mut side = Side::with_n(&a, k);
            assert!(side.blocks.len() > 1, "several blocks");
            sum_shares(&mut side.n, &shares);
            let mut want = f.clone();
            let want_dot = update_frob(NFrom::Given, &mut want, &g, &s32, k, &mut side, rule, reg);
            let want_n = side.n.clone();
            for threads in [1, 3] {
                let (got, got_dot, got_n, got_gram) = crate::testing::pool(threads).install(|| {
                    let mut side = Side::with_n(&a, k).with_grams(k);
                    let mut got = f.clone();
                    let from = NFrom::Shares(&shares);
                    let dot = update_frob(from, &mut got, &g, &s32, k, &mut side, rule, reg);
                    let mut gram = vec![f64::NAN; k * k];
                    side.gram(&got, k, &mut [], &mut gram);
                    (got, dot, side.n, gram)
                });
                let mut want_gram = vec![0f64; k * k];
                for r in &side.blocks.ranges {
                    let mut p = vec![f64::NAN; k * k];
                    gram_chunk_loops::<0>(&mut p, &got[r.start * k..r.end * k], k);
                    want_gram.iter_mut().zip(&p).for_each(|(s, v)| *s += v);
                }
                assert_eq!(
                    got_gram.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    want_gram.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "{rule:?}, {threads} threads: the Gram"
                );
                assert_eq!(bits(&got), bits(&want), "{rule:?}, {threads} threads: F");
                assert_eq!(
                    bits(&got_n),
                    bits(&want_n),
                    "{rule:?}, {threads} threads: N"
                );
                assert_eq!(got_dot.to_bits(), want_dot.to_bits(), "{rule:?}: the dot");
            }
            assert!(want != f, "{rule:?}: the rule ran");
        }
    }

    /// The MU rule on rows whose N is given, two rows per AVX2 register
    /// (`fused4::mu_rows_4`, which `frob_block` runs at k = 4 where AVX2
    /// does), gives the bits of the plain loops (groups of four rows, then
    /// one at a time): the new rows and ⟨F_new, N⟩. Odd and even row counts,
    /// zeros, numerators ≤ 0, values near the flush threshold and magnitudes
    /// far apart, with and without regularization.
    #[test]
    fn the_fused_k4_mu_rule_equals_the_plain_loops_bitwise() {
        if !crate::fused4::runs_here() {
            return;
        }
        let s32 = crate::testing::GRAM_4;
        let mut next = crate::testing::xorshift(0xF00D);
        let mut values = |len: usize, signed: bool| -> Vec<f32> {
            (0..len)
                .map(|_| match next() {
                    u if u < 0.1 => 0.0,
                    u if u < 0.15 => FLUSH_BELOW * (1.0 + 4.0 * next()),
                    u if signed && u < 0.2 => -next(),
                    _ => next() * (-30.0 * next()).exp2(),
                })
                .collect()
        };
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for rows in (0..=9).chain([1001]) {
            let (f, mut n) = (values(rows * 4, false), values(rows * 4, true));
            for reg in [Reg { l1: 0.0, l2: 0.0 }, Reg { l1: 0.01, l2: 0.05 }] {
                let mut want = f.clone();
                let mut want_dot = 0f64;
                let r = 0..rows;
                let done = rule_groups::<4, 4>(
                    None,
                    &r,
                    &mut want,
                    &mut n,
                    &[],
                    &s32,
                    Rule::Mu,
                    reg,
                    &mut want_dot,
                );
                let rest = done..rows;
                let (fr, nr) = (&mut want[done * 4..], &mut n[done * 4..]);
                rule_groups::<4, 1>(None, &rest, fr, nr, &[], &s32, Rule::Mu, reg, &mut want_dot);
                let mut got = f.clone();
                let got_dot = crate::fused4::mu_rows_4(&mut got, &n, &s32, reg).expect("AVX2");
                assert_eq!(bits(&got), bits(&want), "{rows} rows: F");
                assert_eq!(got_dot.to_bits(), want_dot.to_bits(), "{rows} rows: dot");
                assert!(rows < 2 || want != f, "{rows} rows: the rule ran");
            }
        }
    }

    #[test]
    fn scatter_matches_the_gather_and_not_the_thread_count() {
        let (rows, cols) = (400, 1000);
        let m = crate::testing::sparse(rows, cols, 0.015, 7);
        let mv = m.view();
        let a = Csr::from_view(&mv);
        let mt = m.transpose_view().to_csr();
        let tv = mt.view();
        let at = Csr::from_view(&tv);
        // k = 20: a lane buffer would outweigh the matrix; the gather runs.
        assert!(Scatter::plan(&a, &at, 20).is_none());
        for k in [3, 4] {
            let f: Vec<f32> = (0..rows * k)
                .map(|i| ((i * 7919) % 1000) as f32 * 1e-3)
                .collect();
            let mut gathered = vec![0f32; cols * k];
            spmm(&at, &f, k, &Blocks::new(&at, k), &mut gathered);
            let mut plan = Scatter::plan(&a, &at, k).expect("short rows of Aᵀ: scatter");
            let mut by_threads = Vec::new();
            for threads in [1, 3] {
                let pool = crate::testing::pool(threads);
                let mut n = vec![0f32; cols * k];
                pool.install(|| plan.run(&a, &f, k, &mut n));
                by_threads.push(n.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
                for (x, y) in n.iter().zip(&gathered) {
                    assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "{x} against {y}");
                }
            }
            assert_eq!(by_threads[0], by_threads[1], "k = {k}");
        }
    }

    #[test]
    fn gram_of_one_chunk_needs_no_workspace_and_many_sum_in_chunk_order() {
        for k in [3, 4, 20, 33] {
            let chunk = gram_chunk_rows(k);
            for rows in [0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk + 5] {
                let mut next = crate::testing::xorshift((k * 131 + rows) as u64);
                let g: Vec<f32> = (0..rows * k).map(|_| next()).collect();
                let mut partials = vec![f64::NAN; gram_partials_len(rows, k)];
                assert_eq!(partials.is_empty(), rows <= chunk, "k {k}, rows {rows}");
                let mut got = vec![f64::NAN; k * k];
                gram(&g, k, &mut partials, &mut got);
                // The plain loops chunk by chunk, the partials added to 0 in
                // chunk order.
                let mut want = vec![0f64; k * k];
                let mut part = vec![0f64; k * k];
                for c in g.chunks(chunk * k) {
                    gram_chunk_loops::<0>(&mut part, c, k);
                    for (w, &p) in want.iter_mut().zip(&part) {
                        *w += p;
                    }
                }
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&want), "k {k}, rows {rows}");
            }
        }
    }

    /// Inputs of the row-rule tests, from the pseudo-random sequence of
    /// `seed`: S = GᵀG (k × k, symmetric, positive diagonal, from 30 rows
    /// of G), then for no regularization and for some, `rows` rows of F
    /// (every seventh entry 0, so that the max(0, ·) clamp and the flush are
    /// exercised too) and of N.
    #[allow(clippy::type_complexity)]
    fn rule_inputs(k: usize, rows: usize, seed: u64) -> (Vec<f32>, Vec<(Reg, Vec<f32>, Vec<f32>)>) {
        let mut next = crate::testing::xorshift(seed);
        let g: Vec<f32> = (0..k * 30).map(|_| next()).collect();
        let mut s = vec![0f32; k * k];
        for row in g.chunks_exact(k) {
            for a in 0..k {
                for b in 0..k {
                    s[a * k + b] += row[a] * row[b];
                }
            }
        }
        let cases = [Reg { l1: 0.0, l2: 0.0 }, Reg { l1: 0.05, l2: 0.3 }]
            .into_iter()
            .map(|reg| {
                let f: Vec<f32> = (0..rows * k)
                    .map(|i| if i % 7 == 0 { 0.0 } else { next() })
                    .collect();
                let n: Vec<f32> = (0..rows * k).map(|_| 4.0 * next()).collect();
                (reg, f, n)
            })
            .collect();
        (s, cases)
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// The MU rule on R rows at once gives each row the bits it gets alone.
    #[test]
    fn mu_rows_at_once_equal_one_at_a_time_bitwise() {
        fn check<const K: usize, const R: usize>() {
            let (s, cases) = rule_inputs(K, R, 0x2545_f491_4f6c_dd1du64 + K as u64);
            for (reg, f, n) in cases {
                let mut together = f.clone();
                mu_rows_k::<K, R>(&mut together, &n, &s, reg);
                let mut alone = f.clone();
                for (fr, nr) in alone.chunks_exact_mut(K).zip(n.chunks_exact(K)) {
                    mu_rows_k::<K, 1>(fr, nr, &s, reg);
                }
                assert_ne!(together, f, "K {K}: the rule moved something");
                assert_eq!(bits(&together), bits(&alone), "K {K}, R {R}");
            }
        }
        check::<4, 4>();
        check::<20, 2>();
        check::<50, 2>();
        check::<100, 2>();
    }

    /// The product's loops (four accumulator sets, two, one, run-time k) at
    /// every compiled k and a few others, against a naive f64 product.
    #[test]
    fn spmm_matches_a_naive_product_at_every_k() {
        let (rows, cols) = (37, 90);
        let m = crate::testing::sparse(rows, cols, 0.1, 3);
        let mv = m.view();
        let a = Csr::from_view(&mv);
        for k in COMPILED_K.iter().copied().chain([1, 7, 41, 120]) {
            let mut next = crate::testing::xorshift(k as u64 + 1);
            let g: Vec<f32> = (0..cols * k).map(|_| next()).collect();
            let mut n = vec![f32::NAN; rows * k];
            spmm(&a, &g, k, &Blocks::new(&a, k), &mut n);
            for i in 0..rows {
                let (cs, vs) = a.row(i);
                for t in 0..k {
                    let want: f64 = cs
                        .iter()
                        .zip(vs)
                        .map(|(&c, &v)| v as f64 * g[c as usize * k + t] as f64)
                        .sum();
                    let got = n[i * k + t] as f64;
                    assert!(
                        (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
                        "k {k}, row {i}, column {t}: {got} against {want}"
                    );
                }
            }
        }
    }

    /// Which of the two KL loops runs above `KL_COMPILED_MAX` changes no bit.
    #[test]
    fn kl_numerators_of_compiled_and_run_time_k_are_equal_bitwise() {
        fn check<const K: usize>() {
            let mut next = crate::testing::xorshift(0x9e37_79b9_7f4a_7c15u64);
            let g: Vec<f32> = (0..40 * K).map(|_| next()).collect();
            let f: Vec<f32> = (0..K)
                .map(|t| if t % 5 == 0 { 0.0 } else { next() })
                .collect();
            let all: Vec<u32> = (0..40).filter(|c| c % 3 != 1).collect();
            let vals: Vec<f32> = all.iter().map(|_| next()).collect();
            // The run-time loop takes non-zeros four at a time: rows with
            // every remainder, and none.
            for len in [0, 1, 2, 3, 4, 5, 6, 7, all.len()] {
                let (cols, vals) = (&all[..len], &vals[..len]);
                let (mut a, mut b) = (vec![f32::NAN; K], vec![f32::NAN; K]);
                kl_row_numerator::<K>(cols, vals, &f, &g, K, &mut a);
                kl_row_numerator::<0>(cols, vals, &f, &g, K, &mut b);
                assert_eq!(bits(&a), bits(&b), "k {K}, {len} non-zeros");
            }
        }
        check::<4>();
        check::<20>();
        check::<30>();
        check::<64>();
        check::<100>();
    }

    #[test]
    fn compiled_k_are_the_dispatched_ones_and_padding_reaches_them() {
        fn compiled<const K: usize>() -> bool {
            K != 0
        }
        for k in 1..=220 {
            assert_eq!(dispatch_k!(k, compiled()), COMPILED_K.contains(&k), "k {k}");
            let kp = padded_k(k);
            assert!(kp == k || (kp > k && dispatch_k!(kp, compiled())), "k {k}");
        }
        let padded: Vec<usize> = [
            1, 6, 20, 21, 31, 34, 35, 44, 56, 69, 70, 87, 88, 101, 111, 112, 131, 132, 151,
        ]
        .map(padded_k)
        .into();
        assert_eq!(
            padded,
            [2, 8, 20, 30, 32, 34, 40, 50, 64, 69, 80, 87, 100, 110, 111, 128, 131, 132, 151]
        );
        let v: Vec<f32> = (1..=6).map(|x| x as f32).collect();
        let padded = pad_columns(&v, 3, 5);
        assert_eq!(padded, [1.0, 2.0, 3.0, 0.0, 0.0, 4.0, 5.0, 6.0, 0.0, 0.0]);
        assert_eq!(unpad_columns(&padded, 5, 3), v);
        // In place: the same, from any width to any larger one and back.
        let v: Vec<f32> = (1..=60).map(|x| x as f32).collect();
        for (k, kp) in [(3, 5), (5, 5), (1, 7), (4, 8), (6, 13)] {
            let v = &v[..v.len() / k * k];
            let padded = pad_columns_in_place(v.to_vec(), k, kp);
            assert_eq!(padded, pad_columns(v, k, kp), "{k} → {kp}");
            assert_eq!(unpad_columns_in_place(padded, kp, k), v, "{kp} → {k}");
        }
    }

    #[test]
    fn interleaved_hals_rows_equal_one_row_at_a_time_bitwise() {
        const K: usize = 20;
        let (s, cases) = rule_inputs(K, HALS_ROWS, 0x2545_f491_4f6c_dd1du64);
        for (reg, f, n) in cases {
            let mut together = f.clone();
            hals_rows_k::<K, HALS_ROWS>(&mut together, &n, &s, reg);
            let mut alone = f.clone();
            for (fr, nr) in alone.chunks_exact_mut(K).zip(n.chunks_exact(K)) {
                hals_row_k::<K>(fr, nr, &s, K, reg);
            }
            assert_ne!(together, f, "the sweep moved something");
            assert_eq!(bits(&together), bits(&alone));
            // The run-time-k sweep, on all the rows at once and on one.
            let mut run_time = f.clone();
            let mut r = vec![f32::NAN; HALS_ROWS * K];
            hals_rows(&mut run_time, &n, &s, K, reg, &mut r);
            assert_eq!(bits(&run_time), bits(&together), "run-time k");
            let mut one = f[..K].to_vec();
            hals_row(&mut one, &n[..K], &s, K, reg);
            assert_eq!(bits(&one), bits(&together[..K]), "run-time k, one row");
        }
    }
}
