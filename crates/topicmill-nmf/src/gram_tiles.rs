//! The Gram of a chunk of factor rows (`kernel::gram_chunk`) by register
//! tiles, AVX2 and FMA, for any k (k = 4 has its own loop in `fused4`).
//!
//! The plain loops sweep the whole k × k partial once per quad of rows,
//! loading and storing every entry each time; at k = 20 the compiler keeps
//! neither the rows nor the partial in registers, and the Gram of Hᵀ (51,840
//! rows) took 0.68 ms of a 4.6 ms MU iteration on all of 20 Newsgroups.
//! Here a tile of the partial, 4 rows × 4 columns, stays in four registers
//! while a block of the chunk's rows, widened to f64, streams past it, and
//! only the tiles on and above the diagonal are computed: the Gram is
//! symmetric, and entry (a, b) comes from the same products, added in the
//! same order, as (b, a) (a product of two floats does not depend on their
//! order), so the entries below are copies with the same bits.
//!
//! Every entry is the plain loops' sum, operation for operation: per quad of
//! rows `(w0[a]·w0[b] + w1[a]·w1[b]) + (w2[a]·w2[b] + w3[a]·w3[b])` added to
//! the partial, then the last `rows mod 4` rows one at a time. The rows are
//! f32 values widened to f64, so every product is exact, and an FMA that adds
//! one to a sum gives the bits of a multiply then an add (as in `fused4`).
//! Tested bitwise against the plain loops below.

/// The Gram of `rows` (rows × k) into `p` (k × k, overwritten), as
/// `kernel::gram_chunk_loops` computes it. `false`, with nothing done, where
/// AVX2 or FMA is missing.
pub(crate) fn gram_tiles(p: &mut [f64], rows: &[f32], k: usize) -> bool {
    assert!(k > 0 && rows.len() % k == 0 && p.len() == k * k);
    #[cfg(target_arch = "x86_64")]
    if crate::fused4::runs_here() {
        // SAFETY: AVX2 and FMA are present, and k and the lengths are checked
        // above.
        unsafe { avx2::gram(p, rows, k) };
        return true;
    }
    false
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// Bytes of widened rows per block: half of a 32 KiB L1 data cache.
    const BLOCK_BYTES: usize = 16 << 10;

    /// See [`super::gram_tiles`].
    ///
    /// # Safety
    /// AVX2 and FMA are present; `k > 0`, `rows.len()` a multiple of k, `p`
    /// k² long.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn gram(p: &mut [f64], rows: &[f32], k: usize) {
        // Padded to kp columns of zeros: a padding column only meets other
        // padding or real columns in entries that are not returned.
        let kp = k.next_multiple_of(4);
        // Rows per block: a multiple of 4 (blocks hold whole quads), at
        // least 32. Every tile loads its sums from the partial and stores
        // them back once per block: with blocks of one quad (k > 256) that
        // traffic was most of the work (3000 rows at k = 300: 12.2-12.7 ms,
        // 7.5-7.6 with 32 rows, one thread).
        let block = (BLOCK_BYTES / (8 * kp)).max(32) & !3;
        // The tiles add into `p` itself when k is a multiple of 4, else
        // into a padded kp × kp copy (beside the Gram at every call: 185 KB
        // at k = 150). Tiles into `p` with its own stride, the last one of
        // each strip through a 4 × 4 copy, ran 15–20 % slower at k = 150.
        let mut padded = Vec::new();
        let part: &mut [f64] = if kp == k {
            p.fill(0.0);
            p
        } else {
            padded.resize(kp * kp, 0f64);
            &mut padded
        };
        let mut wide = vec![0f64; block * kp];
        let n = rows.len() / k;
        let quad_rows = n - n % 4;
        let mut start = 0;
        while start < n {
            // A block of whole quads, or the last 1–3 rows alone.
            let end = if start < quad_rows {
                (start + block).min(quad_rows)
            } else {
                n
            };
            for (dst, src) in wide
                .chunks_exact_mut(kp)
                .zip(rows[start * k..end * k].chunks_exact(k))
            {
                for (d, &s) in dst.iter_mut().zip(src) {
                    *d = s as f64;
                }
                dst[k..].fill(0.0);
            }
            let count = end - start;
            for a0 in (0..kp).step_by(4) {
                // The tiles of rows a0..a0 + 4 from the diagonal on, four
                // columns each (tiles of eight columns, eight sums and eight
                // row vectors, spill on AVX2's sixteen registers: 457 → 594
                // µs for the Gram of ng20's Hᵀ).
                for b0 in (a0..kp).step_by(4) {
                    // SAFETY: rows a0..a0+4 and columns b0..b0+4 lie inside
                    // the kp × kp partial and the kp-wide rows of `wide`,
                    // which holds `count` rows.
                    unsafe { tile(part, &wide, kp, a0, b0, count) };
                }
            }
            start = end;
        }
        if kp == k {
            // The entries below the diagonal's tiles from their mirror
            // images, which are never among them (b < a & !3 ≤ a).
            for a in 4..k {
                for b in 0..a & !3 {
                    part[a * k + b] = part[b * k + a];
                }
            }
        } else {
            for a in 0..k {
                for b in 0..k {
                    p[a * k + b] = if b >= a & !3 {
                        padded[a * kp + b]
                    } else {
                        padded[b * kp + a]
                    };
                }
            }
        }
    }

    /// Adds to the tile of `part` at rows `a0..a0 + 4`, columns `b0..b0 + 4`
    /// the products of the first `count` rows of `wide` (kp wide): by quads
    /// when `count` is a multiple of 4, else one row at a time.
    ///
    /// # Safety
    /// AVX2 and FMA are present; `a0 + 4 ≤ kp`, `b0 + 4 ≤ kp`, `part` is
    /// kp × kp and `wide` holds `count` rows of kp.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile(part: &mut [f64], wide: &[f64], kp: usize, a0: usize, b0: usize, count: usize) {
        debug_assert!(a0 + 4 <= kp && b0 + 4 <= kp && part.len() == kp * kp);
        debug_assert!(wide.len() >= count * kp);
        let pp = part.as_mut_ptr();
        let wp = wide.as_ptr();
        let mut acc = [_mm256_setzero_pd(); 4];
        for (i, acc_i) in acc.iter_mut().enumerate() {
            // SAFETY: inside the partial (the function's contract).
            *acc_i = unsafe { _mm256_loadu_pd(pp.add((a0 + i) * kp + b0)) };
        }
        // Element `at` of row r of the current quad (or row).
        let x = |row: usize, at: usize| {
            // SAFETY: row < count and at < kp (the contract).
            unsafe { _mm256_broadcast_sd(&*wp.add(row * kp + at)) }
        };
        let w = |row: usize| {
            // SAFETY: as above, b0 + 4 ≤ kp.
            unsafe { _mm256_loadu_pd(wp.add(row * kp + b0)) }
        };
        if count % 4 == 0 {
            for q in (0..count).step_by(4) {
                let (w0, w1, w2, w3) = (w(q), w(q + 1), w(q + 2), w(q + 3));
                for (i, acc_i) in acc.iter_mut().enumerate() {
                    let a = a0 + i;
                    let t01 = _mm256_fmadd_pd(x(q + 1, a), w1, _mm256_mul_pd(x(q, a), w0));
                    let t23 = _mm256_fmadd_pd(x(q + 3, a), w3, _mm256_mul_pd(x(q + 2, a), w2));
                    *acc_i = _mm256_add_pd(*acc_i, _mm256_add_pd(t01, t23));
                }
            }
        } else {
            for r in 0..count {
                let wr = w(r);
                for (i, acc_i) in acc.iter_mut().enumerate() {
                    *acc_i = _mm256_fmadd_pd(x(r, a0 + i), wr, *acc_i);
                }
            }
        }
        for (i, acc_i) in acc.iter().enumerate() {
            // SAFETY: inside the partial (the function's contract).
            unsafe { _mm256_storeu_pd(pp.add((a0 + i) * kp + b0), *acc_i) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::{dispatch_k, gram_chunk_loops};

    /// Rows × k values: zeros, tiny ones and ordinary ones.
    fn sample(rows: usize, k: usize, seed: u64) -> Vec<f32> {
        let mut next = crate::testing::xorshift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        (0..rows * k)
            .map(|_| {
                let u = next();
                if u < 0.15 {
                    0.0
                } else if u < 0.2 {
                    u * 1e-12
                } else {
                    u * 3.0
                }
            })
            .collect()
    }

    fn loops<const K: usize>(p: &mut [f64], rows: &[f32], k: usize) {
        gram_chunk_loops::<K>(p, rows, k);
    }

    #[test]
    fn the_tiles_equal_the_plain_loops_bitwise() {
        if !crate::fused4::runs_here() {
            return;
        }
        for k in [1, 2, 3, 4, 5, 7, 8, 10, 12, 20, 30, 33, 100, 130] {
            for rows in [0, 1, 3, 4, 5, 31, 32, 33, 36, 67, 512, 515] {
                let g = sample(rows, k, (k * 1000 + rows) as u64);
                let mut want = vec![f64::NAN; k * k];
                dispatch_k!(k, loops(&mut want, &g, k));
                let mut runtime_k = vec![f64::NAN; k * k];
                loops::<0>(&mut runtime_k, &g, k);
                let mut got = vec![f64::NAN; k * k];
                assert!(gram_tiles(&mut got, &g, k));
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&want), "k {k}, {rows} rows");
                assert_eq!(
                    bits(&runtime_k),
                    bits(&want),
                    "k {k}, {rows} rows, run-time k"
                );
            }
        }
    }
}
