//! Each solver's iterates against the naive dense f64 reference of `common`.

#![allow(clippy::needless_range_loop)]

mod common;

use std::ops::ControlFlow;

use common::*;
use topicmill_nmf::{Loss, Nmf, NmfModel, Solver};
use topicmill_sparse::CsrMatrix;

/// A solver, its loss and its regularization.
#[derive(Clone, Copy)]
struct Setup {
    solver: Solver,
    loss: Loss,
    alpha: f64,
    l1_ratio: f64,
}

fn run(x: &CsrMatrix, k: usize, setup: Setup, iters: usize, seed: u64) -> NmfModel {
    let (w0, ht0) = start(x.rows(), x.cols(), k, seed);
    Nmf::params(k)
        .solver(setup.solver)
        .loss(setup.loss)
        .max_iter(iters)
        .tol(0.0)
        .alpha_w(setup.alpha)
        .l1_ratio(setup.l1_ratio)
        .fit_from(&x.view(), None, w0, ht0, |_| ControlFlow::Continue(()))
        .unwrap()
}

/// Runs the dense reference for `iters` iterations and returns (W, Ht, the
/// errors of the start and after each iteration).
fn reference(
    x: &CsrMatrix,
    k: usize,
    setup: Setup,
    iters: usize,
    seed: u64,
) -> (Mat, Mat, Vec<f64>) {
    let Setup {
        solver,
        loss,
        alpha,
        l1_ratio,
    } = setup;
    let (n, m) = (x.rows(), x.cols());
    let (w0, ht0) = start(n, m, k, seed);
    let (mut w, mut ht) = (from_rows(&w0, n, k), from_rows(&ht0, m, k));
    let xd = dense(x);
    let xt = transpose(&xd);
    // scikit-learn's _compute_regularization.
    let (l1w, l2w) = (
        m as f64 * alpha * l1_ratio,
        m as f64 * alpha * (1.0 - l1_ratio),
    );
    let (l1h, l2h) = (
        n as f64 * alpha * l1_ratio,
        n as f64 * alpha * (1.0 - l1_ratio),
    );
    let err = |w: &Mat, ht: &Mat| {
        if loss == Loss::Frobenius {
            frob(&xd, w, ht)
        } else {
            kl(&xd, w, ht)
        }
    };
    let mut errs = vec![err(&w, &ht)];
    for _ in 0..iters {
        match (solver, loss) {
            (Solver::Mu, Loss::Frobenius) => {
                mu_half(&xd, &mut w, &ht, l1w, l2w);
                mu_half(&xt, &mut ht, &w, l1h, l2h);
            }
            (Solver::Hals, _) => {
                hals_half(&xd, &mut w, &ht, l1w, l2w);
                hals_half(&xt, &mut ht, &w, l1h, l2h);
            }
            (Solver::Mu, Loss::KullbackLeibler) => {
                kl_half(&xd, &mut w, &ht);
                kl_half(&xt, &mut ht, &w);
            }
        }
        errs.push(err(&w, &ht));
    }
    (w, ht, errs)
}

fn check(solver: Solver, loss: Loss, alpha: f64, l1_ratio: f64, tol: f64) {
    let setup = Setup {
        solver,
        loss,
        alpha,
        l1_ratio,
    };
    // 17 × 13: Xᵀ·W scattered from X's rows in lanes; 6 × 40 (terms of 2
    // documents, few documents): the Frobenius iteration by column panels.
    // k = 3 has loops compiled for it; k = 7 runs a Frobenius fit at 8 (a
    // zero column added), KL at 7 by the run-time-k loops.
    let cases = (0..3).flat_map(|s| [(s, (17, 13), 3), (s, (6, 40), 3), (s, (17, 13), 7)]);
    for (seed, (n, m), k) in cases {
        let x = random_csr(n, m, 0.3, seed, &[], &[]);
        for iters in [1, 2, 5, 20] {
            let model = run(&x, k, setup, iters, seed);
            let (_, ht_ref, errs) = reference(&x, k, setup, iters, seed);
            let ht = from_rows(model.ht(), x.cols(), k);
            let d = rel_diff(&ht, &ht_ref);
            assert!(
                d < tol,
                "{solver:?} {loss:?} k {k} seed {seed} iter {iters}: H differs by {d:e}"
            );
            // The reported history follows the same iterates, from the
            // start's error on (the same f32 factors on both sides there:
            // only the sums' precision differs).
            for &(it, e) in model.loss_history() {
                let r = errs[it];
                let tol = if it == 0 { 1e-5 } else { 1e-3 };
                assert!(
                    (e - r).abs() <= tol * r,
                    "{solver:?} iter {it}: error {e} vs reference {r}"
                );
            }
        }
    }
}

#[test]
fn mu_iterates_match_dense_reference() {
    check(Solver::Mu, Loss::Frobenius, 0.0, 0.0, 1e-4);
}

#[test]
fn mu_regularized_iterates_match_dense_reference() {
    check(Solver::Mu, Loss::Frobenius, 0.01, 0.3, 1e-4);
}

#[test]
fn hals_iterates_match_dense_reference() {
    check(Solver::Hals, Loss::Frobenius, 0.0, 0.0, 1e-3);
}

#[test]
fn hals_regularized_iterates_match_dense_reference() {
    check(Solver::Hals, Loss::Frobenius, 0.02, 0.5, 1e-3);
}

#[test]
fn kl_iterates_match_dense_reference() {
    check(Solver::Mu, Loss::KullbackLeibler, 0.0, 0.0, 1e-4);
}

/// `transform` against the dense f64 reference: each row started at the
/// constant of the best single scale, then HALS sweeps with H fixed — a set
/// number of them (`tol` 0), or until no entry moves by more than `tol ·
/// max(w)`. 50 rows keep the solve's slots refilling (rows of one block are
/// solved sixteen at a time, a done row's slot taking the next). k = 20 and
/// 5 have loops compiled for their k, k = 7 runs them at 8 (zero columns
/// added), k = 101 the run-time-k loops.
#[test]
fn transform_matches_dense_reference() {
    for (k, rows, cols) in [(20, 50, 30), (5, 50, 30), (7, 50, 30), (101, 105, 110)] {
        let x = random_csr(rows, cols, 0.3, 9, &[7], &[]);
        let xd = dense(&x);
        for (cap, tol) in [(1, 0.0), (3, 0.0), (8, 0.0), (500, 1e-4)] {
            for (alpha, l1_ratio) in [(0.0, 0.0), (0.01, 0.5)] {
                let model = Nmf::params(k)
                    .solver(Solver::Hals)
                    .max_iter(30)
                    .alpha_w(alpha)
                    .l1_ratio(l1_ratio)
                    .transform_max_iter(cap)
                    .transform_tol(tol)
                    .fit(&x.view())
                    .unwrap();
                let w = from_rows(&model.transform(&x.view()).unwrap(), rows, k);
                let ht = from_rows(model.ht(), cols, k);
                // scikit-learn's _compute_regularization, for W.
                let (l1, l2) = (
                    cols as f64 * alpha * l1_ratio,
                    cols as f64 * alpha * (1.0 - l1_ratio),
                );
                let s = matmul(&transpose(&ht), &ht);
                let s_sum: f64 = s.iter().flatten().sum();
                let w_ref: Mat = matmul(&xd, &ht)
                    .iter()
                    .map(|n| hals_solve_row(n, &s, s_sum, l1, l2, cap, tol))
                    .collect();
                assert!(w[7].iter().all(|&v| v == 0.0), "the empty row");
                let d = rel_diff(&w, &w_ref);
                assert!(
                    d < 1e-3,
                    "k {k}, cap {cap}, tol {tol}, alpha {alpha}: W differs by {d:e}"
                );
            }
        }
    }
}

/// One row of the W-only solve, densely: `n = x·Hᵀ`, `s = H·Hᵀ` (summing
/// to `s_sum`), the start `c·1` with `c = Σn / Σs`, then HALS sweeps (those
/// of `hals_half`, a dead topic's coordinate set to 0).
fn hals_solve_row(
    n: &[f64],
    s: &Mat,
    s_sum: f64,
    l1: f64,
    l2: f64,
    cap: usize,
    tol: f64,
) -> Vec<f64> {
    let k = n.len();
    let c = (n.iter().sum::<f64>() / s_sum).max(0.0);
    let mut f = vec![c; k];
    if c <= 0.0 {
        return f;
    }
    for _ in 0..cap {
        let prev = f.clone();
        for t in 0..k {
            let hess = s[t][t] + l2;
            if hess == 0.0 {
                // A dead topic (see `hals_half`).
                f[t] = 0.0;
                continue;
            }
            let grad = (0..k).map(|r| s[t][r] * f[r]).sum::<f64>() + l2 * f[t] - (n[t] - l1);
            f[t] = (f[t] - grad / hess).max(0.0);
        }
        let delta = f
            .iter()
            .zip(&prev)
            .fold(0f64, |d, (p, q)| d.max((p - q).abs()));
        let top = f.iter().fold(0f64, |t, &v| t.max(v));
        if delta <= tol * top {
            break;
        }
    }
    f
}
