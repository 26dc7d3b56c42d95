//! The Frobenius iteration by column panels of X, for matrices whose terms
//! (rows of Xᵀ) are short and whose documents are few.
//!
//! The fit's usual iteration runs each half-step over row blocks of its own
//! sparse operand: W's over X's rows, gathering rows of Hᵀ; Hᵀ's over Xᵀ's
//! rows, gathering rows of W. On a matrix like the seed's (2034 × 26576, k =
//! 4: the whole problem sits in a core's cache) that costs twice over:
//! - each of the 26576 rows of Xᵀ holds 5 non-zeros on average, and a row
//!   costs about as much to set up as its non-zeros to add ([`Scatter`]
//!   avoids that alone);
//! - every half-step reads all of the factor that both cores have just
//!   written, and at its start each core waits for the lines the other one
//!   holds: the first block of each thread's W half-step took 50 µs, its
//!   second, of the same size, 30 µs, and that half-step was no faster on two
//!   threads than on one.
//!
//! Here the terms are split into P fixed panels (contiguous ranges balanced by
//! non-zeros) and each panel is one task that owns its rows of Hᵀ. A panel
//! holds its terms by falling length, in chunks of eight ([`Chunks`], built
//! once per fit from Xᵀ): slot s of a chunk holds the s-th non-zero of each
//! of its terms, so that the chunk's eight terms are summed side by side with
//! no branch or setup of their own (sorted by length, a chunk's terms have
//! about as many non-zeros: on the seed, 137,192 slots' entries for 133,634
//! non-zeros). Chunk by chunk the task forms
//! 1. `N_H = Xᵀ·W` for the chunk's terms, from W's rows (which both panels
//!    read: 32 KB on the seed);
//! 2. the rule on their rows of Hᵀ;
//! 3. `X_p·Hᵀ_p`, the panel's share of the next W half-step's N: the new
//!    rows' products added to their documents' rows of the share.
//!
//! then the Gram of its new rows (f64, as the usual half-step), still in its
//! core's cache, and the loss's ⟨Hᵀ_new, N_H⟩ from its share
//! ([`share_dot`]). From the first half-step on, Hᵀ's rows are kept in the
//! chunks' order (row `range.start + i` of a panel holds its i-th term), so
//! that a chunk's rows are read and written together; [`Panels::finish`]
//! puts them back in term order. MU at k = 4 runs all three in registers
//! ([`fused4`](crate::fused4)); other k and HALS run the rule on blocks of 16
//! chunks ([`panel_chunks`]).
//!
//! W's half-step then runs over row blocks of W, each block adding the P
//! shares of its rows in panel order and applying the rule to them (a serial
//! pass summing the shares before it had cost about 2 µs of the seed's
//! 100 µs iteration: throwaway timers, W's half-step 8.9 → 6.4–7.3 µs). The
//! panels, the chunks and every order of summation depend on the matrix
//! only, never on the thread count.
//!
//! History. The first panels (65e1829) scattered `N_H` over each row of X's
//! segment in the panel (found once per fit, by binary search), ran the rule
//! and Gram over the panel's rows, and gathered the share over X's segments:
//! on the seed problem (200 MU iterations, NNDSVDa) the whole fit went from
//! 77–85 to 63–74 ms on two threads. Chunks of terms replaced the segments:
//! `topicmill bench` on the seed, two threads, MU 185–196 → 140–146 µs per
//! iteration at k = 4, 314–326 → 296–298 at k = 8; HALS 293–309 → 287–291
//! and 673–687 → 657 µs; Hᵀ's rows in the chunks' order then took MU at k = 4
//! to 127–131 µs, and the seed problem's whole fit from 44–46 to 35.6–36.7 ms
//! (BENCHMARKS.md, "Terms side by side").
//!
//! [`Scatter`]: crate::kernel::Scatter

use std::ops::Range;

use rayon::prelude::*;

use crate::fused4::mu_panel_4;
use crate::kernel::{
    balanced_ranges, dispatch_k, frob_block_best, gram_chunk_best, multiversion, sum_partials, Csr,
    RowsPtr, Rule,
};
use crate::params::Reg;

/// The terms of a chunk.
pub(crate) const LANES: usize = 8;

/// The panel plan and its workspace (see the module's documentation).
pub(crate) struct Panels {
    /// Rows of X (documents).
    rows: usize,
    /// Each panel's terms in chunks.
    chunks: Vec<Chunks>,
    /// The panels' shares of `X·Hᵀ`: P × n × k.
    shares: Vec<f32>,
    /// Per panel: ⟨Hᵀ_new, N_H⟩ and the Gram of its new rows (k²).
    dots: Vec<f64>,
    grams: Vec<f64>,
    /// Whether Hᵀ's rows are in the chunks' order: from the first
    /// half-step until [`Panels::finish`].
    reordered: bool,
}

/// A panel's terms (rows of Xᵀ) in chunks of [`LANES`], each chunk's
/// non-zeros slot by slot: slot s holds the s-th non-zero of each of the
/// chunk's terms, so that a chunk's terms are summed side by side, with no
/// branch per term.
pub(crate) struct Chunks {
    /// The panel's terms by falling length (ties in term order), [`LANES`]
    /// per chunk (the last one may hold fewer).
    terms: Vec<u32>,
    /// Chunk c's slots are `slots[c]..slots[c + 1]` (as many as its first,
    /// longest term has non-zeros).
    slots: Vec<usize>,
    /// [`LANES`] entries per slot: where the row of W (and of a share) of
    /// the document (row of X) of each term's non-zero starts, document × k,
    /// and its value, in the term's order; (0, 0.0) past a term's end and for
    /// the lanes of a last chunk that has no term. (Offsets rather than
    /// documents: a multiply, or at k = 4 a shift, less per non-zero and
    /// pass; MU on the seed problem 0.127–0.137 → 0.123–0.135 ms per
    /// iteration, `topicmill bench`, eight alternated rounds.)
    offsets: Vec<u32>,
    vals: Vec<f32>,
    /// Every document is below this: X's rows.
    pub docs_below: usize,
    /// The rank the offsets are for.
    pub k: usize,
    /// The panel's terms: `terms` in another order.
    range: Range<usize>,
}

impl Chunks {
    /// The terms `r` of Xᵀ (`at`), whose documents lie below `n`, for rank
    /// `k`; `None` if a document does not, or if n·k does not fit an offset.
    fn new(at: &Csr<'_>, r: Range<usize>, n: usize, k: usize) -> Option<Self> {
        u32::try_from(n.checked_mul(k)?).ok()?;
        let len = |j: u32| (at.indptr[j as usize + 1] - at.indptr[j as usize]) as usize;
        let terms = by_falling_length(r.clone(), |j| len(j as u32));
        let mut slots = Vec::with_capacity(terms.len().div_ceil(LANES) + 1);
        slots.push(0);
        for c in terms.chunks(LANES) {
            slots.push(slots[slots.len() - 1] + len(c[0]));
        }
        let entries = slots[slots.len() - 1] * LANES;
        let (mut offsets, mut vals) = (vec![0u32; entries], vec![0f32; entries]);
        for (c, chunk) in terms.chunks(LANES).enumerate() {
            for (t, &j) in chunk.iter().enumerate() {
                let (ds, vs) = at.row(j as usize);
                for (s, (&d, &v)) in ds.iter().zip(vs).enumerate() {
                    if d as usize >= n {
                        return None;
                    }
                    let e = (slots[c] + s) * LANES + t;
                    // Below n·k, which fits (checked above).
                    (offsets[e], vals[e]) = (d * k as u32, v);
                }
            }
        }
        Some(Chunks {
            terms,
            slots,
            offsets,
            vals,
            docs_below: n,
            k,
            range: r,
        })
    }

    /// The terms of chunks `c` (contiguous).
    #[inline(always)]
    pub fn terms_of(&self, c: Range<usize>) -> &[u32] {
        &self.terms[c.start * LANES..self.terms.len().min(c.end * LANES)]
    }

    /// Chunk c: its terms, and its entries' offsets (document × k) and
    /// values.
    #[inline(always)]
    pub fn chunk(&self, c: usize) -> (&[u32], &[u32], &[f32]) {
        let e = self.slots[c] * LANES..self.slots[c + 1] * LANES;
        (
            self.terms_of(c..c + 1),
            &self.offsets[e.clone()],
            &self.vals[e],
        )
    }

    /// Chunks.
    pub fn len(&self) -> usize {
        self.slots.len() - 1
    }

    /// Terms.
    pub fn terms(&self) -> usize {
        self.terms.len()
    }
}

/// The items `r` by falling `len`, ties in item order: a counting sort by
/// length. (A stable sort by key, looking up two row pointers per
/// comparison, had the seed's panel plan at 0.32–0.40 ms; 0.17–0.25 ms with
/// this and the panels planned in parallel.)
fn by_falling_length(r: Range<usize>, len: impl Fn(usize) -> usize) -> Vec<u32> {
    let longest = r.clone().map(&len).max().unwrap_or(0);
    // Bucket b holds the items of length `longest - b`; `next[b]` is where
    // its next item goes.
    let mut next = vec![0usize; longest + 2];
    for j in r.clone() {
        next[longest - len(j) + 1] += 1;
    }
    for b in 1..next.len() {
        next[b] += next[b - 1];
    }
    let mut out = vec![0u32; r.len()];
    for j in r {
        let b = longest - len(j);
        out[next[b]] = j as u32;
        next[b] += 1;
    }
    out
}

/// Padding entries allowed beyond a quarter of the non-zeros (small
/// matrices: the tests' 6 × 40 pads 71 non-zeros to 88 entries).
const PADDING_ALLOWED: usize = 1024;

/// Non-zeros per panel on large inputs (fewer panels on small ones; at most
/// [`MAX_PANELS`]).
const NNZ_PER_PANEL: usize = 65536;
const MAX_PANELS: usize = 8;

impl Panels {
    /// The plan for X (`a`, n × m, with `at` = Xᵀ) at rank k, or `None` when
    /// the usual iteration suits better: X's columns of 8 non-zeros or more on
    /// average, panel shares (P × n × k values) above half of X's non-zeros,
    /// or chunks padded by more than a quarter of the non-zeros (and
    /// [`PADDING_ALLOWED`]: terms of lengths far apart).
    pub fn plan(a: &Csr<'_>, at: &Csr<'_>, k: usize) -> Option<Self> {
        let (n, m, nnz) = (a.rows, a.cols, a.nnz());
        let p = (nnz / NNZ_PER_PANEL).clamp(1, MAX_PANELS);
        if m == 0 || nnz >= 8 * m || 2 * p * n * k > nnz {
            return None;
        }
        // P contiguous ranges of about nnz / P each (column counts: the row
        // lengths of Xᵀ).
        let chunks: Vec<Chunks> = balanced_ranges(&at.indptr[..=m], p)
            .into_par_iter()
            .map(|r| Chunks::new(at, r, n, k))
            .collect::<Option<_>>()?;
        let entries: usize = chunks.iter().map(|c| c.offsets.len()).sum();
        if entries > nnz + nnz / 4 + PADDING_ALLOWED {
            return None;
        }
        let panels = chunks.len();
        Some(Panels {
            rows: n,
            shares: vec![0.0; panels * n * k],
            dots: vec![0.0; panels],
            grams: vec![0.0; panels * k * k],
            chunks,
            reordered: false,
        })
    }

    /// The shares of `X·Hᵀ` from the current Hᵀ (before the first W
    /// half-step, its rows in term order); Hᵀ is only read.
    pub fn start(&mut self, ht: &mut [f32], k: usize) {
        assert!(!self.reordered);
        self.run(ht, k, None);
    }

    /// Hᵀ's rows back in term order, after the last half-step.
    pub fn finish(&mut self, ht: &mut [f32], k: usize) {
        if self.reordered {
            self.reorder(ht, k, false);
            self.reordered = false;
        }
    }

    /// Hᵀ's rows from term order to the chunks' order (`to_chunks`), or
    /// back: row `range.start + i` of a panel holds term `terms[i]`. In
    /// place, cycle by cycle; each panel's terms are its range, so its cycles
    /// stay in its rows, and the panels are reordered in parallel. On the
    /// seed (throwaway timers, five fits each): 0.27–0.31 ms into the chunks'
    /// order and 0.34–0.55 ms back as one pass over all of Hᵀ, finding each
    /// position's panel by binary search; 0.07 and 0.10–0.14 ms so.
    fn reorder(&self, ht: &mut [f32], k: usize, to_chunks: bool) {
        // The panels' ranges cover Hᵀ's rows, in order.
        assert_eq!(ht.len(), self.chunks.last().map_or(0, |c| c.range.end) * k);
        let mut rest = ht;
        let mut parts = Vec::with_capacity(self.chunks.len());
        for c in &self.chunks {
            let (part, tail) = rest.split_at_mut(c.range.len() * k);
            parts.push((part, c));
            rest = tail;
        }
        parts
            .into_par_iter()
            .for_each(|(rows, c)| reorder_panel(rows, k, c, to_chunks));
    }

    /// The panels' shares of W's N (`X·Hᵀ`), one after the other: W's N is
    /// their sum, in panel order ([`NFrom::Shares`]).
    ///
    /// [`NFrom::Shares`]: crate::kernel::NFrom::Shares
    pub fn shares(&self) -> &[f32] {
        &self.shares
    }

    /// Hᵀ's half-step by panels (see the module's documentation), then the
    /// shares of the next `X·Hᵀ`. Returns ⟨Hᵀ_new, Xᵀ·W⟩, and the Gram of
    /// Hᵀ_new into `gram`.
    pub fn h_step(&mut self, ht: &mut [f32], k: usize, step: HStep<'_>, gram: &mut [f64]) -> f64 {
        assert!(step.w.len() == self.rows * k);
        if !self.reordered {
            self.reorder(ht, k, true);
            self.reordered = true;
        }
        self.run(ht, k, Some(step));
        sum_partials(&self.grams, gram);
        self.dots.iter().sum()
    }

    /// Every panel's task: with `step`, the half-step and the shares; without,
    /// the shares alone.
    fn run(&mut self, ht: &mut [f32], k: usize, step: Option<HStep<'_>>) {
        let terms: usize = self.chunks.iter().map(|c| c.terms.len()).sum();
        assert!(ht.len() == terms * k && self.shares.len() == self.chunks.len() * self.rows * k);
        assert!(
            self.chunks.iter().all(|c| c.k == k),
            "chunks planned for rank {k}"
        );
        let panel = Panel {
            rows: self.rows,
            ht: RowsPtr::new(ht),
            shares: RowsPtr::new(&mut self.shares),
            step,
        };
        let grams = self.grams.par_chunks_mut(k * k);
        self.dots
            .par_iter_mut()
            .zip(grams)
            .zip(self.chunks.par_iter())
            .enumerate()
            .for_each(|(p, ((dot, gram), chunks))| {
                *dot = dispatch_k!(k, panel_task_best(&panel, p, chunks, gram, k));
            });
    }
}

/// [`Panels::reorder`] on one panel's rows (`rows`, its range of Hᵀ): local
/// row i holds term `terms[i]` in the chunks' order, term
/// `range.start + i` in term order.
fn reorder_panel(rows: &mut [f32], k: usize, c: &Chunks, to_chunks: bool) {
    let term_at = |pos: usize| c.terms[pos] as usize - c.range.start;
    let len = c.range.len();
    let mut done = vec![false; len];
    let mut held = vec![0f32; k];
    for first in 0..len {
        if done[first] {
            continue;
        }
        held.copy_from_slice(&rows[first * k..(first + 1) * k]);
        let mut pos = first;
        loop {
            done[pos] = true;
            let from = term_at(pos);
            if to_chunks {
                // Row pos takes term `from`'s row; the cycle goes on there,
                // and ends where the held row belongs.
                if from == first {
                    rows[pos * k..(pos + 1) * k].copy_from_slice(&held);
                    break;
                }
                rows.copy_within(from * k..(from + 1) * k, pos * k);
            } else {
                // The held row (position pos's) goes to its term's row, whose
                // own row is held next.
                for (a, b) in held.iter_mut().zip(&mut rows[from * k..(from + 1) * k]) {
                    std::mem::swap(a, b);
                }
                if from == first {
                    break;
                }
            }
            pos = from;
        }
    }
}

/// What Hᵀ's half-step by panels takes: W new, `s32` = WᵀW (f32 copy), the
/// rule and Hᵀ's regularization.
pub(crate) struct HStep<'a> {
    pub w: &'a [f32],
    pub s32: &'a [f32],
    pub rule: Rule,
    pub reg: Reg,
}

/// What every panel task reads, and raw pointers to the rows each one owns.
struct Panel<'a> {
    rows: usize,
    ht: RowsPtr,
    shares: RowsPtr,
    /// The half-step, or `None` for the shares alone.
    step: Option<HStep<'a>>,
}

/// `nb` (LANES × k) = each lane's sum over the slots of its value times W's
/// row of its document (at `offsets`, document × k), slot by slot from 0: a
/// term's non-zeros in Xᵀ's order, as a scatter over X's rows in row order
/// adds them.
#[inline(always)]
fn gather<const K: usize>(offsets: &[u32], vals: &[f32], w: &[f32], kk: usize, nb: &mut [f32]) {
    let slots = offsets.chunks_exact(LANES).zip(vals.chunks_exact(LANES));
    if K > 0 {
        // In registers where they fit (eight at k = 4).
        let mut acc = [[0f32; K]; LANES];
        for (ds, vs) in slots {
            for t in 0..LANES {
                let i = ds[t] as usize;
                let wr: &[f32; K] = w[i..i + K].try_into().expect("K values");
                for q in 0..K {
                    acc[t][q] += vs[t] * wr[q];
                }
            }
        }
        nb.copy_from_slice(acc.as_flattened());
        return;
    }
    let k = kk;
    nb.fill(0.0);
    for (ds, vs) in slots {
        for ((&d, &v), o) in ds.iter().zip(vs).zip(nb.chunks_exact_mut(k)) {
            let i = d as usize;
            for (o, &x) in o.iter_mut().zip(&w[i..i + k]) {
                *o += v * x;
            }
        }
    }
}

/// Adds each lane's value times its row of `fb` (up to LANES rows of k; a
/// lane without one has value 0) to the row of `share` of its document (at
/// `offsets`, document × k), slot by slot, lane by lane.
#[inline(always)]
fn scatter<const K: usize>(
    offsets: &[u32],
    vals: &[f32],
    fb: &[f32],
    kk: usize,
    share: &mut [f32],
) {
    let slots = offsets.chunks_exact(LANES).zip(vals.chunks_exact(LANES));
    if K > 0 {
        // A copy in registers: stores into the share then cannot alias it.
        let mut h = [[0f32; K]; LANES];
        h.as_flattened_mut()[..fb.len()].copy_from_slice(fb);
        for (ds, vs) in slots {
            for t in 0..LANES {
                let i = ds[t] as usize;
                let o: &mut [f32; K] = (&mut share[i..i + K]).try_into().expect("K values");
                // Loaded, added and stored whole (vectorized: lanes of a slot
                // may share a document, and their rows are added in turn).
                let mut row = *o;
                for q in 0..K {
                    row[q] += vs[t] * h[t][q];
                }
                *o = row;
            }
        }
        return;
    }
    let k = kk;
    for (ds, vs) in slots {
        for ((&d, &v), h) in ds.iter().zip(vs).zip(fb.chunks_exact(k)) {
            let i = d as usize;
            for (o, &x) in share[i..i + k].iter_mut().zip(h) {
                *o += v * x;
            }
        }
    }
}

/// Chunks per block of [`panel_chunks`]: the rule runs on a block's rows at
/// once (128 rows, whole groups of HALS's interleaved sweeps).
pub(crate) const BLOCK_CHUNKS: usize = 16;

/// Panel p's task (its terms in `chunks`): with a half-step, N_H of its
/// terms, the rule on their rows of Hᵀ (in the chunks' order), the new rows'
/// products in the panel's share of `X·Hᵀ`, then the Gram of the new rows;
/// without, the share alone, from Hᵀ in term order. MU at k = 4 in one pass
/// ([`mu_panel_4`]) where AVX2 runs, else [`panel_chunks`]: the same bits.
/// Returns the panel's ⟨Hᵀ_new, N_H⟩ ([`share_dot`]).
#[inline(always)]
fn panel_task<const K: usize>(
    t: &Panel<'_>,
    p: usize,
    chunks: &Chunks,
    gram: &mut [f64],
    kk: usize,
) -> f64 {
    let k = if K == 0 { kk } else { K };
    let n = t.rows;
    // SAFETY: shares have P × n rows of k (checked by `Panels::run`); this
    // task owns panel p's n rows.
    let share = unsafe { t.shares.rows_mut(&(p * n..(p + 1) * n), k) };
    share.fill(0.0);
    // SAFETY: the panels' ranges are disjoint and cover Hᵀ's m rows of k
    // (checked by `Panels::run`): this task owns its range's rows, which
    // hold its terms (in either order).
    let rows = unsafe { t.ht.rows_mut(&chunks.range, k) };
    let Some(u) = &t.step else {
        shares_by_term::<K>(chunks, rows, share, k);
        return 0.0;
    };
    let fused = match u.rule {
        Rule::Mu if K == 4 => mu_panel_4(chunks, rows, u, share),
        _ => false,
    };
    if !fused {
        // Not in a closure: one would not inherit `panel_task_avx2`'s AVX2.
        panel_chunks::<K>(u, chunks, rows, share, k);
    }
    // The Gram of the panel's new rows, still in this core's cache.
    gram_chunk_best::<K>(gram, rows, k);
    share_dot(u.w, share)
}

/// The panel's ⟨Hᵀ_new, N_H⟩ (N_H = X_pᵀ·W) as ⟨W, X_p·Hᵀ_new⟩, from its
/// share: the same sum, `Σ_j ⟨h_j, Σ_i x_ij·w_i⟩ = Σ_i ⟨w_i, Σ_j x_ij·h_j⟩`,
/// over n·k values where the rule's rows hold m_p·k, and in a pass of its
/// own where the rule's sum, row by row in f64, was a chain of dependent
/// adds through the whole panel: on the seed, MU 0.124–0.127 → 0.110–0.114
/// ms per iteration (`topicmill bench`, k = 4, two threads, sixteen
/// alternated rounds, Intel Xeon family 6 model 167). The products are exact
/// in f64, summed in eight lanes by position, the lanes then added in order:
/// a result that depends on the share's length only. (`steps::cross` forms
/// the same kind of sum in one chain, row order, as the gathered half-steps'
/// own cross terms must, bit for bit; here no other sum has to match, and
/// one chain over the share would cost an f64 add's latency per value.)
#[inline(always)]
fn share_dot(w: &[f32], share: &[f32]) -> f64 {
    assert_eq!(w.len(), share.len());
    let mut lanes = [0f64; 8];
    let (wc, sc) = (w.chunks_exact(8), share.chunks_exact(8));
    let (wr, sr) = (wc.remainder(), sc.remainder());
    for (a, b) in wc.zip(sc) {
        for l in 0..8 {
            lanes[l] += a[l] as f64 * b[l] as f64;
        }
    }
    for ((s, &a), &b) in lanes.iter_mut().zip(wr).zip(sr) {
        *s += a as f64 * b as f64;
    }
    lanes.iter().sum()
}

multiversion!(panel_task_best, panel_task_avx2, panel_task,
    (t: &Panel<'_>, p: usize, chunks: &Chunks, gram: &mut [f64], kk: usize) -> f64);

/// The share of `X·Hᵀ` of a panel whose `rows` (its range of Hᵀ) are in term
/// order, chunk by chunk ([`scatter`]).
#[inline(always)]
fn shares_by_term<const K: usize>(chunks: &Chunks, rows: &[f32], share: &mut [f32], k: usize) {
    let mut fb = vec![0f32; LANES * k];
    for c in 0..chunks.len() {
        let (terms, offsets, vals) = chunks.chunk(c);
        for (f, &j) in fb.chunks_exact_mut(k).zip(terms) {
            let j = j as usize - chunks.range.start;
            f.copy_from_slice(&rows[j * k..(j + 1) * k]);
        }
        scatter::<K>(offsets, vals, &fb[..terms.len() * k], k, share);
    }
}

/// A panel's half-step by blocks of [`BLOCK_CHUNKS`] chunks, on its `rows`
/// of Hᵀ in the chunks' order: N_H of each chunk's terms ([`gather`]), the
/// rule on the block's rows, then each chunk's new rows into `share`
/// ([`scatter`]).
#[inline(always)]
fn panel_chunks<const K: usize>(
    u: &HStep<'_>,
    chunks: &Chunks,
    rows: &mut [f32],
    share: &mut [f32],
    k: usize,
) {
    let span = LANES * k;
    let mut nb = vec![0f32; BLOCK_CHUNKS * span];
    for (b, fb) in rows.chunks_mut(BLOCK_CHUNKS * span).enumerate() {
        let block = b * BLOCK_CHUNKS..chunks.len().min((b + 1) * BLOCK_CHUNKS);
        for (c, nc) in block.clone().zip(nb.chunks_exact_mut(span)) {
            let (_, offsets, vals) = chunks.chunk(c);
            gather::<K>(offsets, vals, u.w, k, nc);
        }
        let r = 0..fb.len() / k;
        let nc = &mut nb[..fb.len()];
        // Its ⟨F_new, N⟩ is not needed: `share_dot` gives the panel's.
        frob_block_best::<K>(None, &r, fb, nc, &[], u.s32, k, u.rule, u.reg);
        for (c, fc) in block.zip(fb.chunks(span)) {
            let (_, offsets, vals) = chunks.chunk(c);
            scatter::<K>(offsets, vals, fc, k, share);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::FLUSH_BELOW;

    /// `mu_panel_4` (AVX2) and `panel_chunks` (the loops that run at other
    /// k, for HALS, and where AVX2 or FMA is missing; their rule at k = 4 is
    /// `fused4::mu_rows_4` where AVX2 runs, tested against the plain loops in
    /// `kernel`) on the same panel: the same new rows of Hᵀ and share, bit
    /// for bit; and the share's ⟨W, X_p·Hᵀ_new⟩ ([`share_dot`]) is
    /// ⟨Hᵀ_new, N_H⟩ formed directly. Terms of up to a dozen non-zeros
    /// (empty ones, a last chunk of fewer than 8 terms, more than one block
    /// of chunks), rows of W and Hᵀ with zeros, values near the flush
    /// threshold and magnitudes far apart, with and without regularization.
    #[test]
    fn the_fused_mu_panel_equals_the_chunk_loops_bitwise() {
        if !crate::fused4::runs_here() {
            return;
        }
        let s32 = crate::testing::GRAM_4;
        let regs = [Reg { l1: 0.0, l2: 0.0 }, Reg { l1: 0.01, l2: 0.05 }];
        for (case, (n, m, density)) in [(3, 5, 0.5), (40, 131, 0.08), (300, 1500, 0.01)]
            .into_iter()
            .enumerate()
        {
            // Xᵀ (m × n), rows of a few non-zeros.
            let xt = crate::testing::sparse(m, n, density, case as u64 + 1);
            let view = xt.view();
            let at = Csr::from_view(&view);
            let chunks = Chunks::new(&at, 0..m, n, 4).expect("documents below n");
            let mut next = crate::testing::xorshift(0x5EED + case as u64);
            let mut factor = |rows: usize| -> Vec<f32> {
                (0..rows * 4)
                    .map(|_| match next() {
                        u if u < 0.1 => 0.0,
                        u if u < 0.15 => FLUSH_BELOW * (1.0 + 4.0 * next()),
                        // Magnitudes from 2⁻³⁰ to 1: sums in another order
                        // round otherwise, even in f64.
                        _ => next() * (-30.0 * next()).exp2(),
                    })
                    .collect()
            };
            let (w, ht) = (factor(n), factor(m));
            for reg in regs {
                let step = HStep {
                    w: &w,
                    s32: &s32,
                    rule: Rule::Mu,
                    reg,
                };
                // Hᵀ's rows taken to be in the chunks' order.
                let (mut ht_a, mut share_a) = (ht.clone(), vec![0f32; n * 4]);
                panel_chunks::<4>(&step, &chunks, &mut ht_a, &mut share_a, 4);
                let (mut ht_b, mut share_b) = (ht.clone(), vec![0f32; n * 4]);
                assert!(mu_panel_4(&chunks, &mut ht_b, &step, &mut share_b));
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&ht_a), bits(&ht_b), "{n} × {m}: Hᵀ");
                assert_eq!(bits(&share_a), bits(&share_b), "{n} × {m}: share");
                assert!(ht_a != ht, "{n} × {m}: the rule ran");
                // ⟨Hᵀ_new, N_H⟩ in f64 from its definition: row i of Hᵀ
                // holds term `terms[i]`, N_H's row of term j is Σ x_ji·w_i.
                let mut want = 0f64;
                for (i, &j) in chunks.terms.iter().enumerate() {
                    let (docs, vals) = at.row(j as usize);
                    for a in 0..4 {
                        let nh: f64 = docs
                            .iter()
                            .zip(vals)
                            .map(|(&d, &v)| v as f64 * w[d as usize * 4 + a] as f64)
                            .sum();
                        want += ht_a[i * 4 + a] as f64 * nh;
                    }
                }
                let got = share_dot(&w, &share_a);
                assert!(
                    (got - want).abs() <= 1e-5 * want.abs() && want > 0.0,
                    "{n} × {m}: ⟨W, share⟩ {got} against ⟨Hᵀ_new, N_H⟩ {want}"
                );
            }
        }
    }

    /// The counting sort gives the stable sort's order: by falling length,
    /// ties in item order, whatever the range's start; empty ranges too.
    #[test]
    fn terms_by_falling_length_as_a_stable_sort_orders_them() {
        let mut next = crate::testing::xorshift(0xABCD);
        let lens: Vec<usize> = (0..500)
            .map(|_| (next() * next() * 40.0) as usize)
            .collect();
        for r in [0..500, 17..400, 250..251, 300..300] {
            let got = by_falling_length(r.clone(), |j| lens[j]);
            let mut want: Vec<u32> = r.clone().map(|j| j as u32).collect();
            want.sort_by_key(|&j| std::cmp::Reverse(lens[j as usize]));
            assert_eq!(got, want, "{r:?}");
        }
    }

    /// A panel's chunks hold each term's non-zeros in order, slot by slot,
    /// with terms by falling length and zeros past each term's end.
    #[test]
    fn chunks_hold_each_term_in_order() {
        let xt = crate::testing::sparse(150, 40, 0.1, 9);
        let view = xt.view();
        let at = Csr::from_view(&view);
        let k = 3;
        let chunks = Chunks::new(&at, 10..150, 40, k).expect("documents below 40");
        let len = |j: u32| at.row(j as usize).0.len();
        assert_eq!(chunks.terms.len(), 140);
        assert!(chunks.terms.windows(2).all(|p| len(p[0]) >= len(p[1])));
        assert_eq!(chunks.len(), 140usize.div_ceil(LANES));
        for c in 0..chunks.len() {
            let (terms, offsets, vals) = chunks.chunk(c);
            for (t, &j) in terms.iter().enumerate() {
                let (ds, vs) = at.row(j as usize);
                let lane = |s: usize| (offsets[s * LANES + t], vals[s * LANES + t]);
                for s in 0..offsets.len() / LANES {
                    let want = if s < ds.len() {
                        (ds[s] * k as u32, vs[s])
                    } else {
                        (0, 0.0)
                    };
                    assert_eq!(lane(s), want, "term {j}, slot {s}");
                }
            }
        }
        // A document beyond X's rows is refused.
        assert!(Chunks::new(&at, 0..150, 39, k).is_none());
        // Nor are offsets beyond u32.
        assert!(Chunks::new(&at, 0..150, 40, 1 << 27).is_none());
    }

    /// Hᵀ's rows go to the chunks' order (row `range.start + i` of a panel
    /// holding term `terms[i]`) and back, whatever the cycles.
    #[test]
    fn rows_go_to_the_chunks_order_and_back() {
        // 140,000 non-zeros: two panels.
        let (n, m, k) = (1000, 40_000, 3);
        let x = crate::testing::sparse(n, m, 0.0035, 5);
        let xt = x.transpose_view().to_csr();
        let (xv, xtv) = (x.view(), xt.view());
        let (a, at) = (Csr::from_view(&xv), Csr::from_view(&xtv));
        let mut panels = Panels::plan(&a, &at, k).expect("short terms, few documents");
        assert_eq!(panels.chunks.len(), 2);
        let ht: Vec<f32> = (0..m * k).map(|v| v as f32).collect();
        let mut moved = ht.clone();
        panels.reorder(&mut moved, k, true);
        assert_ne!(moved, ht);
        for c in &panels.chunks {
            for (i, &j) in c.terms.iter().enumerate() {
                let (pos, j) = (c.range.start + i, j as usize);
                assert_eq!(moved[pos * k..(pos + 1) * k], ht[j * k..(j + 1) * k]);
            }
        }
        panels.reordered = true;
        panels.finish(&mut moved, k);
        assert_eq!(moved, ht);
        assert!(!panels.reordered);
    }
}
