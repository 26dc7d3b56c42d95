//! k = 4 (the seed's rank) by AVX2 intrinsics: a whole panel's MU
//! half-step ([`crate::panels`]) in one pass, the MU rule on rows whose N is
//! given (W's half-step with the panels), and the Gram of a run of rows.
//!
//! At k = 4 a row is half a register. The panel's pass takes its terms eight
//! at a time (a chunk), two per 256-bit register: N_H's rows are summed from
//! W's rows slot by slot, the rule runs on them with its constants held in
//! registers, the new rows of Hᵀ are stored and, still in registers, their
//! products are added to the panel's share of `X·Hᵀ`. N_H never goes to
//! memory, and no row or term costs a branch of its own. On the seed problem
//! this replaced the scatter of N_H over X's row segments, the rule and Gram
//! over the panel's rows, and the gather of the share by X's row segments
//! (BENCHMARKS.md, "Terms side by side"): MU 185–196 → 140–146 µs per
//! iteration (`topicmill bench` on the seed, k = 4, two threads), 127–131
//! with Hᵀ's rows in the chunks' order.
//!
//! The operations and their order are the generic path's
//! (`panels::panel_chunks`): per term its non-zeros in order, `acc + v·w`;
//! per row the rule of `kernel::mu_rows_k` and `kernel::mu_row`; per
//! non-zero of the share `s + v·h`, in the same order. Both give the same
//! bits (tested in `panels`), and results do not depend on which one a
//! machine runs. The rule's products are f32 products, rounded: no FMA there.
//! (The loss's ⟨Hᵀ_new, N_H⟩ is not formed here: the panel's task takes it
//! from the share, `panels::share_dot`.)
//!
//! The Gram (`gram_4`) runs by quads of rows, `(r0 + r1) + (r2 + r3)` added
//! to the partial, then the rows left over one at a time, as
//! `kernel::gram_chunk_loops` does. It forms the 10 distinct entries only,
//! from three products of a row with itself rotated by 0, 1 and 2 places (an
//! entry's mirror holds the same products: the same bits), where four
//! products of the row with each of its entries broadcast had formed all 16:
//! on the seed problem, MU went from 0.131–0.143 to 0.121–0.131 ms per
//! iteration (`topicmill bench`, k = 4, two threads, ten alternated rounds,
//! Intel Xeon family 6 model 167). Its products go through fused multiply-adds
//! (`r0 + r1` as `fma(x1, w1, x0·w0)`, a leftover row as `fma(x, w, g)`)
//! without changing a bit: its entries are f32 values widened to f64, so
//! every product is exact in f64 and rounding it first, as a separate
//! multiply does, changes nothing. That saves a quarter of the Gram's
//! floating-point operations, the ports this loop waits on.

use crate::panels::{Chunks, HStep};
use crate::params::Reg;

/// The Gram of `rows` (rows × 4) into `p` (16 values, overwritten), as
/// `kernel::gram_chunk` computes it. `false`, with nothing done, where AVX2
/// or FMA is missing.
pub(crate) fn gram_4(p: &mut [f64], rows: &[f32]) -> bool {
    assert!(rows.len() % 4 == 0 && p.len() == 16);
    #[cfg(target_arch = "x86_64")]
    if runs_here() {
        // SAFETY: AVX2 and FMA are present, and the lengths are checked above.
        unsafe { avx2::gram(p, rows) };
        return true;
    }
    false
}

/// One panel's MU half-step at k = 4 (see [`crate::panels`]), chunk by
/// chunk: N_H of the chunk's 8 terms summed from W's rows (`step.w`, n × 4),
/// two terms per register; the MU rule (`step.s32` the 4 × 4 f32 Gram WᵀW,
/// `step.reg` Hᵀ's regularization) on their rows of Hᵀ (`ht`: the panel's
/// rows, in the chunks' order); the new rows' products added to `share`
/// (n × 4), the panel's share of `X·Hᵀ`. The operations and their order are
/// those of `panels::panel_chunks` (see the module's documentation): the
/// same bits. `false`, with nothing done, where AVX2 or FMA is missing.
pub(crate) fn mu_panel_4(
    chunks: &Chunks,
    ht: &mut [f32],
    step: &HStep<'_>,
    share: &mut [f32],
) -> bool {
    // The chunks' documents lie below `chunks.docs_below` (`Chunks::new`),
    // their offsets are for k = 4: every row of W and of the share they
    // name is in bounds.
    assert!(chunks.k == 4 && step.w.len() == 4 * chunks.docs_below);
    assert!(share.len() == step.w.len());
    assert!(step.s32.len() == 16 && ht.len() == 4 * chunks.terms());
    #[cfg(target_arch = "x86_64")]
    if runs_here() {
        // SAFETY: AVX2 and FMA are present, and the lengths are checked above.
        unsafe { avx2::mu_panel(chunks, ht, step, share) };
        return true;
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ht; // the AVX2 path's only
    false
}

/// The MU rule on the rows `f` (rows × 4) with numerators `n`, the 4 × 4
/// f32 Gram `s32` and regularization `reg`, two rows per register; returns
/// ⟨F_new, N⟩ summed over the rows in order, each row's as `kernel::dot_k`
/// forms it: `kernel::frob_block`'s operations on a block whose N is given,
/// and its bits (tested there). `None`, with nothing done, where AVX2 or FMA
/// is missing.
pub(crate) fn mu_rows_4(f: &mut [f32], n: &[f32], s32: &[f32], reg: Reg) -> Option<f64> {
    assert!(f.len() % 4 == 0 && n.len() == f.len() && s32.len() == 16);
    #[cfg(target_arch = "x86_64")]
    if runs_here() {
        // SAFETY: AVX2 and FMA are present, and the lengths are checked above.
        return Some(unsafe { avx2::mu_rows(f, n, s32, reg) });
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (f, n, reg);
    None
}

/// Whether this CPU has AVX2 and FMA (checked once).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) fn runs_here() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static BOTH: OnceLock<bool> = OnceLock::new();
        *BOTH
            .get_or_init(|| crate::kernel::has_avx2() && std::arch::is_x86_feature_detected!("fma"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::Reg;
    use crate::kernel::{DEN_FLOOR, FLUSH_BELOW};
    use crate::panels::{Chunks, HStep, LANES};

    /// The rule's constants, each repeated in both 128-bit halves.
    struct Consts {
        /// Row a of the Gram S.
        s: [__m256; 4],
        l1: __m256,
        l2: __m256,
        floor: __m256,
        max: __m256,
        flush: __m256,
        zero: __m256,
    }

    impl Consts {
        /// # Safety
        /// `s` holds 16 values.
        #[target_feature(enable = "avx2")]
        unsafe fn new(s: &[f32], reg: Reg) -> Self {
            let row = |a: usize| {
                // SAFETY: a < 4 and s holds 16 values.
                let r = unsafe { _mm_loadu_ps(s.as_ptr().add(4 * a)) };
                _mm256_set_m128(r, r)
            };
            Consts {
                s: [row(0), row(1), row(2), row(3)],
                l1: _mm256_set1_ps(reg.l1),
                l2: _mm256_set1_ps(reg.l2),
                floor: _mm256_set1_ps(DEN_FLOOR),
                max: _mm256_set1_ps(f32::MAX),
                flush: _mm256_set1_ps(FLUSH_BELOW),
                zero: _mm256_setzero_ps(),
            }
        }
    }

    /// The MU rule on two rows `x` (one per half) with numerators `num`:
    /// the new rows.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn rule_pair(x: __m256, num: __m256, c: &Consts) -> __m256 {
        // f·S, added to 0 over a = 0..4 in order; entry a of each row is
        // broadcast within its half.
        let term = |fa: __m256, a: usize| _mm256_mul_ps(fa, c.s[a]);
        let mut fs = _mm256_add_ps(c.zero, term(_mm256_permute_ps::<0x00>(x), 0));
        fs = _mm256_add_ps(fs, term(_mm256_permute_ps::<0x55>(x), 1));
        fs = _mm256_add_ps(fs, term(_mm256_permute_ps::<0xAA>(x), 2));
        fs = _mm256_add_ps(fs, term(_mm256_permute_ps::<0xFF>(x), 3));
        // max(fs + l1 + l2·x, floor): `max_ps` returns its second operand on
        // NaN, as f32::max returns the number.
        let den = _mm256_add_ps(_mm256_add_ps(fs, c.l1), _mm256_mul_ps(c.l2, x));
        let den = _mm256_max_ps(den, c.floor);
        // min(x / den · num, MAX) (NaN → MAX, as f32::min), 0 where the
        // numerator is not > 0, then flushed below FLUSH_BELOW.
        let v = _mm256_min_ps(_mm256_mul_ps(_mm256_div_ps(x, den), num), c.max);
        let v = _mm256_and_ps(v, _mm256_cmp_ps::<_CMP_GT_OQ>(num, c.zero));
        _mm256_and_ps(v, _mm256_cmp_ps::<_CMP_NLT_UQ>(v, c.flush))
    }

    /// A row's entries rotated by one and by two places: lane i holds entry
    /// i + 1, or i + 2 (mod 4).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn rotations(w: __m256d) -> (__m256d, __m256d) {
        (
            _mm256_permute4x64_pd::<0b00_11_10_01>(w),
            _mm256_permute4x64_pd::<0b01_00_11_10>(w),
        )
    }

    /// Adds the Gram of four rows `w` to the partial `g` (see [`gram`]):
    /// lane i of `g[j]` gets `(w0[i]·w0[i+j] + w1[i]·w1[i+j]) +
    /// (w2[i]·w2[i+j] + w3[i]·w3[i+j])`, indices mod 4 (each sum of two exact
    /// products as one multiply and one FMA: the same bits).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn gram_quad(g: &mut [__m256d; 3], w: &[__m256d; 4]) {
        let rot = [
            rotations(w[0]),
            rotations(w[1]),
            rotations(w[2]),
            rotations(w[3]),
        ];
        let pair = |j: usize, r0: usize, r1: usize| {
            let f = |r: usize| match j {
                0 => w[r],
                1 => rot[r].0,
                _ => rot[r].1,
            };
            _mm256_fmadd_pd(w[r1], f(r1), _mm256_mul_pd(w[r0], f(r0)))
        };
        for (j, gj) in g.iter_mut().enumerate() {
            *gj = _mm256_add_pd(*gj, _mm256_add_pd(pair(j, 0, 1), pair(j, 2, 3)));
        }
    }

    /// Adds the Gram of one row `w` to the partial `g` (an FMA on an exact
    /// product: the bits of a multiply and an add).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn gram_row(g: &mut [__m256d; 3], w: __m256d) {
        let (r1, r2) = rotations(w);
        g[0] = _mm256_fmadd_pd(w, w, g[0]);
        g[1] = _mm256_fmadd_pd(w, r1, g[1]);
        g[2] = _mm256_fmadd_pd(w, r2, g[2]);
    }

    /// Writes the partial `g` to `out` (16 values): entry (a, b) is lane a
    /// of `g[b − a mod 4]`, and entry (a, a + 3) that of (a + 3, a), lane
    /// a + 3 of `g[1]` (the same products, in the same order: the same bits).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn store_gram(g: &[__m256d; 3], out: &mut [f64]) {
        assert_eq!(out.len(), 16);
        let mut lanes = [[0f64; 4]; 3];
        for (l, gj) in lanes.iter_mut().zip(g) {
            // SAFETY: l holds 4 values.
            unsafe { _mm256_storeu_pd(l.as_mut_ptr(), *gj) };
        }
        for a in 0..4 {
            for b in 0..4 {
                out[4 * a + b] = match (b + 4 - a) % 4 {
                    3 => lanes[1][b],
                    j => lanes[j][a],
                };
            }
        }
    }

    /// See [`super::mu_panel_4`].
    ///
    /// # Safety
    /// AVX2 and FMA are present; as `super::mu_panel_4` requires and checks.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn mu_panel(
        chunks: &Chunks,
        ht: &mut [f32],
        step: &HStep<'_>,
        share: &mut [f32],
    ) {
        const _: () = assert!(LANES == 8);
        // SAFETY: s32 holds 16 values.
        let c = unsafe { Consts::new(step.s32, step.reg) };
        // Lanes 2p and 2p + 1 of a slot's values, each repeated in its half.
        let pairs = [
            _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1),
            _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3),
            _mm256_setr_epi32(4, 4, 4, 4, 5, 5, 5, 5),
            _mm256_setr_epi32(6, 6, 6, 6, 7, 7, 7, 7),
        ];
        let (wp, sp) = (step.w.as_ptr(), share.as_mut_ptr());
        for ci in 0..chunks.len() {
            let (terms, offsets, vals) = chunks.chunk(ci);
            let count = terms.len();
            // N_H: per slot, lane t's value times W's row of its document.
            let mut num = [_mm256_setzero_ps(); 4];
            for (ds, vs) in offsets.chunks_exact(LANES).zip(vals.chunks_exact(LANES)) {
                // SAFETY: vs holds 8 values; each offset is that of a row of
                // W (a document below `docs_below`, checked by the caller).
                unsafe {
                    let v8 = _mm256_loadu_ps(vs.as_ptr());
                    for (p, n) in num.iter_mut().enumerate() {
                        let w0 = _mm_loadu_ps(wp.add(ds[2 * p] as usize));
                        let w1 = _mm_loadu_ps(wp.add(ds[2 * p + 1] as usize));
                        let v = _mm256_permutevar8x32_ps(v8, pairs[p]);
                        *n = _mm256_add_ps(*n, _mm256_mul_ps(v, _mm256_set_m128(w1, w0)));
                    }
                }
            }
            // The rule on the chunk's rows (zeros for lanes without a term:
            // they stay zero), stored back.
            let rows = &mut ht[4 * LANES * ci..(4 * LANES * ci + 4 * count)];
            let new = if count == LANES {
                // SAFETY: rows holds 8 rows of 4 values.
                unsafe { rule_rows8(rows.as_mut_ptr(), &num, &c) }
            } else {
                // The last chunk: through a copy padded with zeros.
                let mut padded = [0f32; 4 * LANES];
                padded[..rows.len()].copy_from_slice(rows);
                // SAFETY: padded holds 8 rows of 4 values.
                let new = unsafe { rule_rows8(padded.as_mut_ptr(), &num, &c) };
                rows.copy_from_slice(&padded[..rows.len()]);
                new
            };
            // The new rows' products into the share, slot by slot, lane by
            // lane (lanes past `count` hold zeros, their values too).
            let h = [
                _mm256_castps256_ps128(new[0]),
                _mm256_extractf128_ps::<1>(new[0]),
                _mm256_castps256_ps128(new[1]),
                _mm256_extractf128_ps::<1>(new[1]),
                _mm256_castps256_ps128(new[2]),
                _mm256_extractf128_ps::<1>(new[2]),
                _mm256_castps256_ps128(new[3]),
                _mm256_extractf128_ps::<1>(new[3]),
            ];
            for (ds, vs) in offsets.chunks_exact(LANES).zip(vals.chunks_exact(LANES)) {
                for t in 0..LANES {
                    // SAFETY: each document is below `docs_below`, a row of
                    // the share (checked by the caller).
                    unsafe {
                        let o = sp.add(ds[t] as usize);
                        let v = _mm_broadcast_ss(&vs[t]);
                        _mm_storeu_ps(o, _mm_add_ps(_mm_loadu_ps(o), _mm_mul_ps(v, h[t])));
                    }
                }
            }
        }
    }

    /// The rule on the 8 rows at `rows` (32 values) with numerators `num`
    /// (two rows per register), stored back: the new rows.
    ///
    /// # Safety
    /// `rows` points to 32 values, readable and writable.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn rule_rows8(rows: *mut f32, num: &[__m256; 4], c: &Consts) -> [__m256; 4] {
        let mut new = [_mm256_setzero_ps(); 4];
        for (p, (n, v)) in num.iter().zip(new.iter_mut()).enumerate() {
            // SAFETY: p < 4, and rows holds 32 values (the caller's promise).
            unsafe {
                *v = rule_pair(_mm256_loadu_ps(rows.add(8 * p)), *n, c);
                _mm256_storeu_ps(rows.add(8 * p), *v);
            }
        }
        new
    }

    /// The rule on the two rows at `f` with numerators at `n`, stored back:
    /// each row's ⟨new, num⟩ ([`dots_pair`]).
    ///
    /// # Safety
    /// `f` points to 8 values, readable and writable, `n` to 8 readable.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn rule_two(f: *mut f32, n: *const f32, c: &Consts) -> [f32; 2] {
        // SAFETY: as the caller promises.
        unsafe {
            let num = _mm256_loadu_ps(n);
            let new = rule_pair(_mm256_loadu_ps(f), num, c);
            _mm256_storeu_ps(f, new);
            dots_pair(new, num)
        }
    }

    /// Each half's ⟨new, num⟩ as `kernel::dot_k` forms it, `(p0 + p1) + (p2
    /// + p3)`.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn dots_pair(new: __m256, num: __m256) -> [f32; 2] {
        let p = _mm256_mul_ps(new, num);
        let t = _mm256_add_ps(p, _mm256_movehdup_ps(p));
        let u = _mm256_add_ps(t, _mm256_permute_ps::<0x02>(t));
        [
            _mm_cvtss_f32(_mm256_castps256_ps128(u)),
            _mm_cvtss_f32(_mm256_extractf128_ps::<1>(u)),
        ]
    }

    /// See [`super::mu_rows_4`].
    ///
    /// # Safety
    /// AVX2 and FMA are present; `f` and `n` of the same length, a multiple
    /// of 4; `s32` 16 values.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn mu_rows(f: &mut [f32], n: &[f32], s32: &[f32], reg: Reg) -> f64 {
        // SAFETY: s32 holds 16 values.
        let c = unsafe { Consts::new(s32, reg) };
        let mut dot = 0f64;
        let mut fp = f.chunks_exact_mut(8);
        let mut np = n.chunks_exact(8);
        for (fq, nq) in (&mut fp).zip(&mut np) {
            // SAFETY: fq and nq hold 8 values.
            let [d0, d1] = unsafe { rule_two(fq.as_mut_ptr(), nq.as_ptr(), &c) };
            dot += d0 as f64;
            dot += d1 as f64;
        }
        let (fr, nr) = (fp.into_remainder(), np.remainder());
        if !fr.is_empty() {
            // The last row, with a zero row beside it (its numerators not > 0:
            // it stays zero).
            let (mut x8, mut n8) = ([0f32; 8], [0f32; 8]);
            x8[..4].copy_from_slice(fr);
            n8[..4].copy_from_slice(nr);
            // SAFETY: x8 and n8 hold 8 values.
            let [d0, _] = unsafe { rule_two(x8.as_mut_ptr(), n8.as_ptr(), &c) };
            fr.copy_from_slice(&x8[..4]);
            dot += d0 as f64;
        }
        dot
    }

    /// See [`super::gram_4`].
    ///
    /// # Safety
    /// `rows.len()` a multiple of 4; `p` 16 long.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn gram(p: &mut [f64], rows: &[f32]) {
        let load = |r: &[f32]| {
            // SAFETY: callers pass 4 values.
            _mm256_cvtps_pd(unsafe { _mm_loadu_ps(r.as_ptr()) })
        };
        let mut g = [_mm256_setzero_pd(); 3];
        let mut quads = rows.chunks_exact(16);
        for q in &mut quads {
            let w = [
                load(&q[..4]),
                load(&q[4..8]),
                load(&q[8..12]),
                load(&q[12..]),
            ];
            gram_quad(&mut g, &w);
        }
        for r in quads.remainder().chunks_exact(4) {
            gram_row(&mut g, load(r));
        }
        store_gram(&g, p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::gram_chunk_loops;

    #[test]
    fn the_gram_equals_the_plain_loops_bitwise() {
        if !runs_here() {
            return;
        }
        let mut next = crate::testing::xorshift(0x9E37_79B9_7F4A_7C15);
        for rows in (0..=9).chain([1000, 1003]) {
            // Zeros, values near the flush threshold and ordinary ones.
            let f: Vec<f32> = (0..rows * 4)
                .map(|_| match next() {
                    u if u < 0.1 => 0.0,
                    u if u < 0.15 => crate::kernel::FLUSH_BELOW * (1.0 + 4.0 * next()),
                    _ => next() * 0.3,
                })
                .collect();
            let bits64 = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            let mut gc = vec![f64::NAN; 16];
            assert!(gram_4(&mut gc, &f));
            let mut gd = vec![f64::NAN; 16];
            gram_chunk_loops::<4>(&mut gd, &f, 4);
            assert_eq!(bits64(&gc), bits64(&gd), "rows {rows}");
        }
    }
}
