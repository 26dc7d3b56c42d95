//! k = 4 (the seed's rank) by AVX2 intrinsics: the MU rule on a run of rows
//! with the Gram of the new rows and ⟨F_new, N⟩ in the same pass, and the
//! Gram alone.
//!
//! At k = 4 a row is half a register, and the generic loops
//! ([`frob_block`](crate::kernel) then [`gram_chunk`](crate::kernel)) ran at
//! about 13 cycles per row each on the seed's 13,288-row panels: the rule one
//! row per 128-bit register with its constants spilled, the Gram with its 4 × 4
//! partial in memory, each quad of rows waiting on the previous one's stores.
//! Here the rule runs on two rows per 256-bit register and the new rows go
//! straight into the Gram's registers. Throwaway timing, one thread, one
//! panel: rule and Gram 93 → 64 µs. The seed's whole fit (`examples/real
//! seed 5`, five interleaved rounds): 75–82 → 67–71 ms on two threads, 129 →
//! 117 ms on one; `topicmill bench seed4`: MU 0.305–0.310 → 0.253–0.260 ms
//! per iteration, HALS (the Gram alone) 0.522–0.530 → 0.478–0.488 ms.
//!
//! The operations and their order are the generic path's — per row the rule
//! of `kernel::mu_rows_k` and `kernel::mu_row`, its dot product as
//! `kernel::dot_k` (`(p0 + p1) + (p2 + p3)`), added to the sum in row order;
//! the Gram by quads of rows, `(r0 + r1) + (r2 + r3)` added to the partial,
//! then the rows left over one at a time — so both give the same bits (tested
//! below), and results do not depend on which one a machine runs.
//!
//! The Gram's products go through fused multiply-adds (`r0 + r1` as
//! `fma(x1, w1, x0·w0)`, a leftover row as `fma(x, w, g)`) without changing a
//! bit: its entries are f32 values widened to f64, so every product is exact
//! in f64 and rounding it first, as a separate multiply does, changes
//! nothing. That saves a quarter of the Gram's floating-point operations,
//! the ports this loop waits on: the rule and Gram of a seed panel 60 / 51 →
//! 54 / 48 µs (throwaway timers, three rounds); the whole seed fit
//! (`examples/real seed 3`, interleaved) 84.7–91.6 → 80.0–85.2 ms on one
//! thread, 52.2–56.1 → 49.0–55.1 ms on two. The rule's own products are f32
//! products, rounded: no FMA there.

use crate::params::Reg;

/// The MU rule on every row of `f` (rows × 4, with `n` its numerators and
/// `s` the 4 × 4 f32 Gram of the other factor), the Gram of the new rows into
/// `gram` (16 values, overwritten), ⟨F_new, N⟩ returned. `None`, with
/// nothing done, where AVX2 or FMA is missing.
pub(crate) fn mu_gram_4(
    f: &mut [f32],
    n: &[f32],
    s: &[f32],
    reg: Reg,
    gram: &mut [f64],
) -> Option<f64> {
    assert!(f.len() == n.len() && f.len() % 4 == 0 && s.len() == 16 && gram.len() == 16);
    #[cfg(target_arch = "x86_64")]
    if runs_here() {
        // SAFETY: AVX2 and FMA are present, and the lengths are checked above.
        return Some(unsafe { avx2::mu_gram(f, n, s, reg, gram) });
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = reg; // the AVX2 path's only
    None
}

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

    use crate::kernel::{DEN_FLOOR, FLUSH_BELOW};
    use crate::params::Reg;

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
    /// the new rows, and each row's ⟨new, num⟩.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn rule_pair(x: __m256, num: __m256, c: &Consts) -> (__m256, [f32; 2]) {
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
        let v = _mm256_and_ps(v, _mm256_cmp_ps::<_CMP_NLT_UQ>(v, c.flush));
        // Per half, (p0 + p1) + (p2 + p3) into its lane 0.
        let p = _mm256_mul_ps(v, num);
        let t = _mm256_add_ps(p, _mm256_movehdup_ps(p));
        let u = _mm256_add_ps(t, _mm256_permute_ps::<0x02>(t));
        let dots = [
            _mm_cvtss_f32(_mm256_castps256_ps128(u)),
            _mm_cvtss_f32(_mm256_extractf128_ps::<1>(u)),
        ];
        (v, dots)
    }

    /// The two rows of `v` in f64.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn widen(v: __m256) -> [__m256d; 2] {
        [
            _mm256_cvtps_pd(_mm256_castps256_ps128(v)),
            _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(v)),
        ]
    }

    /// Adds the Gram of four rows `w` to the partial `g`: row a of it gets
    /// `(w0[a]·w0 + w1[a]·w1) + (w2[a]·w2 + w3[a]·w3)` (each sum of two
    /// exact products as one multiply and one FMA: the same bits).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn gram_quad(g: &mut [__m256d; 4], w: &[__m256d; 4]) {
        // The rows through memory: a broadcast from memory is a load, from a
        // register a shuffle, and the shuffle unit is the busier one.
        let mut wq = [0f64; 16];
        for (r, wr) in w.iter().enumerate() {
            // SAFETY: wq holds 16 values.
            unsafe { _mm256_storeu_pd(wq.as_mut_ptr().add(4 * r), *wr) };
        }
        for (a, ga) in g.iter_mut().enumerate() {
            let x = |r: usize| _mm256_set1_pd(wq[4 * r + a]);
            let t01 = _mm256_fmadd_pd(x(1), w[1], _mm256_mul_pd(x(0), w[0]));
            let t23 = _mm256_fmadd_pd(x(3), w[3], _mm256_mul_pd(x(2), w[2]));
            *ga = _mm256_add_pd(*ga, _mm256_add_pd(t01, t23));
        }
    }

    /// Adds the Gram of one row `w` to the partial `g` (an FMA on an exact
    /// product: the bits of a multiply and an add).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn gram_row(g: &mut [__m256d; 4], w: __m256d) {
        let mut wr = [0f64; 4];
        // SAFETY: wr holds 4 values.
        unsafe { _mm256_storeu_pd(wr.as_mut_ptr(), w) };
        for (ga, &x) in g.iter_mut().zip(&wr) {
            *ga = _mm256_fmadd_pd(_mm256_set1_pd(x), w, *ga);
        }
    }

    /// Writes the partial `g` to `out` (16 values).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn store_gram(g: &[__m256d; 4], out: &mut [f64]) {
        assert_eq!(out.len(), 16);
        for (a, ga) in g.iter().enumerate() {
            // SAFETY: out holds 16 values.
            unsafe { _mm256_storeu_pd(out.as_mut_ptr().add(4 * a), *ga) };
        }
    }

    /// See [`super::mu_gram_4`].
    ///
    /// # Safety
    /// `f.len() == n.len()`, a multiple of 4; `s` and `gram` 16 long.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn mu_gram(
        f: &mut [f32],
        n: &[f32],
        s: &[f32],
        reg: Reg,
        gram: &mut [f64],
    ) -> f64 {
        // SAFETY: s holds 16 values.
        let c = unsafe { Consts::new(s, reg) };
        let mut g = [_mm256_setzero_pd(); 4];
        let mut dot = 0f64;
        let mut fq = f.chunks_exact_mut(16);
        let mut nq = n.chunks_exact(16);
        for (fq, nq) in (&mut fq).zip(&mut nq) {
            let mut w = [_mm256_setzero_pd(); 4];
            for pair in 0..2 {
                // SAFETY: fq and nq hold 16 values.
                let (x, num) = unsafe {
                    (
                        _mm256_loadu_ps(fq.as_ptr().add(8 * pair)),
                        _mm256_loadu_ps(nq.as_ptr().add(8 * pair)),
                    )
                };
                let (v, dots) = rule_pair(x, num, &c);
                // SAFETY: as above.
                unsafe { _mm256_storeu_ps(fq.as_mut_ptr().add(8 * pair), v) };
                dot += dots[0] as f64;
                dot += dots[1] as f64;
                [w[2 * pair], w[2 * pair + 1]] = widen(v);
            }
            gram_quad(&mut g, &w);
        }
        // The last rows (fewer than 4): the rule on a zero-padded copy (a
        // row of zeros stays zero and is not used), the Gram row by row.
        let (fr, nr) = (fq.into_remainder(), nq.remainder());
        if !fr.is_empty() {
            let (mut xs, mut ns) = ([0f32; 16], [0f32; 16]);
            xs[..fr.len()].copy_from_slice(fr);
            ns[..nr.len()].copy_from_slice(nr);
            let rows = fr.len() / 4;
            for pair in 0..rows.div_ceil(2) {
                let at = 8 * pair;
                // SAFETY: xs and ns hold 16 values.
                let (x, num) = unsafe {
                    (
                        _mm256_loadu_ps(xs.as_ptr().add(at)),
                        _mm256_loadu_ps(ns.as_ptr().add(at)),
                    )
                };
                let (v, dots) = rule_pair(x, num, &c);
                // SAFETY: as above.
                unsafe { _mm256_storeu_ps(xs.as_mut_ptr().add(at), v) };
                let wide = widen(v);
                for half in 0..2.min(rows - 2 * pair) {
                    dot += dots[half] as f64;
                    gram_row(&mut g, wide[half]);
                }
            }
            fr.copy_from_slice(&xs[..fr.len()]);
        }
        store_gram(&g, gram);
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
        let mut g = [_mm256_setzero_pd(); 4];
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
    use crate::kernel::{frob_block, gram_chunk_loops, Rule, FLUSH_BELOW};

    /// Rows with zeros, values near the flush threshold and ordinary ones;
    /// numerators with zeros.
    fn sample(rows: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
        let mut next = crate::testing::xorshift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut value = |zero_below: f32| {
            let u = next();
            if u < zero_below {
                0.0
            } else if u < zero_below + 0.05 {
                FLUSH_BELOW * (1.0 + 4.0 * next())
            } else {
                next() * 0.3
            }
        };
        let f = (0..rows * 4).map(|_| value(0.1)).collect();
        let n = (0..rows * 4).map(|_| value(0.2)).collect();
        (f, n)
    }

    #[test]
    fn the_fused_rule_and_gram_equal_the_plain_loops_bitwise() {
        if !runs_here() {
            return;
        }
        let s = [
            0.9, 0.1, 0.0, 0.2, 0.1, 0.5, 0.3, 0.0, 0.0, 0.3, 0.7, 0.1, 0.2, 0.0, 0.1, 0.4,
        ];
        let regs = [Reg { l1: 0.0, l2: 0.0 }, Reg { l1: 0.01, l2: 0.05 }];
        for rows in (0..=9).chain([1000, 1003]) {
            for (seed, &reg) in regs.iter().enumerate() {
                let (f, n) = sample(rows, rows as u64 * 7 + seed as u64);
                let (mut fa, mut na) = (f.clone(), n.clone());
                let mut ga = vec![f64::NAN; 16];
                let dot_a = frob_block::<4>(
                    None,
                    &(0..rows),
                    &mut fa,
                    &mut na,
                    &[],
                    &s,
                    4,
                    Rule::Mu,
                    reg,
                );
                gram_chunk_loops::<4>(&mut ga, &fa, 4);
                let mut fb = f.clone();
                let mut gb = vec![f64::NAN; 16];
                let dot_b = mu_gram_4(&mut fb, &n, &s, reg, &mut gb).expect("AVX2");
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                let bits64 = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&fa), bits(&fb), "rows {rows}: factor");
                assert_eq!(dot_a.to_bits(), dot_b.to_bits(), "rows {rows}: dot");
                assert_eq!(bits64(&ga), bits64(&gb), "rows {rows}: gram");
                let mut gc = vec![f64::NAN; 16];
                assert!(gram_4(&mut gc, &f));
                let mut gd = vec![f64::NAN; 16];
                gram_chunk_loops::<4>(&mut gd, &f, 4);
                assert_eq!(bits64(&gc), bits64(&gd), "rows {rows}: gram alone");
            }
        }
    }
}
