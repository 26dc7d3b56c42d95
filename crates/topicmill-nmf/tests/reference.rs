//! Each solver's iterates against the naive dense f64 reference of `common`.

#![allow(clippy::needless_range_loop)]

mod common;

use std::ops::ControlFlow;

use common::*;
use topicmill_nmf::{Loss, Nmf, NmfModel, Solver};
use topicmill_sparse::CsrMatrix;

fn run(
    x: &CsrMatrix,
    solver: Solver,
    loss: Loss,
    iters: usize,
    alpha: f64,
    l1_ratio: f64,
    seed: u64,
) -> NmfModel {
    let k = 3;
    let (w0, ht0) = start(x.rows(), x.cols(), k, seed);
    Nmf::params(k)
        .solver(solver)
        .loss(loss)
        .max_iter(iters)
        .tol(0.0)
        .alpha_w(alpha)
        .l1_ratio(l1_ratio)
        .fit_from(&x.view(), None, w0, ht0, |_| ControlFlow::Continue(()))
        .unwrap()
}

/// Runs the dense reference for `iters` iterations and returns (W, Ht, errors per iteration).
fn reference(
    x: &CsrMatrix,
    solver: Solver,
    loss: Loss,
    iters: usize,
    alpha: f64,
    l1_ratio: f64,
    seed: u64,
) -> (Mat, Mat, Vec<f64>) {
    let k = 3;
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
    let mut errs = vec![];
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
        errs.push(if loss == Loss::Frobenius {
            frob(&xd, &w, &ht)
        } else {
            kl(&xd, &w, &ht)
        });
    }
    (w, ht, errs)
}

fn check(solver: Solver, loss: Loss, alpha: f64, l1_ratio: f64, tol: f64) {
    // 17 × 13: Xᵀ·W scattered from X's rows in lanes; 6 × 40 (terms of 2
    // documents, few documents): the Frobenius iteration by column panels.
    for (seed, (n, m)) in (0..3).flat_map(|s| [(s, (17, 13)), (s, (6, 40))]) {
        let x = random_csr(n, m, 0.3, seed, &[], &[]);
        for iters in [1, 2, 5, 20] {
            let model = run(&x, solver, loss, iters, alpha, l1_ratio, seed);
            let (_, ht_ref, errs) = reference(&x, solver, loss, iters, alpha, l1_ratio, seed);
            let ht = from_rows(model.ht(), x.cols(), 3);
            let d = rel_diff(&ht, &ht_ref);
            assert!(
                d < tol,
                "{solver:?} {loss:?} seed {seed} iter {iters}: H differs by {d:e}"
            );
            // The reported history follows the same iterates.
            for &(it, e) in model.loss_history().iter().skip(1) {
                let r = errs[it - 1];
                assert!(
                    (e - r).abs() <= 1e-3 * r,
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
