//! Quality, float32 robustness and determinism on the real 20 Newsgroups
//! TF-IDF matrices, built with topicmill-text from the shared tarball:
//! - the seed's 4 categories (train, headers/footers/quotes removed, English
//!   stop words): 2034 × 26576;
//! - all 18846 documents (same, min_df = 2): 18846 × 51840, 1147174 non-zeros.
//!
//! Reference figures are scikit-learn 1.9.1's on the same matrices
//! (`examples/sklearn_speed.py` prints them).

use std::sync::OnceLock;

use topicmill_nmf::{Init, Loss, Nmf, NmfModel, NmfParams, Solver};
use topicmill_sparse::CsrMatrix;
use topicmill_text::ReferenceMatrix;

/// (X, Xᵀ), or `None` when the tarball is absent outside CI.
type Pair = Option<(CsrMatrix, CsrMatrix)>;

fn build(all: bool) -> Pair {
    let tarball = topicmill_testdata::require("20news-bydate/20news-bydate.tar.gz")?;
    let which = if all {
        ReferenceMatrix::All
    } else {
        ReferenceMatrix::Seed
    };
    let x = which.build(&tarball).expect("the 20 Newsgroups matrix");
    let xt = topicmill_sparse::transpose(x.view());
    Some((x, xt))
}

fn seed_matrix() -> Option<&'static (CsrMatrix, CsrMatrix)> {
    static M: OnceLock<Pair> = OnceLock::new();
    M.get_or_init(|| build(false)).as_ref()
}

fn full_matrix() -> Option<&'static (CsrMatrix, CsrMatrix)> {
    static M: OnceLock<Pair> = OnceLock::new();
    M.get_or_init(|| build(true)).as_ref()
}

fn norm(x: &CsrMatrix) -> f64 {
    x.data()
        .iter()
        .map(|&v| v as f64 * v as f64)
        .sum::<f64>()
        .sqrt()
}

fn fit(p: &NmfParams, (x, xt): &(CsrMatrix, CsrMatrix)) -> NmfModel {
    p.fit_with(&x.view(), Some(&xt.view()), |_| {
        std::ops::ControlFlow::Continue(())
    })
    .expect("fit")
}

#[test]
fn seed_mu_matches_scikit_learn_relative_error() {
    let Some(m) = seed_matrix() else { return };
    assert_eq!((m.0.rows(), m.0.cols(), m.0.nnz()), (2034, 26576, 133634));
    let p = Nmf::params(4)
        .solver(Solver::Mu)
        .init(Init::Nndsvda)
        .max_iter(200)
        .tol(0.0);
    let model = fit(&p, m);
    let rel = model.reconstruction_err() / norm(&m.0);
    // scikit-learn 1.9.1: NMF(4, init="nndsvda", solver="mu", max_iter=200, tol=0).
    let sklearn = 0.985673;
    assert!(
        (rel - sklearn).abs() <= 1e-3 * sklearn,
        "relative error {rel} vs scikit-learn's {sklearn}"
    );
}

#[test]
fn full_hals_reaches_scikit_learn_coordinate_descent() {
    let Some(m) = full_matrix() else { return };
    assert_eq!((m.0.rows(), m.0.cols(), m.0.nnz()), (18846, 51840, 1147174));
    let p = Nmf::params(20)
        .solver(Solver::Hals)
        .init(Init::Nndsvda)
        .max_iter(200)
        .tol(0.0);
    let model = fit(&p, m);
    let rel = model.reconstruction_err() / norm(&m.0);
    // scikit-learn 1.9.1's coordinate descent, 200 iterations: 0.979690
    // (the issue quotes 0.979695).
    assert!(rel <= 0.979695, "relative error {rel} > 0.979695");
}

#[test]
fn full_float32_mu_stays_finite_and_empty_documents_stay_zero() {
    let Some(m) = full_matrix() else { return };
    let (x, _) = m;
    // scikit-learn 1.9.1 returns NaN here (float32 input, k = 20, MU): the
    // W rows of one-word documents decay to subnormals, the update's
    // division overflows and inf × 0 spreads NaN.
    let p = Nmf::params(20)
        .solver(Solver::Mu)
        .init(Init::Nndsvda)
        .max_iter(200)
        .tol(0.0);
    let model = fit(&p, m);
    let k = 20;
    let (w, ht) = (model.w(), model.ht());
    for v in w.iter().chain(ht) {
        assert!(v.is_finite() && *v >= 0.0, "entry {v}");
        assert!(*v == 0.0 || v.is_normal(), "subnormal entry {v:e}");
    }
    assert!(model
        .loss_history()
        .iter()
        .all(|&(_, e)| e.is_finite() && e > 0.0));
    let indptr = x.indptr();
    let indptr = indptr.raw_storage();
    let empty: Vec<usize> = (0..x.rows())
        .filter(|&i| indptr[i] == indptr[i + 1])
        .collect();
    let one_word: Vec<usize> = (0..x.rows())
        .filter(|&i| indptr[i + 1] - indptr[i] == 1)
        .collect();
    assert!(!empty.is_empty() && !one_word.is_empty());
    for &i in &empty {
        assert!(
            w[i * k..(i + 1) * k].iter().all(|&v| v == 0.0),
            "empty document {i} has a non-zero W row"
        );
    }
    // A one-word document is still represented (its W row is not all zero)
    // unless its term belongs to no topic.
    let represented = one_word
        .iter()
        .filter(|&&i| w[i * k..(i + 1) * k].iter().any(|&v| v > 0.0))
        .count();
    assert!(
        represented * 2 > one_word.len(),
        "{represented} of {}",
        one_word.len()
    );
    let rel = model.reconstruction_err() / norm(x);
    assert!(rel < 0.99, "relative error {rel}");
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn with_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool")
        .install(f)
}

#[test]
fn real_data_gives_the_same_bits_with_one_or_two_threads() {
    let Some(seed) = seed_matrix() else { return };
    let Some(full) = full_matrix() else { return };
    let cases = [
        (seed, Nmf::params(4).solver(Solver::Mu).max_iter(40)),
        (seed, Nmf::params(4).solver(Solver::Hals).max_iter(40)),
        (
            seed,
            Nmf::params(4)
                .solver(Solver::Mu)
                .loss(Loss::KullbackLeibler)
                .max_iter(20),
        ),
        // The SVD initializations are covered on the seed matrix: a random
        // start keeps the full-size cases cheap.
        (
            full,
            Nmf::params(20)
                .solver(Solver::Hals)
                .init(Init::Random)
                .max_iter(5),
        ),
        (
            full,
            Nmf::params(7)
                .solver(Solver::Mu)
                .init(Init::Random)
                .max_iter(5),
        ),
    ];
    for (m, p) in cases {
        let p = p.tol(0.0);
        let one = with_threads(1, || fit(&p, m));
        let two = with_threads(2, || fit(&p, m));
        assert_eq!(bits(one.ht()), bits(two.ht()), "{p:?}: Hᵀ differs");
        assert_eq!(bits(one.w()), bits(two.w()), "{p:?}: W differs");
        assert_eq!(one.loss_history(), two.loss_history(), "{p:?}");
    }
}
