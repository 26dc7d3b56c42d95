//! The fit loop: initialization, alternating half-steps, loss and stopping.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use topicmill_sparse::{CsrMatrix, CsrView};

use crate::checks;
use crate::error::{NmfError, Result};
use crate::init::initialize;
use crate::kernel::{
    self, gram, gram_partials_len, update_frob, update_kl, Blocks, Csr, NFrom, Rule, Scatter, Side,
};
use crate::model::{solve_w, NmfModel, StopReason};
use crate::panels::{HStep, Panels};
use crate::params::{exponent_for, times_pow2, Loss, NmfParams, Reg, Solver};

/// What the progress callback sees after each iteration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// Iterations done (1-based).
    pub iteration: usize,
    /// The reconstruction error after this iteration, when it was evaluated:
    /// every iteration for the Frobenius loss (it is nearly free), every 10th
    /// and the last for Kullback–Leibler.
    pub loss: Option<f64>,
    /// Time since `fit` started, initialization included.
    pub elapsed: Duration,
}

/// How often the tolerance is checked (and the KL loss evaluated), as in scikit-learn's MU.
pub(crate) const CHECK_EVERY: usize = 10;

impl NmfParams {
    /// Fits X (n documents × m terms). See [`NmfParams::fit_with`].
    pub fn fit(&self, x: &CsrView<'_>) -> Result<NmfModel> {
        self.fit_with(x, None, |_| ControlFlow::Continue(()))
    }

    /// Fits X, using `xt` as Xᵀ in CSR when given (it is computed once
    /// otherwise), and calling `callback` after every iteration; the
    /// callback returns `ControlFlow::Break(())` to stop early. The fit runs
    /// on a thread of rayon's pool (the calling thread when it is one of
    /// them), and so does the callback.
    ///
    /// The returned model's W is `transform(X)` with the final H (see
    /// [`NmfModel::transform`]), so fitting and then transforming the same
    /// documents gives exactly the fitted W.
    ///
    /// X and `xt` must be CSR storage ([`NmfError::NotCsr`] for a
    /// `transpose_view()`). A transpose given is checked, not trusted: its
    /// shape and number of values ([`NmfError::TransposeMismatch`]), every
    /// value finite and ≥ 0 ([`NmfError::TransposeValue`]) and every entry
    /// X's, transposed ([`NmfError::TransposeEntryMismatch`]): both are
    /// read once, in parallel, and a difference is then located exactly
    /// ([`topicmill_sparse::transpose_difference`]; 0.15 s beside a 1.5 s
    /// two-iteration fit of 70 M non-zeros). A fit whose
    /// factors cannot be allocated is [`NmfError::TooLarge`], before any
    /// work.
    ///
    /// X may hold values of any finite magnitude: when its largest lies
    /// outside `[2^-16, 2^40]` the fit runs on X times a power of two that
    /// brings it into `[1, 4)` and scales the factors and errors back (the
    /// fit of X·2^e is then the fit of X scaled, bitwise). A fit whose
    /// factors or errors would still not be finite returns
    /// [`NmfError::NonFiniteResult`] rather than a model.
    pub fn fit_with<F>(
        &self,
        x: &CsrView<'_>,
        xt: Option<&CsrView<'_>>,
        callback: F,
    ) -> Result<NmfModel>
    where
        F: FnMut(&Progress) -> ControlFlow<()> + Send,
    {
        self.fit_impl(x, xt, None, callback)
    }

    /// Like [`NmfParams::fit_with`] but starting from given factors
    /// (scikit-learn's `init="custom"`): `w0` is n × k and `ht0` is m × k,
    /// row-major, non-negative and finite. The `init` parameter is ignored.
    pub fn fit_from<F>(
        &self,
        x: &CsrView<'_>,
        xt: Option<&CsrView<'_>>,
        w0: Vec<f32>,
        ht0: Vec<f32>,
        callback: F,
    ) -> Result<NmfModel>
    where
        F: FnMut(&Progress) -> ControlFlow<()> + Send,
    {
        let (n, m, k) = (x.rows(), x.cols(), self.k);
        if w0.len() != n * k || ht0.len() != m * k {
            return Err(NmfError::InitShapeMismatch {
                w: w0.len(),
                ht: ht0.len(),
                n,
                m,
                k,
            });
        }
        if w0.iter().chain(&ht0).any(|v| !(v.is_finite() && *v >= 0.0)) {
            return Err(NmfError::InvalidInitValue);
        }
        self.fit_impl(x, xt, Some((w0, ht0)), callback)
    }

    /// Rows `w_rows` of W and all of Hᵀ (row-major) of the random
    /// initialization (`Init::Random`, this seed and k) of an n × m matrix
    /// whose values sum to `x_sum`: what [`initial_factors`] returns for it,
    /// restricted to those rows of W, without the matrix. A driver that holds
    /// only some documents (a rank of the distributed fit) starts here.
    ///
    /// [`initial_factors`]: NmfParams::initial_factors
    ///
    /// # Errors
    /// As `fit` would for such a matrix: invalid parameters
    /// ([`NmfParams::validate`]), an empty shape ([`NmfError::EmptyMatrix`]),
    /// `k > min(n, m)` ([`NmfError::TooManyComponents`]), factors that
    /// cannot be allocated ([`NmfError::TooLarge`]); and a sum that is not
    /// a finite number > 0 ([`NmfError::InvalidSum`]: the factors would be
    /// NaN, infinite or zero), rows that are not a range of `0..n`
    /// ([`NmfError::RowsOutOfRange`]).
    pub fn random_factors(
        &self,
        n: usize,
        m: usize,
        x_sum: f64,
        w_rows: std::ops::Range<usize>,
    ) -> Result<(Vec<f32>, Vec<f32>)> {
        self.validate()?;
        if n == 0 || m == 0 {
            return Err(NmfError::EmptyMatrix {
                rows: n,
                cols: m,
                nnz: 0,
            });
        }
        if self.k > n.min(m) {
            return Err(NmfError::TooManyComponents {
                k: self.k,
                max: n.min(m),
                rows: n,
                cols: m,
            });
        }
        if !(x_sum.is_finite() && x_sum > 0.0) {
            return Err(NmfError::InvalidSum(x_sum));
        }
        if w_rows.start > w_rows.end || w_rows.end > n {
            return Err(NmfError::RowsOutOfRange {
                start: w_rows.start,
                end: w_rows.end,
                rows: n,
            });
        }
        checks::memory_for(w_rows.len(), m, self.k, self.k, false)?;
        let mean = x_sum / (n as f64 * m as f64);
        Ok(crate::init::random(n, m, self.k, mean, self.seed, w_rows))
    }

    /// The (W n × k, Hᵀ m × k) row-major factors that `fit` starts from with
    /// these parameters: the same init, seed and random streams. A driver that
    /// runs the iterations elsewhere (the distributed fit) starts here too.
    /// X and `xt` are checked as [`NmfParams::fit_with`] checks them.
    pub fn initial_factors(
        &self,
        x: &CsrView<'_>,
        xt: Option<&CsrView<'_>>,
    ) -> Result<(Vec<f32>, Vec<f32>)> {
        self.validate_for(x)?;
        self.memory_for(x)?;
        let mut owned_t = None;
        let xt_view = transpose_or_check(x, xt, &mut owned_t)?;
        initialize(
            &Csr::from_view(x),
            &Csr::from_view(&xt_view),
            self.k,
            self.init,
            self.seed,
        )
    }

    /// [`checks::memory_for`] a fit of `x` from this init.
    fn memory_for(&self, x: &CsrView<'_>) -> Result<()> {
        let svd = self.init != crate::params::Init::Random;
        checks::memory_for(x.rows(), x.cols(), self.k, self.kernel_k(), svd)
    }

    fn fit_impl<F>(
        &self,
        x: &CsrView<'_>,
        xt: Option<&CsrView<'_>>,
        start_factors: Option<(Vec<f32>, Vec<f32>)>,
        callback: F,
    ) -> Result<NmfModel>
    where
        F: FnMut(&Progress) -> ControlFlow<()> + Send,
    {
        // A parallel loop started from outside rayon's pool hands its work
        // to the pool and puts the caller to sleep until it is done: a
        // wake-up and a context switch per loop, four loops per iteration.
        // On the seed problem (2034 × 26576, k = 4) that was 15 % of the fit
        // (116 → 98 ms for 200 MU iterations). On a worker of the pool the
        // loops start in place.
        rayon::scope(|_| self.fit_in_pool(x, xt, start_factors, callback))
    }

    fn fit_in_pool<F>(
        &self,
        x: &CsrView<'_>,
        xt: Option<&CsrView<'_>>,
        start_factors: Option<(Vec<f32>, Vec<f32>)>,
        mut callback: F,
    ) -> Result<NmfModel>
    where
        F: FnMut(&Progress) -> ControlFlow<()>,
    {
        let start = Instant::now();
        let largest = self.validated_largest(x)?;
        // NNDSVD's basis too, unless the factors are given.
        match start_factors {
            Some(_) => checks::memory_for(x.rows(), x.cols(), self.k, self.kernel_k(), false)?,
            None => self.memory_for(x)?,
        }
        let mut owned_t = None;
        let xt_view = transpose_or_check(x, xt, &mut owned_t)?;
        let x_given = Csr::from_view(x);
        let (n, m, k) = (x_given.rows, x_given.cols, self.k);
        debug_assert_eq!((n, m), (x.rows(), x.cols()));
        // Data whose largest value lies outside the range the float32 engine
        // takes as it is are fitted multiplied by 2^s (s even), W and H each
        // by 2^(s/2), with the regularization of the same minimizer; the
        // errors and factors are scaled back. Exact: the iterates are the
        // unscaled problem's, short of the absolute thresholds that made
        // such data fail. s = 0 for any other data: nothing changes.
        let s = exponent_for(largest as f64);
        let half = s / 2;
        let scaled_data;
        let scaled_tdata;
        let (a, at) = if s == 0 {
            (x_given, Csr::from_view(&xt_view))
        } else {
            let at = Csr::from_view(&xt_view);
            scaled_data = scaled(x_given.data, s);
            scaled_tdata = scaled(at.data, s);
            (
                Csr {
                    data: &scaled_data,
                    ..x_given
                },
                Csr {
                    data: &scaled_tdata,
                    ..at
                },
            )
        };
        let err_scale = match self.loss {
            Loss::Frobenius => 2f64.powi(-s),
            Loss::KullbackLeibler => 2f64.powi(-half),
        };
        let (mut w, mut ht) = match start_factors {
            Some((mut w, mut ht)) => {
                times_pow2(&mut w, half);
                times_pow2(&mut ht, half);
                (w, ht)
            }
            None => initialize(&a, &at, k, self.init, self.seed)?,
        };
        // A Frobenius fit runs at a k with compiled loops, its extra columns
        // zero throughout (`kernel::padded_k`).
        let kp = self.kernel_k();
        if kp != k {
            w = kernel::pad_columns_in_place(w, k, kp);
            ht = kernel::pad_columns_in_place(ht, k, kp);
        }

        // Each side's fixed factor is scaled by 2^half.
        let regs = self.scaled_regularization(n, m, s, half);
        let mut state = Iterate::with_regularization(a, at, kp, w, ht, self, regs);
        let loss0 = state.initial_loss() * err_scale;
        let mut history = vec![(0usize, loss0)];
        let mut last_check = loss0;
        let mut stop = StopReason::MaxIter;
        let mut iterations = 0;

        for it in 1..=self.max_iter {
            let loss = state
                .step(it % CHECK_EVERY == 0 || it == self.max_iter)
                .map(|l| l * err_scale);
            iterations = it;
            if let Some(l) = loss {
                history.push((it, l));
            }
            let elapsed = start.elapsed();
            if callback(&Progress {
                iteration: it,
                loss,
                elapsed,
            })
            .is_break()
            {
                stop = StopReason::Callback;
                break;
            }
            if it % CHECK_EVERY == 0 {
                let l = loss.expect("the loss is evaluated at every check");
                if self.tol > 0.0 && loss0 > 0.0 && (last_check - l) / loss0 < self.tol {
                    stop = StopReason::Converged;
                    break;
                }
                last_check = l;
            }
            if self.time_budget.is_some_and(|b| elapsed >= b) {
                stop = StopReason::TimeBudget;
                break;
            }
        }

        // Free everything of the iterations but Hᵀ and W's row blocks (W, both
        // N buffers, the n/512 · k² Gram partials) before the final solve
        // allocates its own: fields left in a partly moved struct would live to
        // the end of this function.
        let (mut ht, blocks) = state.into_final();
        times_pow2(&mut ht, -half);
        // W as `transform` of the data given computes it (scaled there too
        // when they need it), so that the two agree bitwise.
        let (mut w_final, err) = solve_w(&x_given, s, &ht, kp, self, &blocks);
        if kp != k {
            w_final = kernel::unpad_columns_in_place(w_final, kp, k);
            ht = kernel::unpad_columns_in_place(ht, kp, k);
        }
        check_finite(&w_final, &ht, k, &history, err)?;
        NmfModel::from_parts(
            self.clone(),
            n,
            m,
            w_final,
            ht,
            history,
            iterations,
            stop,
            err,
        )
    }
}

/// `values` multiplied by `2^e`, a copy.
fn scaled(values: &[f32], e: i32) -> Vec<f32> {
    let mut v = values.to_vec();
    times_pow2(&mut v, e);
    v
}

/// The last guard of a fit: a factor or an error that is not a finite
/// number (which no valid fit of finite data should leave) is
/// [`NmfError::NonFiniteResult`] rather than a model that its own loader
/// would refuse. `w` (n × k) and `ht` (m × k) row-major; `w` may be empty
/// when a driver checks W elsewhere (the distributed fit:
/// [`crate::steps::final_w`] checks it).
pub fn check_finite(
    w: &[f32],
    ht: &[f32],
    k: usize,
    history: &[(usize, f64)],
    err: f64,
) -> Result<()> {
    for (name, factor, what) in [("W", w, "document"), ("H", ht, "term")] {
        if let Some(at) = checks::first_non_finite(factor) {
            return Err(NmfError::NonFiniteResult(format!(
                "{name} holds {} at {what} {}, topic {}",
                factor[at],
                at / k + 1,
                at % k + 1
            )));
        }
    }
    if let Some((it, e)) = history.iter().find(|(_, e)| !e.is_finite()) {
        return Err(NmfError::NonFiniteResult(format!(
            "the error after iteration {it} is {e}"
        )));
    }
    if !err.is_finite() {
        return Err(NmfError::NonFiniteResult(format!(
            "the final error is {err}"
        )));
    }
    Ok(())
}

/// scikit-learn's reported error for the Frobenius loss: `‖X − WH‖_F`
/// from the squared norm (clamped at 0 against cancellation).
pub(crate) fn frob_err(sq: f64) -> f64 {
    sq.max(0.0).sqrt()
}

/// scikit-learn's reported error for KL: `sqrt(2 · D_KL)`.
pub(crate) fn kl_err(d: f64) -> f64 {
    (2.0 * d.max(0.0)).sqrt()
}

/// How a Frobenius iteration forms `X·Hᵀ` and `Xᵀ·W`.
pub(crate) enum Form {
    /// Each gathered over the rows of its sparse operand (X, then Xᵀ).
    Gather,
    /// `X·Hᵀ` gathered, `Xᵀ·W` scattered from X's rows ([`Scatter`]): short
    /// rows of Xᵀ.
    Scatter(Scatter),
    /// Both by column panels of X ([`Panels`]): short rows of Xᵀ, and few
    /// enough documents for a share of `X·Hᵀ` per panel.
    Panels(Panels),
}

impl Form {
    /// The form for X (`a`, with `at` = Xᵀ) at rank k; KL's iteration is its
    /// own, and gathers.
    fn plan(a: &Csr<'_>, at: &Csr<'_>, k: usize, loss: Loss) -> Self {
        if loss != Loss::Frobenius {
            return Form::Gather;
        }
        if let Some(p) = Panels::plan(a, at, k) {
            return Form::Panels(p);
        }
        Scatter::plan(a, at, k).map_or(Form::Gather, Form::Scatter)
    }
}

/// The state of the alternating iterations: factors, Grams and workspaces,
/// all allocated once.
pub(crate) struct Iterate<'x> {
    a: Csr<'x>,
    at: Csr<'x>,
    k: usize,
    pub w: Vec<f32>,
    pub ht: Vec<f32>,
    side_w: Side,
    side_h: Side,
    /// How a Frobenius iteration forms its sparse products.
    form: Form,
    part_w: Vec<f64>,
    part_h: Vec<f64>,
    s_w: Vec<f64>,
    s_h: Vec<f64>,
    s32: Vec<f32>,
    sums: Vec<f32>,
    /// Per-block partials over X's row blocks (the loss terms).
    parts: Vec<f64>,
    xnorm2: f64,
    is_kl: bool,
    rule: Rule,
    reg_w: Reg,
    reg_h: Reg,
}

impl Iterate<'_> {
    /// Hᵀ (its rows in term order) and W's row blocks; every other buffer
    /// is freed here.
    fn into_final(mut self) -> (Vec<f32>, Blocks) {
        if let Form::Panels(panels) = &mut self.form {
            panels.finish(&mut self.ht, self.k);
        }
        (self.ht, self.side_w.blocks)
    }
}

fn to32(s: &[f64], out: &mut [f32]) {
    kernel::gram_to_f32(s, out);
}

impl<'x> Iterate<'x> {
    pub fn new(
        a: Csr<'x>,
        at: Csr<'x>,
        k: usize,
        w: Vec<f32>,
        ht: Vec<f32>,
        p: &NmfParams,
    ) -> Self {
        let regs = p.regularization(a.rows, a.cols);
        Self::with_regularization(a, at, k, w, ht, p, regs)
    }

    /// [`Iterate::new`] with the regularization of W and of H given (of
    /// the scaled problem of a scaled fit).
    pub fn with_regularization(
        a: Csr<'x>,
        at: Csr<'x>,
        k: usize,
        w: Vec<f32>,
        ht: Vec<f32>,
        p: &NmfParams,
        (reg_w, reg_h): (Reg, Reg),
    ) -> Self {
        let (n, m) = (a.rows, a.cols);
        let form = Form::plan(&a, &at, k, p.loss);
        // Only a half-step whose N is formed outside it keeps one: W's with
        // the panels, Hᵀ's with the scatter (the panels form N_H a block of
        // rows at a time, see `panels`).
        // A gathered half-step gathers by column tiles when its fixed factor
        // is larger than the cache.
        let gathered = |a: &Csr<'_>| Side::tiled(a, k);
        let side_w = match form {
            Form::Panels(_) => Side::with_n(&a, k).with_grams(k),
            _ => gathered(&a),
        };
        let side_h = match form {
            Form::Panels(_) => Side::new(&at, k),
            Form::Scatter(_) => Side::with_n(&at, k),
            Form::Gather => gathered(&at),
        };
        let mut it = Iterate {
            parts: vec![0f64; side_w.blocks.len()],
            part_w: vec![0f64; gram_partials_len(n, k)],
            part_h: vec![0f64; gram_partials_len(m, k)],
            s_w: vec![0f64; k * k],
            s_h: vec![0f64; k * k],
            s32: vec![0f32; k * k],
            sums: vec![0f32; k],
            xnorm2: a.sq_norm(),
            form,
            is_kl: p.loss == Loss::KullbackLeibler,
            rule: match p.solver {
                Solver::Mu => Rule::Mu,
                Solver::Hals => Rule::Hals,
            },
            a,
            at,
            k,
            w,
            ht,
            side_w,
            side_h,
            reg_w,
            reg_h,
        };
        gram(&it.ht, k, &mut it.part_h, &mut it.s_h);
        gram(&it.w, k, &mut it.part_w, &mut it.s_w);
        if let Form::Panels(panels) = &mut it.form {
            panels.start(&mut it.ht, k);
        }
        it
    }

    /// The error of the current factors (used once, at the start).
    pub fn initial_loss(&mut self) -> f64 {
        let k = self.k;
        if self.is_kl {
            kl_err(kernel::kl_loss(
                &self.a,
                &self.w,
                &self.ht,
                k,
                &self.side_w.blocks,
                self.side_w.tiles.as_mut(),
                &mut self.parts,
            ))
        } else {
            let fn_ = kernel::cross_spmm(
                &self.a,
                &self.ht,
                &self.w,
                k,
                &self.side_w.blocks,
                self.side_w.tiles.as_mut(),
                &mut self.parts,
            );
            crate::steps::frobenius_error(self.xnorm2, fn_, &self.s_w, &self.s_h)
        }
    }

    /// One iteration (W then H). Returns the error afterwards: always for
    /// the Frobenius loss, for KL only when `eval_kl`.
    pub fn step(&mut self, eval_kl: bool) -> Option<f64> {
        let k = self.k;
        if self.is_kl {
            for (o, v) in self.sums.iter_mut().zip(kernel::col_sums(&self.ht, k)) {
                *o = v as f32;
            }
            update_kl(
                &self.a,
                &mut self.w,
                &self.ht,
                &self.sums,
                k,
                &mut self.side_w,
                self.reg_w,
            );
            for (o, v) in self.sums.iter_mut().zip(kernel::col_sums(&self.w, k)) {
                *o = v as f32;
            }
            update_kl(
                &self.at,
                &mut self.ht,
                &self.w,
                &self.sums,
                k,
                &mut self.side_h,
                self.reg_h,
            );
            eval_kl.then(|| {
                kl_err(kernel::kl_loss(
                    &self.a,
                    &self.w,
                    &self.ht,
                    k,
                    &self.side_w.blocks,
                    self.side_w.tiles.as_mut(),
                    &mut self.parts,
                ))
            })
        } else {
            to32(&self.s_h, &mut self.s32);
            // W's N: gathered over X's rows, or the sum of the panels' shares
            // (each block of W's rows summing its own).
            let from = match &self.form {
                Form::Panels(panels) => NFrom::Shares(panels.shares()),
                Form::Gather | Form::Scatter(_) => NFrom::Product(&self.a),
            };
            update_frob(
                from,
                &mut self.w,
                &self.ht,
                &self.s32,
                k,
                &mut self.side_w,
                self.rule,
                self.reg_w,
            );
            // With the panels, W's blocks formed their Grams as they went,
            // in parallel and on rows still in cache (`with_grams` above).
            // (A serial Gram of W after the half-step, half of W's rows then
            // in the other core's cache, took 3.3 µs of the seed's iteration
            // on two threads, against 1.6 on one, and the panels' second task
            // started 6–8 µs after the first, its thread idle meanwhile, where
            // it now starts 1–2 µs after: throwaway timers, Intel Xeon family
            // 6 model 167; MU 0.119–0.128 → 0.116–0.127 ms per iteration,
            // `topicmill bench`, eight alternated rounds.)
            self.side_w
                .gram(&self.w, k, &mut self.part_w, &mut self.s_w);
            to32(&self.s_w, &mut self.s32);
            let dot_h = match &mut self.form {
                // The panels' tasks sum the Gram of Hᵀ as they go.
                Form::Panels(panels) => panels.h_step(
                    &mut self.ht,
                    k,
                    HStep {
                        w: &self.w,
                        s32: &self.s32,
                        rule: self.rule,
                        reg: self.reg_h,
                    },
                    &mut self.s_h,
                ),
                form => {
                    // Hᵀ's N: scattered from X's rows, or gathered over Xᵀ's.
                    let from = match form {
                        Form::Scatter(scatter) => {
                            scatter.run(&self.a, &self.w, k, &mut self.side_h.n);
                            NFrom::Given
                        }
                        _ => NFrom::Product(&self.at),
                    };
                    let dot = update_frob(
                        from,
                        &mut self.ht,
                        &self.w,
                        &self.s32,
                        k,
                        &mut self.side_h,
                        self.rule,
                        self.reg_h,
                    );
                    self.side_h
                        .gram(&self.ht, k, &mut self.part_h, &mut self.s_h);
                    dot
                }
            };
            Some(crate::steps::frobenius_error(
                self.xnorm2,
                dot_h,
                &self.s_w,
                &self.s_h,
            ))
        }
    }
}

/// `xt` checked against `x` (X itself checked already: its values), or Xᵀ
/// built into `owned` when not given. Both must be CSR storage. A transpose
/// given is checked in full ([`crate::checks::transpose_matches`]): its
/// shape and number of values, and every entry X's, transposed, with the
/// same value.
fn transpose_or_check<'v>(
    x: &CsrView<'_>,
    xt: Option<&'v CsrView<'v>>,
    owned: &'v mut Option<CsrMatrix>,
) -> Result<CsrView<'v>> {
    checks::csr_storage(x, "X")?;
    match xt {
        Some(t) => {
            checks::csr_storage(t, "Xᵀ (the transpose given)")?;
            if t.rows() != x.cols() || t.cols() != x.rows() || t.nnz() != x.nnz() {
                return Err(NmfError::TransposeMismatch {
                    rows: x.cols(),
                    cols: x.rows(),
                    nnz: x.nnz(),
                    got_rows: t.rows(),
                    got_cols: t.cols(),
                    got_nnz: t.nnz(),
                });
            }
            checks::transpose_matches(x, t)?;
            Ok(t.view())
        }
        None => Ok(owned.insert(x.transpose_view().to_csr()).view()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The last guard of a fit: any factor entry or recorded error that is
    /// not finite is an error naming it, and finite results pass.
    #[test]
    fn a_fit_with_non_finite_results_is_an_error() {
        let (w, ht) = (vec![0.5f32; 4 * 2], vec![0.25f32; 5 * 2]);
        let history = [(0, 2.0), (1, 1.0)];
        assert!(check_finite(&w, &ht, 2, &history, 1.0).is_ok());
        let message = |r: Result<()>| match r {
            Err(NmfError::NonFiniteResult(what)) => what,
            other => panic!("{other:?}"),
        };
        let mut bad = w.clone();
        bad[5] = f32::INFINITY;
        assert_eq!(
            message(check_finite(&bad, &ht, 2, &history, 1.0)),
            "W holds inf at document 3, topic 2"
        );
        let mut bad = ht.clone();
        bad[8] = f32::NAN;
        assert_eq!(
            message(check_finite(&w, &bad, 2, &history, 1.0)),
            "H holds NaN at term 5, topic 1"
        );
        assert_eq!(
            message(check_finite(&w, &ht, 2, &[(0, 2.0), (10, f64::NAN)], 1.0)),
            "the error after iteration 10 is NaN"
        );
        assert_eq!(
            message(check_finite(&w, &ht, 2, &history, f64::INFINITY)),
            "the final error is inf"
        );
    }
}
