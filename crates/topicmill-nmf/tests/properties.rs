//! Invariants: non-negativity, exact zeros for empty rows/columns, thread
//! independence, monotone MU, finiteness in float32, transform = fit.

#![allow(clippy::needless_range_loop)]

mod common;

use std::ops::ControlFlow;

use common::*;
use proptest::prelude::*;
use topicmill_nmf::{randomized_svd, Init, Loss, Nmf, NmfParams, Solver, SvdOptions};
use topicmill_sparse::CsrMatrix;

fn all_solvers() -> Vec<NmfParams> {
    vec![
        Nmf::params(3).solver(Solver::Mu),
        Nmf::params(3).solver(Solver::Hals),
        Nmf::params(3)
            .solver(Solver::Mu)
            .loss(Loss::KullbackLeibler),
    ]
}

#[test]
fn empty_rows_and_columns_give_exact_zeros() {
    let empty_rows = [0, 7, 19];
    let empty_cols = [2, 11];
    let x = random_csr(20, 14, 0.3, 9, &empty_rows, &empty_cols);
    for init in [Init::Random, Init::Nndsvd, Init::Nndsvda, Init::Nndsvdar] {
        for p in all_solvers() {
            let model = p.clone().init(init).max_iter(50).fit(&x.view()).unwrap();
            let (w, ht) = (model.w(), model.ht());
            assert!(
                w.iter().chain(ht).all(|v| v.is_finite() && *v >= 0.0),
                "{p:?} {init:?}"
            );
            for &i in &empty_rows {
                assert!(
                    w[i * 3..i * 3 + 3].iter().all(|&v| v == 0.0),
                    "{p:?} {init:?}: W row {i}"
                );
            }
            for &j in &empty_cols {
                assert!(
                    ht[j * 3..j * 3 + 3].iter().all(|&v| v == 0.0),
                    "{p:?} {init:?}: H column {j}"
                );
            }
            assert!(model.loss_history().iter().all(|(_, l)| l.is_finite()));
        }
    }
}

/// More topics than the data holds: HALS's dead topics (a zero column of W,
/// so that `S_tt = 0`) get zero rows of H, and the terms that occur in no
/// document zero columns (scikit-learn's coordinate descent leaves a dead
/// topic's row at its initial values: NNDSVDa's mean fill, on those terms
/// too). k = 4 runs the compiled sweeps, k = 70 the run-time-k ones.
#[test]
fn dead_topics_leave_nothing_on_empty_terms() {
    // Non-zeros in a 2 × 2 block only: rank 2 at most.
    let (n, m) = (80, 90);
    let mut indptr = vec![0u64];
    let (mut indices, mut data) = (Vec::new(), Vec::new());
    for i in 0..n {
        if i < 2 {
            indices.extend([3u32, 4]);
            data.extend([1.0f32 + i as f32, 0.5]);
        }
        indptr.push(indices.len() as u64);
    }
    let x = CsrMatrix::new((n, m), indptr, indices, data);
    for k in [4, 70] {
        for init in [Init::Random, Init::Nndsvda, Init::Nndsvdar] {
            let p = Nmf::params(k).solver(Solver::Hals).init(init).max_iter(30);
            let model = p.fit(&x.view()).unwrap();
            let ht = model.ht();
            let nonzero_terms: Vec<usize> = (0..m)
                .filter(|&j| ht[j * k..(j + 1) * k].iter().any(|&v| v != 0.0))
                .collect();
            assert!(
                nonzero_terms.iter().all(|&j| j == 3 || j == 4),
                "k {k} {init:?}: H non-zero on terms {nonzero_terms:?}"
            );
            let w = model.w();
            for t in 0..k {
                let dead = (0..n).all(|i| w[i * k + t] == 0.0);
                if dead {
                    assert!(
                        (0..m).all(|j| ht[j * k + t] == 0.0),
                        "k {k} {init:?}: dead topic {t} keeps H values"
                    );
                }
            }
        }
    }
}

#[test]
fn same_seed_same_bits_with_one_or_two_threads() {
    // Large enough for several row blocks (~14 on X) and Gram chunks (3 on W at k = 3),
    // so the fixed-order reductions really combine several partial sums.
    let x = random_csr(20000, 2000, 0.01, 5, &[3], &[]);
    // Terms of 4 documents on average (under 8): the iteration by column
    // panels of X, two panels (160k non-zeros), the seed matrix's case.
    let panels = random_csr(2000, 40000, 0.002, 6, &[7], &[11]);
    // Terms of 6 documents, but too many documents for a share of X·Hᵀ per
    // panel: Xᵀ·W scattered from X's rows in two lanes.
    let lanes = random_csr(12000, 10000, 0.0005, 7, &[5], &[13]);
    for (x, p) in [&x, &panels, &lanes]
        .into_iter()
        .flat_map(|x| all_solvers().into_iter().map(move |p| (x, p)))
    {
        for init in [Init::Random, Init::Nndsvdar] {
            let p = p.clone().init(init).max_iter(15).seed(42);
            let fit = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                pool.install(|| p.fit(&x.view()).unwrap())
            };
            let (one, two) = (fit(1), fit(2));
            assert_eq!(one.w(), two.w(), "{p:?}");
            assert_eq!(one.ht(), two.ht(), "{p:?}");
            let bits = |m: &topicmill_nmf::NmfModel| {
                m.loss_history()
                    .iter()
                    .map(|(_, l)| l.to_bits())
                    .collect::<Vec<_>>()
            };
            assert_eq!(bits(&one), bits(&two));
        }
    }
}

#[test]
fn transform_of_the_fitted_documents_is_the_fitted_w() {
    let x = random_csr(40, 25, 0.2, 6, &[5], &[]);
    for p in all_solvers() {
        let model = p.clone().max_iter(40).fit(&x.view()).unwrap();
        assert_eq!(model.transform(&x.view()).unwrap(), model.w(), "{p:?}");
        // Rows are solved independently: a subset gives the same rows.
        let sub = x.view().slice_outer(10..20).to_owned();
        let w_sub = model.transform(&sub.view()).unwrap();
        assert_eq!(&w_sub[..], &model.w()[30..60], "{p:?}");
    }
}

/// Each document is solved on its own, whatever rows share its block: every
/// row transformed alone gives its row of the whole transform, bitwise,
/// whether rows converge or run out of iterations (k = 20 and 5 have loops
/// compiled for their k, k = 7 runs them at 8 with a zero column added,
/// k = 101 the run-time-k ones).
#[test]
fn transform_of_each_document_alone_equals_its_row() {
    let small = random_csr(23, 40, 0.3, 12, &[4], &[]);
    let large = random_csr(104, 110, 0.1, 13, &[4], &[]);
    for (x, k, cap) in [
        (&small, 20, 500),
        (&small, 20, 3),
        (&small, 5, 500),
        (&small, 7, 500),
        (&large, 101, 500),
    ] {
        let model = Nmf::params(k)
            .solver(Solver::Hals)
            .max_iter(30)
            .transform_max_iter(cap)
            .fit(&x.view())
            .unwrap();
        let all = model.transform(&x.view()).unwrap();
        for i in 0..x.rows() {
            let row = x.view().slice_outer(i..i + 1).to_owned();
            let alone = model.transform(&row.view()).unwrap();
            assert_eq!(
                &alone[..],
                &all[i * k..(i + 1) * k],
                "k {k}, cap {cap}, row {i}"
            );
        }
    }
}

#[test]
fn transform_solves_the_nonnegative_least_squares_problem() {
    // KKT conditions of min_w ½‖x − wH‖², w ≥ 0, checked densely.
    let x = random_csr(30, 20, 0.3, 8, &[], &[]);
    let model = Nmf::params(4).fit(&x.view()).unwrap();
    let w = from_rows(model.w(), 30, 4);
    let ht = from_rows(model.ht(), 20, 4);
    let xd = dense(&x);
    let grad = {
        let resid: Mat = matmul(&w, &transpose(&ht))
            .iter()
            .zip(&xd)
            .map(|(a, b)| a.iter().zip(b).map(|(p, q)| p - q).collect())
            .collect();
        matmul(&resid, &ht)
    };
    let scale = matmul(&xd, &ht)
        .iter()
        .flatten()
        .fold(0f64, |a, &b| a.max(b.abs()));
    for i in 0..30 {
        for t in 0..4 {
            if w[i][t] > 0.0 {
                assert!(
                    grad[i][t].abs() < 1e-2 * scale,
                    "row {i} t {t}: gradient {} at a positive entry",
                    grad[i][t]
                );
            } else {
                assert!(
                    grad[i][t] > -1e-2 * scale,
                    "row {i} t {t}: descent direction {} at 0",
                    grad[i][t]
                );
            }
        }
    }
}

#[test]
fn reported_error_matches_a_dense_computation() {
    let x = random_csr(30, 20, 0.3, 10, &[], &[]);
    let xd = dense(&x);
    for p in all_solvers() {
        let model = p.clone().max_iter(30).fit(&x.view()).unwrap();
        let (w, ht) = (from_rows(model.w(), 30, 3), from_rows(model.ht(), 20, 3));
        let want = if p.get_loss() == Loss::Frobenius {
            frob(&xd, &w, &ht)
        } else {
            kl(&xd, &w, &ht)
        };
        let got = model.reconstruction_err();
        assert!((got - want).abs() < 1e-4 * want, "{p:?}: {got} vs {want}");
    }
}

#[test]
fn callback_can_stop_and_sees_every_iteration() {
    let x = random_csr(30, 20, 0.3, 10, &[], &[]);
    let mut seen = vec![];
    let model = Nmf::params(3)
        .solver(Solver::Mu)
        .tol(0.0)
        .fit_with(&x.view(), None, |p| {
            seen.push(p.iteration);
            if p.iteration == 7 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(seen, (1..=7).collect::<Vec<_>>());
    assert_eq!(model.iterations(), 7);
    assert_eq!(model.stop_reason(), topicmill_nmf::StopReason::Callback);
}

#[test]
fn tolerance_stops_on_the_documented_rule() {
    let x = random_csr(50, 30, 0.3, 12, &[], &[]);
    let model = Nmf::params(3)
        .solver(Solver::Mu)
        .tol(1e-2)
        .max_iter(1000)
        .fit(&x.view())
        .unwrap();
    assert_eq!(model.stop_reason(), topicmill_nmf::StopReason::Converged);
    let h = model.loss_history();
    let it = model.iterations();
    assert_eq!(it % 10, 0);
    let at = |i: usize| h.iter().find(|(j, _)| *j == i).unwrap().1;
    assert!((at(it - 10) - at(it)) / at(0) < 1e-2);
    assert!((at(it - 20) - at(it - 10)) / at(0) >= 1e-2);
}

/// scikit-learn's MU update in float32, densely: `F *= (A G) / (F GᵀG)`,
/// a zero denominator replaced by eps (and nothing else guarded).
fn naive_f32_half(a: &[Vec<f32>], f: &mut [f32], g: &[f32], k: usize) {
    let (rows, cols) = (a.len(), a[0].len());
    let mut s = vec![0f32; k * k];
    for j in 0..cols {
        for p in 0..k {
            for q in 0..k {
                s[p * k + q] += g[j * k + p] * g[j * k + q];
            }
        }
    }
    let mut num = vec![0f32; rows * k];
    let mut den = vec![0f32; rows * k];
    for i in 0..rows {
        for t in 0..k {
            num[i * k + t] = (0..cols).map(|j| a[i][j] * g[j * k + t]).sum();
            den[i * k + t] = (0..k).map(|p| f[i * k + p] * s[p * k + t]).sum();
        }
    }
    for ((x, &nu), &de) in f.iter_mut().zip(&num).zip(&den) {
        *x *= nu / if de == 0.0 { f32::EPSILON } else { de };
    }
}

/// A 60 × 40 matrix of L2-normalized sparse rows whose first 5 documents
/// hold one word each (the shape of the 20 Newsgroups failure).
fn one_word_docs(seed: u64) -> CsrMatrix {
    use rand::{RngExt, SeedableRng};
    let (n, m) = (60usize, 40usize);
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut rows = vec![];
    for i in 0..n {
        let mut r = vec![0f32; m];
        if i < 5 {
            r[rng.random_range(0..m)] = 1.0;
        } else {
            for v in r.iter_mut() {
                if rng.random::<f32>() < 0.15 {
                    *v = rng.random::<f32>();
                }
            }
            let norm = r.iter().map(|v| v * v).sum::<f32>().sqrt();
            if norm > 0.0 {
                r.iter_mut().for_each(|v| *v /= norm);
            }
        }
        rows.push(r);
    }
    let mut tri = sprs::TriMatI::<f32, u32>::new((n, m));
    for (i, r) in rows.iter().enumerate() {
        for (j, &v) in r.iter().enumerate() {
            if v > 0.0 {
                tri.add_triplet(i, j, v);
            }
        }
    }
    tri.to_csr()
}

/// The float32 failure mode of scikit-learn 1.9.1's MU on 20 Newsgroups:
/// a one-word document's W row decays to subnormals, the division
/// overflows, and inf × 0 spreads NaN. Among a few seeded matrices of that
/// shape, find one where the naive float32 update breaks, then run ours on
/// it for the same number of iterations: everything stays finite.
#[test]
fn mu_stays_finite_where_the_naive_float32_update_gives_nan() {
    let iters = 1500;
    let mut broken = None;
    'search: for seed in 0..40u64 {
        let x = one_word_docs(seed);
        let k = 2 + (seed % 4) as usize;
        let (w0, ht0) = start(x.rows(), x.cols(), k, seed);
        let xd: Vec<Vec<f32>> = dense(&x)
            .iter()
            .map(|r| r.iter().map(|&v| v as f32).collect())
            .collect();
        let xt: Vec<Vec<f32>> = (0..x.cols())
            .map(|j| xd.iter().map(|r| r[j]).collect())
            .collect();
        let (mut w, mut ht) = (w0.clone(), ht0.clone());
        for it in 0..iters {
            naive_f32_half(&xd, &mut w, &ht, k);
            naive_f32_half(&xt, &mut ht, &w, k);
            if !w.iter().chain(&ht).all(|v| v.is_finite()) {
                broken = Some((x, k, w0, ht0, it));
                break 'search;
            }
        }
    }
    let (x, k, w0, ht0, it) = broken.expect("some seed should break the naive float32 update");
    assert!(
        it > 50,
        "the naive update should break only after a long decay (broke at {it})"
    );
    let model = Nmf::params(k)
        .solver(Solver::Mu)
        .max_iter(iters)
        .tol(0.0)
        .fit_from(&x.view(), None, w0, ht0, |_| ControlFlow::Continue(()))
        .unwrap();
    assert_eq!(model.iterations(), iters);
    assert!(model
        .w()
        .iter()
        .chain(model.ht())
        .all(|v| v.is_finite() && *v >= 0.0));
    assert!(model.loss_history().iter().all(|(_, l)| l.is_finite()));
}

#[test]
fn randomized_svd_recovers_a_low_rank_matrix() {
    // X = A·B with A 60×3, B 3×40 non-negative sparse-ish factors: rank 3.
    let (n, m, r) = (60, 40, 3);
    let a = random_csr(n, r, 0.7, 1, &[], &[]);
    let b = random_csr(r, m, 0.7, 2, &[], &[]);
    let prod = &a * &b;
    let x: CsrMatrix = prod;
    for (rows, cols, xx) in [(n, m, x.clone()), (m, n, x.transpose_view().to_csr())] {
        let svd = randomized_svd(&xx.view(), r, &SvdOptions::default()).unwrap();
        let xd = dense(&xx);
        let mut err: f64 = 0.0;
        let mut norm: f64 = 0.0;
        for i in 0..rows {
            for j in 0..cols {
                let v: f64 = (0..r)
                    .map(|c| svd.u[i * r + c] * svd.s[c] * svd.vt[c * cols + j])
                    .sum();
                err += (v - xd[i][j]).powi(2);
                norm += xd[i][j].powi(2);
            }
        }
        assert!(
            err.sqrt() < 1e-6 * norm.sqrt(),
            "relative error {}",
            (err / norm).sqrt()
        );
        assert!(svd.s.windows(2).all(|w| w[0] >= w[1]));
        // U has orthonormal columns.
        for p in 0..r {
            for q in 0..r {
                let d: f64 = (0..rows).map(|i| svd.u[i * r + p] * svd.u[i * r + q]).sum();
                assert!((d - if p == q { 1.0 } else { 0.0 }).abs() < 1e-8);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn mu_objective_never_increases(seed in 0u64..10_000, n in 5usize..30, m in 5usize..30, k in 1usize..5, density in 0.1f64..0.8) {
        let x = random_csr(n, m, density, seed, &[], &[]);
        prop_assume!(x.nnz() > 0 && k <= n.min(m));
        let model = Nmf::params(k).solver(Solver::Mu).init(Init::Random).seed(seed).max_iter(60).tol(0.0).fit(&x.view()).unwrap();
        let h = model.loss_history();
        // The loss is evaluated from the trace identity ‖X‖² − 2⟨W, XH⟩ +
        // ⟨WᵀW, HHᵀ⟩ with f32 factors and f32 products X·H: its absolute
        // accuracy is a few f32 roundings of ‖X‖², whatever the loss. Where
        // the fit explains nearly all of X (tiny matrices, k close to n) that
        // noise is a visible fraction of the loss (seed 6941, 5 × 17, k = 4:
        // the error "rose" by 3.5·10⁻⁵ of itself at iteration 43, a loss rise
        // of 5·10⁻⁸·‖X‖²), so a rise is allowed up to 10⁻⁶·‖X‖².
        let xnorm2: f64 = x.data().iter().map(|&v| v as f64 * v as f64).sum();
        for w in h.windows(2) {
            prop_assert!(
                w[1].1 * w[1].1 <= w[0].1 * w[0].1 + 1e-6 * xnorm2,
                "error rose from {} to {} at {} (‖X‖² = {xnorm2})", w[0].1, w[1].1, w[1].0
            );
        }
        prop_assert!(model.w().iter().chain(model.ht()).all(|v| v.is_finite() && *v >= 0.0));
    }

    #[test]
    fn factors_are_nonnegative_for_every_solver(seed in 0u64..10_000, n in 5usize..25, m in 5usize..25, density in 0.1f64..0.8) {
        let x = random_csr(n, m, density, seed, &[], &[]);
        prop_assume!(x.nnz() > 0);
        for p in all_solvers() {
            let p = Nmf::params(2).solver(p.get_solver()).loss(p.get_loss()).seed(seed).max_iter(20);
            let model = p.fit(&x.view()).unwrap();
            prop_assert!(model.w().iter().chain(model.ht()).all(|v| v.is_finite() && *v >= 0.0));
        }
    }
}

#[test]
fn random_factors_of_a_row_range_are_those_rows_of_the_full_init() {
    let x = random_csr(23, 17, 0.3, 4, &[5], &[3]);
    let params = Nmf::params(4).init(Init::Random).seed(42);
    let (w, ht) = params.initial_factors(&x.view(), None).unwrap();
    let sum: f64 = x.data().iter().map(|&v| v as f64).sum();
    for rows in [0..23, 0..0, 0..9, 9..23, 22..23] {
        let (w_part, ht_part) = params.random_factors(23, 17, sum, rows.clone()).unwrap();
        assert_eq!(ht_part, ht, "Hᵀ for rows {rows:?}");
        assert_eq!(w_part, w[rows.start * 4..rows.end * 4], "W rows {rows:?}");
    }
}

#[test]
fn a_half_step_with_n_given_equals_the_fused_one() {
    use topicmill_nmf::steps::{Factor, Gram, HalfStep, Spmm};
    let x = random_csr(40, 25, 0.3, 6, &[2], &[7]);
    let (n, m, k) = (40, 25, 5);
    for solver in [Solver::Mu, Solver::Hals] {
        let params = Nmf::params(k)
            .solver(solver)
            .init(Init::Random)
            .alpha_w(0.01)
            .l1_ratio(0.5);
        let (w0, ht) = params.initial_factors(&x.view(), None).unwrap();
        let mut gram = Gram::new(m, k);
        let s_h = gram.run(&ht).to_vec();

        let mut fused = w0.clone();
        let cross_fused = HalfStep::new(&params, Factor::W, n, m, &x.view()).update(
            &x.view(),
            &mut fused,
            &ht,
            &s_h,
        );

        let mut given = w0.clone();
        let mut step = HalfStep::for_rows(&params, Factor::W, n, m, n);
        Spmm::new(&x.view(), k).run(&ht, step.n_mut());
        let cross_given = step.apply(&mut given, &s_h);

        assert_eq!(fused, given, "{solver:?}");
        assert_eq!(cross_fused, cross_given, "{solver:?}");
        assert_ne!(fused, w0, "{solver:?}: the step moved W");
        assert_eq!(&fused[2 * k..3 * k], &[0.0; 5], "empty document, zero row");
    }
}
