//! Initial factors: random and the NNDSVD family (Boutsidis & Gallopoulos 2008),
//! following scikit-learn's `_initialize_nmf`.

use std::ops::Range;

use rand::rngs::Xoshiro256PlusPlus;
use rand::SeedableRng;
use rayon::prelude::*;

use crate::error::Result;
use crate::kernel::Csr;
use crate::params::Init;
use crate::svd::{normal_pair, svd_pair, Layout, Svd, SvdOptions};

/// Draws per block of the normal sequence of [`fill_normals`]: each block
/// has a stream of its own.
const NORMAL_BLOCK: usize = 1 << 14;

/// Replaces `out[i]` by `f(out[i], z)`, where `z` is normal `start + i` of the
/// standard normal sequence of `seed`. The sequence is cut into blocks of
/// [`NORMAL_BLOCK`] draws, block `b` drawn (Box–Muller, both values of each
/// pair) from a stream seeded by `seed` and `b` alone: any range of it is
/// drawn directly, the blocks in parallel, with the same values at any
/// thread count.
pub(crate) fn fill_normals(
    seed: u64,
    start: usize,
    out: &mut [f32],
    f: impl Fn(f32, f64) -> f32 + Sync,
) {
    // The pieces of `out` in each block, with the block and the offset in it.
    let mut pieces = Vec::new();
    let (mut rest, mut at) = (out, start);
    while !rest.is_empty() {
        let (block, offset) = (at / NORMAL_BLOCK, at % NORMAL_BLOCK);
        let len = rest.len().min(NORMAL_BLOCK - offset);
        let (piece, tail) = rest.split_at_mut(len);
        pieces.push((block, offset, piece));
        (rest, at) = (tail, at + len);
    }
    pieces.into_par_iter().for_each(|(block, offset, piece)| {
        // Golden-ratio spacing of the block seeds; `seed_from_u64` mixes them.
        let stream = seed ^ (block as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream);
        let end = offset + piece.len();
        let mut i = 0;
        while i < end {
            let pair = normal_pair(&mut rng);
            for (at, z) in [(i, pair.0), (i + 1, pair.1)] {
                if (offset..end).contains(&at) {
                    let v = &mut piece[at - offset];
                    *v = f(*v, z);
                }
            }
            i += 2;
        }
    });
}

/// scikit-learn's random init, `|N(0, 1)| · sqrt(mean(X) / k)`: Hᵀ (m × k,
/// row-major) from normals `0..m·k` of the sequence of `seed`
/// ([`fill_normals`]), then W (n × k) from the next `n·k`. Returns (rows
/// `w_rows` of W, all of Hᵀ), row-major f32: any row range gets exactly its
/// rows of the full init.
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
    let draw = |_: f32, z: f64| (avg * z).abs() as f32;
    let mut ht = vec![0f32; m * k];
    fill_normals(seed, 0, &mut ht, draw);
    let mut w = vec![0f32; w_rows.len() * k];
    fill_normals(seed, (m + w_rows.start) * k, &mut w, draw);
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
    // U (n × k) and V (m × k) in the factors' own layout: W is written over
    // U and Hᵀ over V, entry by entry, so the factors never sit beside the
    // singular vectors (at k = 100 on 20 Newsgroups that pair had made the
    // fit's footprint 1.60 × the reference).
    let Svd {
        u: mut w,
        s,
        v: mut ht,
        ..
    } = svd_pair::<f32>(
        x,
        xt,
        k,
        &SvdOptions {
            seed,
            ..SvdOptions::default()
        },
        Layout::RowsByK,
    )?;
    let (up, un) = part_norms(&w, k);
    let (vp, vn) = part_norms(&ht, k);
    // Column 0 is σ₁^½ |u| and σ₁^½ |v|; column c ≥ 1 the scaled positive
    // (or negative) parts of u and v, whichever pair has the larger product
    // of norms, or 0 where both products are 0.
    let (cols_w, cols_h): (Vec<NndsvdCol>, Vec<NndsvdCol>) = (0..k)
        .map(|c| {
            if c == 0 {
                let s0 = s[0].sqrt();
                return (NndsvdCol::Abs(s0), NndsvdCol::Abs(s0));
            }
            let (mp, mn) = (up[c] * vp[c], un[c] * vn[c]);
            let (sign, unorm, vnorm, sigma) = if mp > mn {
                (1.0, up[c], vp[c], mp)
            } else {
                (-1.0, un[c], vn[c], mn)
            };
            if sigma == 0.0 {
                return (NndsvdCol::Zero, NndsvdCol::Zero);
            }
            let lbd = (s[c] * sigma).sqrt();
            let part = |norm| NndsvdCol::Part { sign, lbd, norm };
            (part(unorm), part(vnorm))
        })
        .unzip();
    // NNDSVDa's zeros become the mean in the same pass.
    let zero = match init {
        Init::Nndsvda => mean as f32,
        _ => 0.0,
    };
    nndsvd_in_place(&mut w, &cols_w, zero);
    nndsvd_in_place(&mut ht, &cols_h, zero);
    if init == Init::Nndsvdar {
        // W's entries are normals 0..n·k of the sequence of `seed`, Hᵀ's
        // the next m·k (row-major both).
        let small = |v: f32, z: f64| match v {
            0.0 => (mean * z / 100.0).abs() as f32,
            v => v,
        };
        fill_normals(seed, 0, &mut w, small);
        fill_normals(seed, n * k, &mut ht, small);
    }
    Ok((w, ht))
}

/// The norms of the positive and of the negative parts of each column of
/// `f` (rows × k, row-major); each column's squares added in row order.
fn part_norms(f: &[f32], k: usize) -> (Vec<f64>, Vec<f64>) {
    let (mut pos, mut neg) = (vec![0f64; k], vec![0f64; k]);
    for row in f.chunks_exact(k) {
        for ((p, q), &v) in pos.iter_mut().zip(neg.iter_mut()).zip(row) {
            let v = v as f64;
            *p += v.max(0.0) * v.max(0.0);
            *q += (-v).max(0.0) * (-v).max(0.0);
        }
    }
    let sqrt = |v: Vec<f64>| v.into_iter().map(f64::sqrt).collect();
    (sqrt(pos), sqrt(neg))
}

/// How NNDSVD makes a column of W from the same column of U (or of Hᵀ from
/// V's), entry by entry.
#[derive(Clone, Copy)]
enum NndsvdCol {
    /// `scale · |x|`.
    Abs(f64),
    /// `lbd · max(sign · x, 0) / norm`.
    Part { sign: f64, lbd: f64, norm: f64 },
    /// 0.
    Zero,
}

/// Rewrites each entry x of `f` (rows × `cols.len()`, row-major) as its
/// column's [`NndsvdCol`] makes it, in f64, stored in f32; below 1e-6 (as
/// scikit-learn drops them) and in a [`NndsvdCol::Zero`] column as `zero`.
///
/// Every column runs the same steps, `a · y / d` for `y = sign · x` taken
/// as `|y|` or `max(y, 0)`: `Abs(scale)` is `scale · |x| / 1`, `Part` its
/// own formula, `Zero` `0 · y / 1` (U and V are finite): the same bits as
/// each variant's formula, and a row's columns are one vector operation,
/// in a chunk function multiversioned like the kernels (the loop had been a
/// closure of a baseline-compiled function). With a match per entry and its
/// scalar division, and NNDSVDa's mean filled in a pass of its own, the
/// seed's two factors (2034 and 26,576 rows, k = 4) took 0.86–0.90 ms;
/// 0.06–0.07 ms so (fastest of 200, three interleaved rounds, two threads,
/// the Xeon of model 207).
fn nndsvd_in_place(f: &mut [f32], cols: &[NndsvdCol], zero: f32) {
    let steps = ColumnSteps::new(cols, zero);
    crate::kernel::dispatch_k!(cols.len(), nndsvd_rows(f, &steps, cols.len()));
}

/// The per-column constants of [`nndsvd_in_place`]'s formula; `abs` 1.0
/// where the column takes `|y|`, else 0.0.
struct ColumnSteps {
    sign: Vec<f64>,
    abs: Vec<f64>,
    a: Vec<f64>,
    d: Vec<f64>,
    zero: f32,
}

impl ColumnSteps {
    fn new(cols: &[NndsvdCol], zero: f32) -> Self {
        let k = cols.len();
        let mut s = ColumnSteps {
            sign: vec![1.0; k],
            abs: vec![0.0; k],
            a: vec![0.0; k],
            d: vec![1.0; k],
            zero,
        };
        for (c, col) in cols.iter().enumerate() {
            match *col {
                NndsvdCol::Abs(scale) => (s.abs[c], s.a[c]) = (1.0, scale),
                NndsvdCol::Part { sign, lbd, norm } => {
                    (s.sign[c], s.a[c], s.d[c]) = (sign, lbd, norm)
                }
                NndsvdCol::Zero => {}
            }
        }
        s
    }
}

fn nndsvd_rows<const K: usize>(f: &mut [f32], s: &ColumnSteps, kk: usize) {
    let k = if K == 0 { kk } else { K };
    f.par_chunks_mut(k * 1024)
        .for_each(|rows| nndsvd_chunk_best::<K>(rows, s, k));
}

#[inline(always)]
fn nndsvd_chunk<const K: usize>(rows: &mut [f32], s: &ColumnSteps, kk: usize) {
    let k = if K == 0 { kk } else { K };
    let (sign, abs, a, d) = (&s.sign[..k], &s.abs[..k], &s.a[..k], &s.d[..k]);
    for row in rows.chunks_exact_mut(k) {
        for c in 0..k {
            let y = sign[c] * row[c] as f64;
            let y = if abs[c] != 0.0 { y.abs() } else { y.max(0.0) };
            let v = a[c] * y / d[c];
            row[c] = if v < 1e-6 { s.zero } else { v as f32 };
        }
    }
}

crate::kernel::multiversion!(nndsvd_chunk_best, nndsvd_chunk_avx2, nndsvd_chunk,
    (rows: &mut [f32], s: &ColumnSteps, kk: usize) -> ());

#[cfg(test)]
mod tests {
    use super::*;

    fn sequence(seed: u64, start: usize, len: usize) -> Vec<f32> {
        let mut out = vec![0f32; len];
        fill_normals(seed, start, &mut out, |_, z| z as f32);
        out
    }

    #[test]
    fn any_range_of_the_normal_sequence_is_that_slice_of_it() {
        let whole = sequence(7, 0, 3 * NORMAL_BLOCK + 5);
        for (start, len) in [
            (0, 1),
            (1, 2),
            (NORMAL_BLOCK - 1, 3),
            (5, 2 * NORMAL_BLOCK + 3),
        ] {
            assert_eq!(
                sequence(7, start, len),
                whole[start..start + len],
                "{start}+{len}"
            );
        }
        // The same on one thread as on the pool.
        let one = crate::testing::pool(1);
        assert_eq!(one.install(|| sequence(7, 0, whole.len())), whole);
        assert_ne!(sequence(8, 0, 16), whole[..16]);
    }

    #[test]
    fn the_normal_sequence_is_standard_normal() {
        let z = sequence(3, 0, 4 * NORMAL_BLOCK);
        let n = z.len() as f64;
        let mean = z.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = z.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        // 65,536 draws: standard errors 0.004 (mean) and 0.006 (variance).
        assert!(
            mean.abs() < 0.02 && (var - 1.0).abs() < 0.03,
            "{mean} {var}"
        );
        // Blocks are not copies of each other.
        assert_ne!(z[..64], z[NORMAL_BLOCK..NORMAL_BLOCK + 64]);
        // f sees what `out` held.
        let mut out = vec![1f32, 0.0, 2.0];
        fill_normals(3, 0, &mut out, |v, z| if v == 0.0 { z as f32 } else { v });
        assert_eq!((out[0], out[1], out[2]), (1.0, z[1], 2.0));
    }
}
