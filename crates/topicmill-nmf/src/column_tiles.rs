//! Gathered products by column tiles of the sparse operand, for a fixed
//! factor larger than the cache.
//!
//! A half-step gathers, for every non-zero `a_ic` of its operand A, row c of
//! the fixed factor G. When G is larger than the last-level cache those rows
//! come from memory: on the NYTimes shape (300,000 × 102,660, 70 M non-zeros,
//! k = 100) Hᵀ is 41 MB and W 120 MB. Here A's columns are cut into tiles of
//! [`TILE_BYTES`] of G (a tile's rows of G stay in the cache while every row
//! of A adds its segment in that tile), and each row's sums are carried from
//! tile to tile in a buffer. MU on that shape went from 2.9–3.3 to 1.3–1.4 s
//! per iteration, HALS from 3.0–3.5 to 1.5 s (BENCHMARKS.md, "Column tiles").
//!
//! The sums are the gather's own, bitwise: each segment goes through the
//! gather's loop (`kernel::accumulate`), each non-zero to the accumulator
//! set its position in the row picks, in position order, and the sets are
//! combined as the gather combines them.
//!
//! The rows are taken in groups of whole row blocks, so that the carried
//! sums stay in the cache ([`GROUP_BYTES`], and at most an eighth of the
//! larger factor), and each block is finished as soon as its last tile is
//! added: the half-step's rule, the initial loss's cross term, the final W
//! solve (and `transform`'s). A product alone (`kernel::spmm`: the SVD's)
//! with one accumulator set per row carries its sums in its output and
//! keeps no buffer. Tiles and groups depend on the matrix and k only, never
//! on the thread count.
//!
//! KL-MU's half-step goes by the same tiles: its numerator needs W·H at
//! every non-zero, F's row (read by every tile, written by the rule after
//! the last) and G's row in the tile, and is one sum per row in position
//! order, carried like a product's one set. On the NYTimes shape KL went
//! from 8.8–9.0 to 4.1–4.5 s per iteration, the same factors bit for bit
//! (BENCHMARKS.md, "KL by tiles, prefetched segments, groups in the cache").
//! KL's loss goes by them too, each row's f64 sum carried from tile to
//! tile. The W-only solve's KL rows still gather row by row: they are bound
//! by arithmetic, their rows of G cached from one sweep to the next.

use std::ops::Range;

use rayon::prelude::*;

use crate::kernel::{
    acc_sets, accumulate, accumulate_k, combine_sets, kl_add_segment, kl_add_terms, Blocks, Csr,
};

/// Bytes of the fixed factor per tile: 8 MiB, a quarter of the 32 MiB
/// last-level cache of the machine measured (AMD EPYC, Zen 4). On the
/// NYTimes shape (k = 100, a throwaway driver, the sums of all rows carried,
/// best of 3) tiles of 2, 4, 8 and 16 MiB took 0.79, 0.58, 0.46 and 0.51 s
/// for X·Hᵀ (0.77 s gathered), 0.88, 0.64, 0.55 and 0.68 s for Xᵀ·W (1.87 s).
pub(crate) const TILE_BYTES: usize = 8 << 20;

/// A fixed factor of at most this many bytes is gathered row by row, without
/// tiles: 32 MiB, the last-level cache. On 20 Newsgroups at k = 100 (Hᵀ of
/// 21 MB) tiles made no measurable difference (`topicmill bench ng20 -k 100
/// --solvers mu,hals --iters 10 --repeat 2 --init random`, MU 44–51 ms per
/// iteration either way) and took the footprint from 1.08 to 1.24 of the
/// reference with the sums of whole factors.
const TILED_ABOVE: usize = 32 << 20;

/// Whether a factor of `rows` × k f32 is larger than the cache
/// ([`TILED_ABOVE`]): a product gathering its rows goes by column tiles.
pub(crate) fn larger_than_cache(rows: usize, k: usize) -> bool {
    rows * k * size_of::<f32>() > TILED_ABOVE
}

/// Bytes of a group's carried sums, at most: 16 MiB, half the cache,
/// beside the tile of G they add. The sums were an eighth of the larger
/// factor, and a product alone carried its whole output: on the PubMed shape
/// (8.2 M × 141,043, 483 M non-zeros, k = 100) 412 MB of W's sums, 3.6 GB
/// of the SVD's. With groups of this size MU there takes 13.0 s per
/// iteration as before, and its footprint is 1.041 of the reference instead
/// of 1.080 (BENCHMARKS.md,
/// "KL by tiles, prefetched segments, groups in the cache").
const GROUP_BYTES: usize = 16 << 20;

/// Blocks per group, at least, for the threads to share.
const BLOCKS_PER_GROUP: usize = 16;

/// The row blocks of a product of `a` at rank k: `Blocks::new`'s, and when
/// it goes by column tiles ([`larger_than_cache`]), each block cut so that
/// a group of [`GROUP_BYTES`] holds [`BLOCKS_PER_GROUP`] of them. Depends on
/// the matrix and k only.
pub(crate) fn blocks_for(a: &Csr<'_>, k: usize) -> Blocks {
    let blocks = Blocks::new(a, k);
    if k == 0 || !larger_than_cache(a.cols, k) {
        return blocks;
    }
    finer(blocks, GROUP_BYTES / BLOCKS_PER_GROUP / row_sums_bytes(k))
}

/// A row's carried sums in bytes at rank k: its accumulator sets.
fn row_sums_bytes(k: usize) -> usize {
    crate::kernel::dispatch_k!(k, sets_at()) * k * size_of::<f32>()
}

/// `blocks` with each cut into parts of equal rows (the first ones one row
/// longer), at most `most` rows (at least one).
fn finer(blocks: Blocks, most: usize) -> Blocks {
    let most = most.max(1);
    let mut ranges = Vec::with_capacity(blocks.len());
    for r in blocks.ranges {
        let parts = r.len().div_ceil(most).max(1);
        let (each, extra) = (r.len() / parts, r.len() % parts);
        let mut start = r.start;
        for p in 0..parts {
            let end = start + each + usize::from(p < extra);
            ranges.push(start..end);
            start = end;
        }
    }
    Blocks { ranges }
}

/// Consecutive blocks in groups of at most `group_rows` rows (or one
/// block), and the most rows of a group.
fn grouped(blocks: &Blocks, group_rows: usize) -> (Vec<Range<usize>>, usize) {
    let mut groups = Vec::new();
    let (mut start, mut rows, mut most) = (0, 0, 0);
    for (b, r) in blocks.ranges.iter().enumerate() {
        if b > start && rows + r.len() > group_rows {
            groups.push(start..b);
            (start, rows) = (b, 0);
        }
        rows += r.len();
        most = most.max(rows);
    }
    groups.push(start..blocks.ranges.len());
    (groups, most)
}

/// [`acc_sets`] of the k that `dispatch_k!` runs k at.
fn sets_at<const K: usize>() -> usize {
    acc_sets(K)
}

/// The column tiles of one sparse operand and the buffers that carry a
/// group's sums from tile to tile.
pub(crate) struct ColumnTiles {
    /// Columns of A (rows of G) per tile.
    width: usize,
    /// Groups of consecutive row blocks, as ranges of block indices.
    groups: Vec<Range<usize>>,
    /// A group's sums: per row, its accumulator sets (sets × k). Allocated
    /// by the first pass that carries them ([`ColumnTiles::carried`]): the
    /// KL loss's pass keeps its own f64 sums and never does.
    sums: Vec<f32>,
    /// The length of `sums` once allocated.
    sums_len: usize,
    /// Per row of a group, the position in its row of A where the next
    /// tile's segment starts.
    cursor: Vec<usize>,
}

impl ColumnTiles {
    /// The tiles for A (`a`, over `blocks`) at rank k, or `None` when G
    /// (a.cols × k) is not [`larger_than_cache`]: [`ColumnTiles::sized`]
    /// with tiles of [`TILE_BYTES`] of G.
    pub fn plan(a: &Csr<'_>, k: usize, blocks: &Blocks) -> Option<Self> {
        if k == 0 || !larger_than_cache(a.cols, k) {
            return None;
        }
        Some(Self::sized(
            a,
            k,
            blocks,
            TILE_BYTES / (k * size_of::<f32>()),
        ))
    }

    /// Tiles of `width` columns of A; groups whose carried sums take at most
    /// [`GROUP_BYTES`] and an eighth of the larger factor (or one block).
    pub(crate) fn sized(a: &Csr<'_>, k: usize, blocks: &Blocks, width: usize) -> Self {
        let budget = (a.rows.max(a.cols) * k * size_of::<f32>() / 8).min(GROUP_BYTES);
        Self::with_sizes(k, blocks, width, budget / row_sums_bytes(k))
    }

    /// Tiles of `width` columns; groups of at most `group_rows` rows (or one
    /// block).
    pub(crate) fn with_sizes(k: usize, blocks: &Blocks, width: usize, group_rows: usize) -> Self {
        let (groups, most) = grouped(blocks, group_rows);
        let sets = crate::kernel::dispatch_k!(k, sets_at());
        ColumnTiles {
            width: width.max(1),
            groups,
            sums: Vec::new(),
            sums_len: most * sets * k,
            cursor: vec![0; most],
        }
    }

    /// What a pass carrying sums takes: the tile width, the groups, their
    /// sums (allocated on first use) and the cursors.
    fn carried(&mut self) -> (usize, &[Range<usize>], &mut [f32], &mut [usize]) {
        if self.sums.len() < self.sums_len {
            self.sums.resize(self.sums_len, 0.0);
        }
        (self.width, &self.groups, &mut self.sums, &mut self.cursor)
    }
}

/// What a block does once its last tile is added: `finish(rows, out, n)`
/// with the block's rows, its rows of the output and its N (rows × k);
/// returns the block's term (⟨F_new, N⟩, the loss's cross term, or 0).
pub(crate) type Finish<'f> = dyn Fn(&Range<usize>, &mut [f32], &mut [f32]) -> f64 + Sync + 'f;

/// N = A·G by the tiles of `tiles` (A `a` over `blocks`, G `g`), each block
/// finished by `finish` with its rows of `out`, its result in `block_sums`
/// (one per block). Returns their sum in block order. N's rows are the
/// gather's, bitwise.
#[allow(clippy::too_many_arguments)]
pub(crate) fn by_tiles<const K: usize>(
    tiles: &mut ColumnTiles,
    a: &Csr<'_>,
    g: &[f32],
    kk: usize,
    blocks: &Blocks,
    out: &mut [f32],
    finish: &Finish<'_>,
    block_sums: &mut [f64],
) -> f64 {
    let (width, groups, sums, cursor) = tiles.carried();
    passes::<K>(
        Segments::Product,
        width,
        groups,
        Some(sums),
        cursor,
        (a, g, kk, blocks),
        out,
        finish,
        block_sums,
    );
    block_sums.iter().sum()
}

/// The KL-MU half-step's numerators `(A ⊘ FGᵀ)·G` by the tiles of `tiles`
/// (A `a` over `blocks`, G `g`, F `f`), each block's rows then updated by
/// `rule` (F's rows, their numerators). A row's numerator is one sum over
/// its non-zeros in position order, carried from tile to tile: the same
/// bits as `kernel::kl_row_numerator` on the whole row. F is read by every
/// tile (W·H at each non-zero) and written only by `rule`, after the last.
#[allow(clippy::too_many_arguments)]
pub(crate) fn kl_by_tiles<const K: usize>(
    tiles: &mut ColumnTiles,
    a: &Csr<'_>,
    g: &[f32],
    kk: usize,
    blocks: &Blocks,
    f: &mut [f32],
    rule: &Finish<'_>,
    block_sums: &mut [f64],
) {
    let (width, groups, sums, cursor) = tiles.carried();
    passes::<K>(
        Segments::KlNumerator,
        width,
        groups,
        Some(sums),
        cursor,
        (a, g, kk, blocks),
        f,
        rule,
        block_sums,
    );
}

/// N's rows copied to the output, unless they were carried there (`out` empty).
fn copy_out(_: &Range<usize>, out: &mut [f32], n: &mut [f32]) -> f64 {
    if !out.is_empty() {
        out.copy_from_slice(n);
    }
    0.0
}

/// `n = A·G` (a.rows × k) by column tiles of [`TILE_BYTES`]: the same bits
/// as `kernel::spmm`'s gather. With one accumulator set per row the sums are
/// carried in `n` itself; with more, in groups' sums as in the half-step.
pub(crate) fn spmm_tiled<const K: usize>(
    a: &Csr<'_>,
    g: &[f32],
    kk: usize,
    blocks: &Blocks,
    n: &mut [f32],
) {
    let k = if K == 0 { kk } else { K };
    let width = TILE_BYTES / (k * size_of::<f32>());
    spmm_by_tiles::<K>(a, g, kk, blocks, n, width, GROUP_BYTES);
}

/// [`spmm_tiled`] by tiles of `width` columns, groups of sums of at most
/// `group_bytes`.
fn spmm_by_tiles<const K: usize>(
    a: &Csr<'_>,
    g: &[f32],
    kk: usize,
    blocks: &Blocks,
    n: &mut [f32],
    width: usize,
    group_bytes: usize,
) {
    let k = if K == 0 { kk } else { K };
    // N's rows do not depend on the blocks: they are cut for the groups.
    let group_rows = group_bytes / (acc_sets(K) * k * size_of::<f32>());
    let blocks = &finer(blocks.clone(), group_rows / BLOCKS_PER_GROUP);
    let mut block_sums = vec![0f64; blocks.len()];
    let operand = (a, g, kk, blocks);
    if acc_sets(K) == 1 {
        // The sums are N's rows: no buffer.
        let (groups, most) = grouped(blocks, group_rows);
        let mut cursor = vec![0; most];
        passes::<K>(
            Segments::Product,
            width,
            &groups,
            None,
            &mut cursor,
            operand,
            n,
            &copy_out,
            &mut block_sums,
        );
    } else {
        let mut tiles = ColumnTiles::with_sizes(k, blocks, width, group_rows);
        let (width, groups, sums, cursor) = tiles.carried();
        passes::<K>(
            Segments::Product,
            width,
            groups,
            Some(sums),
            cursor,
            operand,
            n,
            &copy_out,
            &mut block_sums,
        );
    }
}

/// What a tile pass adds for each non-zero of a segment.
#[derive(Clone, Copy)]
enum Segments {
    /// `a_ic · G_c` to the row's accumulator sets (a product's sums).
    Product,
    /// `a_ic / max(F_i·G_c, KL_EPS) · G_c` to the row's one sum (KL's
    /// numerator; the output is F, read here and written by the finish).
    KlNumerator,
}

/// The tile passes over each group of blocks: every block adds its rows'
/// segments of a tile to their sums (in `sums`, or in `out` when `None`),
/// and after the last tile finishes its rows (`finish`), the block's result
/// in `block_sums`.
#[allow(clippy::too_many_arguments)]
fn passes<const K: usize>(
    segments: Segments,
    width: usize,
    groups: &[Range<usize>],
    mut sums: Option<&mut [f32]>,
    cursor: &mut [usize],
    (a, g, kk, blocks): (&Csr<'_>, &[f32], usize, &Blocks),
    out: &mut [f32],
    finish: &Finish<'_>,
    block_sums: &mut [f64],
) {
    let k = if K == 0 { kk } else { K };
    let sets = match segments {
        Segments::Product => acc_sets(K),
        Segments::KlNumerator => 1,
    };
    each_tile(groups, blocks, width, a.cols, |group, rows, start, end| {
        let last = end == a.cols;
        // The group's blocks, each with its rows of the output, of the sums
        // and of the cursors. An empty output (a finish that writes none)
        // stays empty; sums carried in the output are its rows.
        let outs = if out.is_empty() {
            per_block(&mut [], blocks, group, k)
        } else {
            per_block(&mut out[rows.start * k..rows.end * k], blocks, group, k)
        };
        let (outs, sums_b) = match sums.as_deref_mut() {
            Some(s) => (outs, per_block(s, blocks, group, sets * k)),
            None => (per_block(&mut [], blocks, group, k), outs),
        };
        let cursors = per_block(cursor, blocks, group, 1);
        let tasks: Vec<_> = group
            .clone()
            .zip(outs)
            .zip(sums_b)
            .zip(cursors)
            .map(|(((b, out), sums), cursor)| (b, out, sums, cursor))
            .collect();
        let results: Vec<(usize, f64)> = tasks
            .into_par_iter()
            .map(|(b, out, sums, cursor)| {
                let rows = blocks.ranges[b].clone();
                match segments {
                    Segments::Product => {
                        tile_block_best::<K>(a, rows.clone(), sums, cursor, g, kk, start, end)
                    }
                    Segments::KlNumerator => kl_tile_block_best::<K>(
                        a,
                        rows.clone(),
                        sums,
                        cursor,
                        out,
                        g,
                        kk,
                        start,
                        end,
                    ),
                }
                let sum = if last {
                    finish(&rows, out, &mut sums[..rows.len() * k])
                } else {
                    0.0
                };
                (b, sum)
            })
            .collect();
        if last {
            for (b, sum) in results {
                block_sums[b] = sum;
            }
        }
    });
}

/// Calls `pass(group, rows, start, end)` for each group of blocks (`rows`
/// the group's) and each tile `start..end` of `width` of A's `cols`
/// columns, in order: at least one tile per group (a matrix without columns
/// has one empty tile), whose last finishes the group's blocks.
fn each_tile(
    groups: &[Range<usize>],
    blocks: &Blocks,
    width: usize,
    cols: usize,
    mut pass: impl FnMut(&Range<usize>, Range<usize>, usize, usize),
) {
    for group in groups {
        let rows = blocks.ranges[group.start].start..blocks.ranges[group.end - 1].end;
        let mut start = 0;
        loop {
            let end = (start + width).min(cols);
            pass(group, rows.clone(), start, end);
            if end == cols {
                break;
            }
            start = end;
        }
    }
}

/// `buf`, from its start, cut into the group's blocks' rows of `stride`
/// values each (all empty when `buf` is).
fn per_block<'b, T>(
    mut buf: &'b mut [T],
    blocks: &Blocks,
    group: &Range<usize>,
    stride: usize,
) -> Vec<&'b mut [T]> {
    group
        .clone()
        .map(|b| {
            let len = if buf.is_empty() {
                0
            } else {
                blocks.ranges[b].len() * stride
            };
            let (head, rest) = std::mem::take(&mut buf).split_at_mut(len);
            buf = rest;
            head
        })
        .collect()
}

/// The KL loss's sums (`kernel::kl_loss`) by the tiles of `tiles` (X `x`
/// over `blocks`, W `w`, Hᵀ `ht`): each row's f64 sum carried from tile to
/// tile in position order, each block's the sum of its rows' in row order,
/// into `partials`. The same bits as `kernel::kl_loss` row by row.
#[allow(clippy::too_many_arguments)]
pub(crate) fn kl_loss_by_tiles(
    tiles: &mut ColumnTiles,
    x: &Csr<'_>,
    w: &[f32],
    ht: &[f32],
    k: usize,
    blocks: &Blocks,
    partials: &mut [f64],
) {
    let mut row_sums = vec![0f64; tiles.cursor.len()];
    let cursor = &mut tiles.cursor;
    each_tile(
        &tiles.groups,
        blocks,
        tiles.width,
        x.cols,
        |group, _, start, end| {
            let sums = per_block(&mut row_sums, blocks, group, 1);
            let cursors = per_block(cursor, blocks, group, 1);
            let tasks: Vec<_> = group.clone().zip(sums).zip(cursors).collect();
            let results: Vec<(usize, f64)> = tasks
                .into_par_iter()
                .map(|((b, sums), cursor)| {
                    let rows = blocks.ranges[b].clone();
                    let sum =
                        kl_loss_tile_block_best::<0>(x, rows, sums, cursor, w, ht, k, start, end);
                    (b, sum)
                })
                .collect();
            if end == x.cols {
                for (b, sum) in results {
                    partials[b] = sum;
                }
            }
        },
    );
}

/// One block's segments of the tile `start..end` of A's columns added to its
/// rows' sums; after the last tile, the sets combined into N's rows, over
/// the first rows × k values of `sums`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn tile_block<const K: usize>(
    a: &Csr<'_>,
    rows: Range<usize>,
    sums: &mut [f32],
    cursor: &mut [usize],
    g: &[f32],
    kk: usize,
    start: usize,
    end: usize,
) {
    let k = if K == 0 { kk } else { K };
    let sets = acc_sets(K);
    let last = end == a.cols;
    for (j, row_sums) in sums.chunks_exact_mut(sets * k).take(rows.len()).enumerate() {
        prefetch_row(a, &rows, cursor, start, j + PREFETCH_ROWS);
        let (i, at) = (rows.start + j, &mut cursor[j]);
        let (cols, vals) = a.row(i);
        if start == 0 {
            row_sums.fill(0.0);
        }
        let Range { start: p0, end: p1 } = segment(cols, at, start, end, last);
        match sets {
            1 => add_segment::<K, 1>(&cols[p0..p1], &vals[p0..p1], p0, g, k, row_sums),
            2 => add_segment::<K, 2>(&cols[p0..p1], &vals[p0..p1], p0, g, k, row_sums),
            _ => add_segment::<K, 4>(&cols[p0..p1], &vals[p0..p1], p0, g, k, row_sums),
        }
    }
    // Row j's sets are read before its N is written at j·k ≤ j·sets·k, over
    // sets already read. One set is N already: the gather's `(s + 0) + (0 +
    // 0)` is s, as a sum started at +0 is never −0, and that pass over the
    // block's rows (which a product carries in its output, out of the cache
    // on large inputs) is skipped.
    if last && K > 0 && sets > 1 {
        for j in 0..rows.len() {
            let mut set = [[0f32; K]; 4];
            for (dst, src) in set
                .iter_mut()
                .zip(sums[j * sets * K..].chunks_exact(K))
                .take(sets)
            {
                dst.copy_from_slice(src);
            }
            combine_sets(&set, &mut sums[j * K..j * K + K]);
        }
    }
}

crate::kernel::multiversion!(tile_block_best, tile_block_avx2, tile_block,
    (a: &Csr<'_>, rows: Range<usize>, sums: &mut [f32], cursor: &mut [usize], g: &[f32], kk: usize, start: usize, end: usize) -> ());

/// Rows ahead of the one being added whose segment is prefetched. A tile
/// pass jumps from row to row of A, each segment a few non-zeros (about 8
/// per tile on the NYTimes and PubMed shapes) in lines of their own, which
/// the hardware's prefetchers do not foresee: `perf annotate` put 18 % of
/// the tile passes' samples on the load of a segment's first index. MU on
/// the NYTimes shape 1.27–1.43 → 1.15–1.20 s per iteration, on the PubMed
/// shape 16.3–16.9 → 13.0 s (BENCHMARKS.md, "KL by tiles, prefetched
/// segments, groups in the cache"); 2, 4, 8 and 16
/// rows ahead measured alike but 16, a little slower.
const PREFETCH_ROWS: usize = 4;

/// Prefetches the indices and values where local row j of `rows` resumes
/// in the tile starting at column `start` (nothing past the block).
#[inline(always)]
fn prefetch_row(a: &Csr<'_>, rows: &Range<usize>, cursor: &[usize], start: usize, j: usize) {
    #[cfg(target_arch = "x86_64")]
    if j < rows.len() {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let at = if start == 0 { 0 } else { cursor[j] };
        let p = (a.indptr[rows.start + j] - a.base) as usize + at;
        if p < a.indices.len() {
            // SAFETY: a prefetch of an address inside the two slices.
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(a.indices.as_ptr().add(p).cast());
                _mm_prefetch::<_MM_HINT_T0>(a.data.as_ptr().add(p).cast());
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (a, rows, cursor, start, j);
}

/// The positions of row `cols`' segment in the tile `start..end` (the rest
/// of the row in the last tile), from the cursor `at`, which moves past it.
#[inline(always)]
fn segment(cols: &[u32], at: &mut usize, start: usize, end: usize, last: bool) -> Range<usize> {
    if start == 0 {
        *at = 0;
    }
    let p0 = *at;
    let p1 = if last {
        cols.len()
    } else {
        p0 + cols[p0..]
            .iter()
            .take_while(|&&c| (c as usize) < end)
            .count()
    };
    *at = p1;
    p0..p1
}

/// One block's segments of the tile `start..end` of A's columns added to
/// its rows' KL numerators (`sums`, rows × k), with F's rows `f`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn kl_tile_block<const K: usize>(
    a: &Csr<'_>,
    rows: Range<usize>,
    sums: &mut [f32],
    cursor: &mut [usize],
    f: &[f32],
    g: &[f32],
    kk: usize,
    start: usize,
    end: usize,
) {
    let k = if K == 0 { kk } else { K };
    let last = end == a.cols;
    for (j, (n, fr)) in sums
        .chunks_exact_mut(k)
        .zip(f.chunks_exact(k))
        .take(rows.len())
        .enumerate()
    {
        prefetch_row(a, &rows, cursor, start, j + PREFETCH_ROWS);
        let (i, at) = (rows.start + j, &mut cursor[j]);
        let (cols, vals) = a.row(i);
        if start == 0 {
            n.fill(0.0);
        }
        let s = segment(cols, at, start, end, last);
        kl_add_segment::<K>(&cols[s.clone()], &vals[s], fr, g, kk, n);
    }
}

crate::kernel::multiversion!(kl_tile_block_best, kl_tile_block_avx2, kl_tile_block,
    (a: &Csr<'_>, rows: Range<usize>, sums: &mut [f32], cursor: &mut [usize], f: &[f32], g: &[f32], kk: usize, start: usize, end: usize) -> ());

/// One block's segments of the tile `start..end` of X's columns added to
/// its rows' KL loss sums (`sums`, one per row); after the last tile, the
/// block's sum of them in row order (else 0). (`K` is unused:
/// `multiversion!` wraps functions generic in it.)
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn kl_loss_tile_block<const K: usize>(
    x: &Csr<'_>,
    rows: Range<usize>,
    sums: &mut [f64],
    cursor: &mut [usize],
    w: &[f32],
    ht: &[f32],
    k: usize,
    start: usize,
    end: usize,
) -> f64 {
    let last = end == x.cols;
    for (j, r) in sums.iter_mut().take(rows.len()).enumerate() {
        prefetch_row(x, &rows, cursor, start, j + PREFETCH_ROWS);
        let (i, at) = (rows.start + j, &mut cursor[j]);
        let (cols, vals) = x.row(i);
        if start == 0 {
            *r = 0.0;
        }
        let s = segment(cols, at, start, end, last);
        kl_add_terms(&cols[s.clone()], &vals[s], &w[i * k..(i + 1) * k], ht, k, r);
    }
    if last {
        sums.iter().take(rows.len()).fold(0.0, |acc, &r| acc + r)
    } else {
        0.0
    }
}

crate::kernel::multiversion!(kl_loss_tile_block_best, kl_loss_tile_block_avx2, kl_loss_tile_block,
    (x: &Csr<'_>, rows: Range<usize>, sums: &mut [f64], cursor: &mut [usize], w: &[f32], ht: &[f32], k: usize, start: usize, end: usize) -> f64);

/// Adds the segment `cols`, `vals` of a row, which starts at position `p0`
/// of the row, to the row's `S` accumulator sets `sums` (S × k): the
/// non-zero at position p to set `p mod S`, as the gather does.
#[inline(always)]
fn add_segment<const K: usize, const S: usize>(
    cols: &[u32],
    vals: &[f32],
    p0: usize,
    g: &[f32],
    kk: usize,
    sums: &mut [f32],
) {
    if K == 0 {
        return accumulate_k(cols, vals, g, 0, kk, sums);
    }
    let mut acc = [[0f32; K]; S];
    for (dst, src) in acc.iter_mut().zip(sums.chunks_exact(K)) {
        dst.copy_from_slice(src);
    }
    accumulate::<K, S>(cols, vals, p0, g, 0, &mut acc);
    for (dst, src) in sums.chunks_exact_mut(K).zip(&acc) {
        dst.copy_from_slice(src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::{update_frob, update_kl, NFrom, Rule, Side};
    use crate::params::Reg;

    /// A gathering half-step's side over `blocks`, by `tiles` when given.
    fn side(blocks: &Blocks, tiles: Option<ColumnTiles>) -> Side {
        Side {
            block_sums: vec![f64::NAN; blocks.len()],
            grams: Vec::new(),
            n: Vec::new(),
            tiles,
            blocks: blocks.clone(),
        }
    }

    /// The half-step by column tiles gives the gather's F and ⟨F_new, N⟩
    /// bitwise, at compiled and run-time k (one, two and four accumulator
    /// sets), with MU and HALS, with and without regularization, over
    /// several tiles, groups and blocks, on one thread and on two.
    #[test]
    fn tiled_half_steps_equal_the_gather_bitwise_at_any_thread_count() {
        let (rows, cols) = (300, 1000);
        // Rows of about 60 non-zeros (some empty), segments of about 6 in
        // tiles of 97 columns.
        let full = crate::testing::sparse(rows, cols, 0.06, 11);
        let mut tri = sprs::TriMatI::<f32, u32>::new((rows, cols));
        for (&v, (i, j)) in full.iter() {
            if ![0, 17, 299].contains(&i) {
                tri.add_triplet(i as usize, j as usize, v);
            }
        }
        let m: sprs::CsMatI<f32, u32, u64> = tri.to_csr();
        let mv = m.view();
        let a = Csr::from_view(&mv);
        // Uneven blocks: the groups below take one, two or more of them.
        let blocks = crate::testing::uneven_blocks();
        for k in [2, 3, 4, 5, 7, 8, 10, 20, 41, 50, 60, 100] {
            let mut next = crate::testing::xorshift(0x9e37_79b9 + k as u64);
            let g: Vec<f32> = (0..cols * k).map(|_| next()).collect();
            let f0: Vec<f32> = (0..rows * k)
                .map(|i| if i % 7 == 0 { 0.0 } else { next() })
                .collect();
            // S = GᵀG in f32, as the fit passes it.
            let mut s32 = vec![0f32; k * k];
            for row in g.chunks_exact(k) {
                for p in 0..k {
                    for q in 0..k {
                        s32[p * k + q] += row[p] * row[q];
                    }
                }
            }
            for rule in [Rule::Mu, Rule::Hals] {
                for reg in [Reg { l1: 0.0, l2: 0.0 }, Reg { l1: 0.05, l2: 0.3 }] {
                    let side = |tiles| side(&blocks, tiles);
                    let mut want = f0.clone();
                    let want_dot = update_frob(
                        NFrom::Product(&a),
                        &mut want,
                        &g,
                        &s32,
                        k,
                        &mut side(None),
                        rule,
                        reg,
                    );
                    // Groups of one block (the budget below the largest
                    // block) and of several.
                    for group_rows in [1, 120] {
                        let tiles = ColumnTiles::with_sizes(k, &blocks, 97, group_rows);
                        assert_eq!(tiles.width, 97);
                        assert!(
                            tiles.groups.len() > 1 && tiles.groups.len() < blocks.len()
                                || group_rows == 1
                        );
                        let mut side = side(Some(tiles));
                        for threads in [1, 2] {
                            let pool = crate::testing::pool(threads);
                            let mut got = f0.clone();
                            let dot = pool.install(|| {
                                update_frob(
                                    NFrom::Product(&a),
                                    &mut got,
                                    &g,
                                    &s32,
                                    k,
                                    &mut side,
                                    rule,
                                    reg,
                                )
                            });
                            let what = format!("k {k}, {rule:?}, {reg:?}, groups of {group_rows} rows, {threads} threads");
                            assert_eq!(dot.to_bits(), want_dot.to_bits(), "{what}");
                            assert!(crate::testing::same_bits(&got, &want), "{what}");
                        }
                    }
                }
            }
        }
    }

    /// The KL-MU half-step by column tiles gives the row-by-row F bitwise, at
    /// compiled k and above KL's largest (run-time loops), with and without
    /// regularization, over several tiles, groups and blocks, on one thread
    /// and on two.
    #[test]
    fn tiled_kl_half_steps_equal_the_gather_bitwise_at_any_thread_count() {
        let (rows, cols) = (300, 1000);
        let m = crate::testing::sparse(rows, cols, 0.06, 17);
        let mv = m.view();
        let a = Csr::from_view(&mv);
        let blocks = crate::testing::uneven_blocks();
        for k in [3, 4, 8, 20, 21, 50, 100] {
            let mut next = crate::testing::xorshift(0x6b1 + k as u64);
            // Some rows of G and of F zero: W·H floored at KL_EPS.
            let g: Vec<f32> = (0..cols * k)
                .map(|i| if (i / k) % 11 == 0 { 0.0 } else { next() })
                .collect();
            let f0: Vec<f32> = (0..rows * k)
                .map(|i| if (i / k) % 13 == 0 { 0.0 } else { next() })
                .collect();
            let gsum: Vec<f32> = crate::kernel::col_sums(&g, k)
                .iter()
                .map(|&v| v as f32)
                .collect();
            for reg in [Reg { l1: 0.0, l2: 0.0 }, Reg { l1: 0.05, l2: 0.3 }] {
                let mut want = f0.clone();
                update_kl(&a, &mut want, &g, &gsum, k, &mut side(&blocks, None), reg);
                for group_rows in [1, 120] {
                    let tiles = ColumnTiles::with_sizes(k, &blocks, 97, group_rows);
                    let mut side = side(&blocks, Some(tiles));
                    for threads in [1, 2] {
                        let pool = crate::testing::pool(threads);
                        let mut got = f0.clone();
                        pool.install(|| update_kl(&a, &mut got, &g, &gsum, k, &mut side, reg));
                        assert!(
                            crate::testing::same_bits(&got, &want),
                            "k {k}, {reg:?}, groups of {group_rows} rows, {threads} threads"
                        );
                    }
                }
            }
        }
    }

    /// The KL loss by column tiles is the row-by-row one, bitwise (block
    /// partials and total), over groups of one and several blocks, on one
    /// thread and on two, without the groups' f32 sums.
    #[test]
    fn tiled_kl_losses_equal_the_row_by_row_one_bitwise() {
        let (rows, cols) = (300, 1000);
        let m = crate::testing::sparse(rows, cols, 0.06, 19);
        let mv = m.view();
        let a = Csr::from_view(&mv);
        let blocks = crate::testing::uneven_blocks();
        for k in [4, 20, 50] {
            let mut next = crate::testing::xorshift(0x10 + k as u64);
            // Zero rows of W and of Hᵀ: W·H floored at KL_EPS.
            let w: Vec<f32> = (0..rows * k)
                .map(|i| if (i / k) % 9 == 0 { 0.0 } else { next() })
                .collect();
            let ht: Vec<f32> = (0..cols * k)
                .map(|i| if (i / k) % 7 == 0 { 0.0 } else { next() })
                .collect();
            let mut want_parts = vec![f64::NAN; blocks.len()];
            let want = crate::kernel::kl_loss(&a, &w, &ht, k, &blocks, None, &mut want_parts);
            for group_rows in [1, 120] {
                let mut tiles = ColumnTiles::with_sizes(k, &blocks, 97, group_rows);
                for threads in [1, 2] {
                    let mut parts = vec![f64::NAN; blocks.len()];
                    let got = crate::testing::pool(threads).install(|| {
                        let tiles = Some(&mut tiles);
                        crate::kernel::kl_loss(&a, &w, &ht, k, &blocks, tiles, &mut parts)
                    });
                    let what = format!("k {k}, groups of {group_rows} rows, {threads} threads");
                    assert_eq!(got.to_bits(), want.to_bits(), "{what}");
                    assert_eq!(parts, want_parts, "{what}");
                    // Its sums are f64 and its own: the groups' f32 sums
                    // are never allocated for it (the final W solve's loss).
                    assert!(tiles.sums.is_empty(), "{what}");
                }
            }
        }
    }

    /// The product by column tiles is the gather's, bitwise, with the sums
    /// carried in N (one set) or in groups' sums (two and four), in one
    /// group or many, its blocks cut finer or not.
    #[test]
    fn tiled_products_equal_the_gather_bitwise() {
        let (rows, cols) = (300, 1000);
        let m = crate::testing::sparse(rows, cols, 0.06, 5);
        let mv = m.view();
        let a = Csr::from_view(&mv);
        let blocks = crate::testing::uneven_blocks();
        for k in [2, 4, 7, 8, 10, 20, 41, 50, 100, 110] {
            let mut next = crate::testing::xorshift(0x51ed + k as u64);
            // Signed values, as the SVD's sketches.
            let g: Vec<f32> = (0..cols * k).map(|_| next() - 0.5).collect();
            let mut want = vec![f32::NAN; rows * k];
            crate::kernel::spmm(&a, &g, k, &blocks, &mut want);
            // One group; groups of a few blocks cut finer; of one-row blocks.
            for group_bytes in [GROUP_BYTES, 40 * 4 * k * 4, 1] {
                for threads in [1, 2] {
                    let pool = crate::testing::pool(threads);
                    let mut got = vec![f32::NAN; rows * k];
                    pool.install(|| {
                        crate::kernel::dispatch_k!(
                            k,
                            spmm_by_tiles(&a, &g, k, &blocks, &mut got, 97, group_bytes)
                        )
                    });
                    assert!(
                        crate::testing::same_bits(&got, &want),
                        "k {k}, groups of {group_bytes} bytes, {threads} threads"
                    );
                }
            }
        }
    }

    /// The loss's cross term ⟨F, A·G⟩ by column tiles is the gather's, bitwise.
    #[test]
    fn tiled_cross_terms_equal_the_gather_bitwise() {
        let (rows, cols) = (300, 1000);
        let m = crate::testing::sparse(rows, cols, 0.06, 13);
        let mv = m.view();
        let a = Csr::from_view(&mv);
        let blocks = crate::testing::uneven_blocks();
        for k in [3, 4, 20, 50, 60] {
            let mut next = crate::testing::xorshift(0xdead + k as u64);
            let g: Vec<f32> = (0..cols * k).map(|_| next()).collect();
            let f: Vec<f32> = (0..rows * k).map(|_| next()).collect();
            let mut sums = vec![0f64; blocks.len()];
            let want = crate::kernel::cross_spmm(&a, &g, &f, k, &blocks, None, &mut sums);
            let want_sums = sums.clone();
            for group_rows in [1, 120] {
                let mut tiles = ColumnTiles::with_sizes(k, &blocks, 97, group_rows);
                let got =
                    crate::kernel::cross_spmm(&a, &g, &f, k, &blocks, Some(&mut tiles), &mut sums);
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "k {k}, groups of {group_rows}"
                );
                assert_eq!(sums, want_sums, "k {k}, groups of {group_rows}");
            }
        }
    }

    /// A matrix without columns has one empty tile, and its pass still
    /// finishes every block: N = 0, as gathered.
    #[test]
    fn a_matrix_without_columns_is_finished_too() {
        let (rows, k) = (5, 4);
        let m = sprs::CsMatI::<f32, u32, u64>::new(
            (rows, 0),
            vec![0; rows + 1],
            Vec::new(),
            Vec::new(),
        );
        let mv = m.view();
        let a = Csr::from_view(&mv);
        let blocks = Blocks {
            ranges: vec![0..2, 2..5],
        };
        let f0: Vec<f32> = (0..rows * k).map(|i| 1.0 + i as f32).collect();
        let s32 = vec![1f32; k * k];
        let side = |tiles| side(&blocks, tiles);
        let reg = Reg::default();
        let mut want = f0.clone();
        let want_dot = update_frob(
            NFrom::Product(&a),
            &mut want,
            &[],
            &s32,
            k,
            &mut side(None),
            Rule::Mu,
            reg,
        );
        let mut got = f0.clone();
        let tiles = ColumnTiles::with_sizes(k, &blocks, 97, 1);
        let dot = update_frob(
            NFrom::Product(&a),
            &mut got,
            &[],
            &s32,
            k,
            &mut side(Some(tiles)),
            Rule::Mu,
            reg,
        );
        assert_eq!(dot.to_bits(), want_dot.to_bits());
        assert_eq!(got, want);
        assert!(got.iter().all(|&x| x == 0.0));
        let mut n = vec![f32::NAN; rows * k];
        spmm_by_tiles::<4>(&a, &[], k, &blocks, &mut n, 97, GROUP_BYTES);
        assert!(n.iter().all(|&x| x == 0.0));
    }

    /// Finer blocks cover the same rows in order, each block cut into parts
    /// of equal rows (within one) of at most the given count.
    #[test]
    fn finer_blocks_cut_each_block_evenly() {
        let blocks = crate::testing::uneven_blocks();
        for most in [0, 1, 7, 40, 109, 1000] {
            let fine = finer(blocks.clone(), most);
            assert_eq!(fine.ranges.first().map(|r| r.start), Some(0));
            assert!(fine.ranges.windows(2).all(|w| w[0].end == w[1].start));
            assert_eq!(fine.ranges.last().map(|r| r.end), Some(300));
            for r in &blocks.ranges {
                let parts: Vec<_> = fine
                    .ranges
                    .iter()
                    .filter(|f| f.start >= r.start && f.end <= r.end)
                    .map(|f| f.len())
                    .collect();
                assert_eq!(parts.iter().sum::<usize>(), r.len(), "most {most}");
                assert!(parts.iter().all(|&p| p <= most.max(1)), "most {most}");
                let (lo, hi) = (parts.iter().min(), parts.iter().max());
                assert!(hi.zip(lo).is_some_and(|(h, l)| h - l <= 1), "most {most}");
            }
        }
    }

    #[test]
    fn tiles_only_for_a_factor_larger_than_the_cache() {
        // 1000 × 300,000 at k = 20: Hᵀ is 24 MB, at k = 30 36 MB.
        let m = sprs::CsMatI::<f32, u32, u64>::new(
            (1000, 300_000),
            vec![0; 1001],
            Vec::new(),
            Vec::new(),
        );
        let mv = m.view();
        let a = Csr::from_view(&mv);
        assert!(ColumnTiles::plan(&a, 20, &Blocks::new(&a, 20)).is_none());
        let blocks = Blocks::new(&a, 30);
        let tiles = ColumnTiles::plan(&a, 30, &blocks).expect("36 MB");
        assert_eq!(tiles.width, TILE_BYTES / 120);
        // Sums of 1000 rows × 2 sets × 30, well under an eighth of Hᵀ: one group.
        assert_eq!(tiles.groups, vec![0..blocks.len()]);
        assert_eq!(tiles.sums_len, 1000 * 2 * 30);
        // Blocks are cut finer only for tiles.
        assert_eq!(blocks_for(&a, 20).ranges, Blocks::new(&a, 20).ranges);
        assert_eq!(blocks_for(&a, 30).ranges, blocks.ranges);
    }

    /// On many rows the groups' sums stay within GROUP_BYTES, each of at
    /// least BLOCKS_PER_GROUP blocks but the last.
    #[test]
    fn groups_of_many_rows_fit_the_cache() {
        // 200,000 × 300,000 at k = 100 (one set, 400 bytes of sums a row).
        let rows = 200_000;
        let m = sprs::CsMatI::<f32, u32, u64>::new(
            (rows, 300_000),
            vec![0; rows + 1],
            Vec::new(),
            Vec::new(),
        );
        let mv = m.view();
        let a = Csr::from_view(&mv);
        let blocks = blocks_for(&a, 100);
        assert!(blocks.len() > Blocks::new(&a, 100).len());
        let tiles = ColumnTiles::plan(&a, 100, &blocks).expect("120 MB");
        assert!(tiles.groups.len() > 1);
        for (i, g) in tiles.groups.iter().enumerate() {
            let group_rows = blocks.ranges[g.end - 1].end - blocks.ranges[g.start].start;
            assert!(group_rows * 400 <= GROUP_BYTES);
            assert!(g.len() >= BLOCKS_PER_GROUP || i + 1 == tiles.groups.len());
        }
        assert!(tiles.sums_len * 4 <= GROUP_BYTES);
    }
}
