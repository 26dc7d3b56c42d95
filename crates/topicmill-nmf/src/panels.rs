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
//! non-zeros) and each panel is one task that owns its rows of Hᵀ:
//! 1. `N_H = Xᵀ·W` for its terms, scattering the panel's segment of each row
//!    of X (the segments are found once per fit, by binary search);
//! 2. the rule on its rows of Hᵀ, with ⟨Hᵀ_new, N_H⟩ and the Gram of its new
//!    rows (f64, as the usual half-step; MU at k = 4 in one pass, see
//!    `fused4`);
//! 3. `X_p·Hᵀ_p`, the panel's share of the next W half-step's N, from the
//!    rows it has just written, still in its core's cache.
//!
//! W's half-step then adds the P shares of each row in panel order and applies
//! the rule over row blocks of W. The panels and every order of summation
//! depend on the matrix only, never on the thread count. On the seed problem
//! (200 MU iterations, NNDSVDa) the whole fit went from 77–85 to 63–74 ms on
//! two threads; on one it is a little slower, 103–104 → 105–111 ms.
//!
//! [`Scatter`]: crate::kernel::Scatter

use std::ops::Range;

use rayon::prelude::*;

use crate::fused4::mu_gram_4;
use crate::kernel::{
    balanced_ranges, dispatch_k, frob_block_best, gram_chunk_best, multiversion,
    sparse_row_times_from, sum_partials, sum_shares, Csr, RowsPtr, Rule,
};
use crate::params::Reg;

/// The panel plan and its workspace (see the module's documentation).
pub(crate) struct Panels {
    /// Term ranges of the panels.
    ranges: Vec<Range<usize>>,
    /// For row i of X, its panel p segment is `seg[i·(P+1) + p] ..
    /// seg[i·(P+1) + p + 1]`, relative to the row's start.
    seg: Vec<u32>,
    /// The panels' shares of `X·Hᵀ`: P × n × k.
    shares: Vec<f32>,
    /// Per panel: ⟨Hᵀ_new, N_H⟩ and the Gram of its new rows (k²).
    dots: Vec<f64>,
    grams: Vec<f64>,
}

/// Non-zeros per panel on large inputs (fewer panels on small ones; at most
/// [`MAX_PANELS`]).
const NNZ_PER_PANEL: usize = 65536;
const MAX_PANELS: usize = 8;

impl Panels {
    /// The plan for X (`a`, n × m, with `at` = Xᵀ) at rank k, or `None` when
    /// the usual iteration suits better: X's columns of 8 non-zeros or more on
    /// average, or panel shares (P × n × k values) above half of X's
    /// non-zeros.
    pub fn plan(a: &Csr<'_>, at: &Csr<'_>, k: usize) -> Option<Self> {
        let (n, m, nnz) = (a.rows, a.cols, a.nnz());
        let p = (nnz / NNZ_PER_PANEL).clamp(1, MAX_PANELS);
        if m == 0 || nnz >= 8 * m || 2 * p * n * k > nnz {
            return None;
        }
        // P contiguous ranges of about nnz / P each (column counts: the row
        // lengths of Xᵀ).
        let ranges = balanced_ranges(&at.indptr[..=m], p);
        let mut seg = vec![0u32; n * (ranges.len() + 1)];
        for (i, s) in seg.chunks_exact_mut(ranges.len() + 1).enumerate() {
            let (cols, _) = a.row(i);
            for (o, r) in s.iter_mut().zip(&ranges) {
                *o = cols.partition_point(|&c| (c as usize) < r.start) as u32;
            }
            s[ranges.len()] = cols.len() as u32;
        }
        let panels = ranges.len();
        Some(Panels {
            shares: vec![0.0; panels * n * k],
            dots: vec![0.0; panels],
            grams: vec![0.0; panels * k * k],
            ranges,
            seg,
        })
    }

    /// The shares of `X·Hᵀ` from the current Hᵀ (before the first W
    /// half-step); Hᵀ is only read.
    pub fn start(&mut self, a: &Csr<'_>, ht: &mut [f32], k: usize) {
        self.run(a, ht, k, None);
    }

    /// W's N: the sum of the panels' shares of each row, in panel order.
    pub fn n_w(&self, n: &mut [f32]) {
        sum_shares(n, &self.shares);
    }

    /// Hᵀ's half-step by panels (see the module's documentation), then the
    /// shares of the next `X·Hᵀ`. Returns ⟨Hᵀ_new, Xᵀ·W⟩, and the Gram of
    /// Hᵀ_new into `gram`.
    pub fn h_step(
        &mut self,
        a: &Csr<'_>,
        ht: &mut [f32],
        k: usize,
        step: HStep<'_>,
        gram: &mut [f64],
    ) -> f64 {
        assert!(step.w.len() == a.rows * k && step.nh.len() == ht.len());
        self.run(a, ht, k, Some(step));
        sum_partials(&self.grams, gram);
        self.dots.iter().sum()
    }

    /// Every panel's task: with `step`, the half-step and the shares; without,
    /// the shares alone.
    fn run(&mut self, a: &Csr<'_>, ht: &mut [f32], k: usize, step: Option<HStep<'_>>) {
        assert!(ht.len() == a.cols * k && self.shares.len() == self.ranges.len() * a.rows * k);
        let panel = Panel {
            a,
            seg: &self.seg,
            panels: self.ranges.len(),
            ht: RowsPtr::new(ht),
            shares: RowsPtr::new(&mut self.shares),
            step: step.map(|s| Update {
                w: s.w,
                nh: RowsPtr::new(s.nh),
                s32: s.s32,
                rule: s.rule,
                reg: s.reg,
            }),
        };
        let grams = self.grams.par_chunks_mut(k * k);
        self.dots
            .par_iter_mut()
            .zip(grams)
            .zip(self.ranges.par_iter())
            .enumerate()
            .for_each(|(p, ((dot, gram), r))| {
                *dot = dispatch_k!(k, panel_task_best(&panel, p, r, gram, k));
            });
    }
}

/// What Hᵀ's half-step by panels takes: W new, N_H's workspace (m × k),
/// `s32` = WᵀW (f32 copy), the rule and Hᵀ's regularization.
pub(crate) struct HStep<'a> {
    pub w: &'a [f32],
    pub nh: &'a mut [f32],
    pub s32: &'a [f32],
    pub rule: Rule,
    pub reg: Reg,
}

/// [`HStep`] as the panel tasks share it (N_H by raw pointer: each task
/// owns its panel's rows).
struct Update<'a> {
    w: &'a [f32],
    nh: RowsPtr,
    s32: &'a [f32],
    rule: Rule,
    reg: Reg,
}

/// What every panel task reads, and raw pointers to the rows each one owns.
struct Panel<'a> {
    a: &'a Csr<'a>,
    seg: &'a [u32],
    panels: usize,
    ht: RowsPtr,
    shares: RowsPtr,
    /// The half-step, or `None` for the shares alone.
    step: Option<Update<'a>>,
}

/// The segment of row i of X in panel p.
#[inline(always)]
fn segment<'a>(t: &Panel<'a>, i: usize, p: usize) -> (&'a [u32], &'a [f32]) {
    let (cols, vals) = t.a.row(i);
    let s = &t.seg[i * (t.panels + 1) + p..i * (t.panels + 1) + p + 2];
    let r = s[0] as usize..s[1] as usize;
    (&cols[r.clone()], &vals[r])
}

/// Panel p's task (terms `r`): steps 1-3 of the module's documentation when
/// given a half-step, else step 3 alone. Returns the panel's ⟨Hᵀ_new, N_H⟩.
#[inline(always)]
fn panel_task<const K: usize>(
    t: &Panel<'_>,
    p: usize,
    r: &Range<usize>,
    gram: &mut [f64],
    kk: usize,
) -> f64 {
    let k = if K == 0 { kk } else { K };
    let n = t.a.rows;
    // SAFETY: the panels' term ranges are disjoint and inside 0..m, and Hᵀ
    // and N_H have m rows of k (checked by `Panels::run` and `h_step`): this
    // task owns rows `r` of both.
    let htp = unsafe { t.ht.rows_mut(r, k) };
    let mut dot = 0.0;
    if let Some(u) = &t.step {
        // SAFETY: as above.
        let nhp = unsafe { u.nh.rows_mut(r, k) };
        nhp.fill(0.0);
        for i in 0..n {
            let (cols, vals) = segment(t, i, p);
            let wr = &u.w[i * k..(i + 1) * k];
            if K > 0 {
                // A copy in registers: stores into N_H then cannot alias it,
                // and the loop below vectorizes.
                let wr: [f32; K] = wr.try_into().expect("K values");
                for (&c, &v) in cols.iter().zip(vals) {
                    let c = c as usize - r.start;
                    let o: &mut [f32; K] =
                        (&mut nhp[c * K..c * K + K]).try_into().expect("K values");
                    for q in 0..K {
                        o[q] += v * wr[q];
                    }
                }
            } else {
                for (&c, &v) in cols.iter().zip(vals) {
                    let c = c as usize - r.start;
                    for (o, &x) in nhp[c * k..(c + 1) * k].iter_mut().zip(wr) {
                        *o += v * x;
                    }
                }
            }
        }
        let fused = match (K, u.rule) {
            // The rule and the Gram in one pass, where AVX2 runs (the same
            // bits as below).
            (4, Rule::Mu) => mu_gram_4(htp, nhp, u.s32, u.reg, gram),
            _ => None,
        };
        dot = fused.unwrap_or_else(|| {
            // Through the rule's own function: inlined here, it ran 2.5×
            // slower (the factor rows come from a raw pointer, and the
            // compiler no longer knew that stores into them leave the Gram
            // alone).
            let dot = frob_block_best::<K>(None, r, htp, nhp, &[], u.s32, k, u.rule, u.reg);
            gram_chunk_best::<K>(gram, htp, k);
            dot
        });
    }
    // Step 3: the segment's columns all lie in `r`, and `htp` holds rows r
    // of Hᵀ.
    // SAFETY: shares have P × n rows of k; this task owns panel p's n rows.
    let share = unsafe { t.shares.rows_mut(&(p * n..(p + 1) * n), k) };
    for (i, out) in share.chunks_exact_mut(k).enumerate() {
        let (cols, vals) = segment(t, i, p);
        sparse_row_times_from::<K>(cols, vals, htp, r.start, k, out);
    }
    dot
}

multiversion!(panel_task_best, panel_task_avx2, panel_task,
    (t: &Panel<'_>, p: usize, r: &Range<usize>, gram: &mut [f64], kk: usize) -> f64);
