//! One test per parameter rule, each asserting its own error variant.

mod common;

use std::time::Duration;

use common::random_csr;
use topicmill_nmf::{Loss, Nmf, NmfError, Solver};
use topicmill_sparse::CsrMatrix;

fn x() -> CsrMatrix {
    random_csr(6, 5, 0.5, 1, &[], &[])
}

fn with_value(v: f32) -> CsrMatrix {
    CsrMatrix::new(
        (2, 3),
        vec![0u64, 2, 3],
        vec![0u32, 2, 1],
        vec![1.0, 2.0, v],
    )
}

#[test]
fn zero_components() {
    assert!(matches!(
        Nmf::params(0).fit(&x().view()),
        Err(NmfError::ZeroComponents)
    ));
}

#[test]
fn too_many_components() {
    let e = Nmf::params(6).fit(&x().view()).unwrap_err();
    assert!(
        matches!(
            e,
            NmfError::TooManyComponents {
                k: 6,
                max: 5,
                rows: 6,
                cols: 5
            }
        ),
        "{e}"
    );
}

#[test]
fn empty_matrix() {
    let empty = CsrMatrix::new((3, 4), vec![0u64; 4], vec![], vec![]);
    assert!(matches!(
        Nmf::params(1).fit(&empty.view()),
        Err(NmfError::EmptyMatrix {
            rows: 3,
            cols: 4,
            nnz: 0
        })
    ));
    // Stored zeros only (an imported `1 1 0`): as empty, for every solver
    // and loss (MU and HALS had run to their cap with a NaN relative error).
    let zeros = CsrMatrix::new((2, 2), vec![0u64, 1, 1], vec![0], vec![0.0]);
    for params in [
        Nmf::params(1),
        Nmf::params(1).solver(Solver::Mu),
        Nmf::params(1)
            .solver(Solver::Mu)
            .loss(Loss::KullbackLeibler),
    ] {
        let e = params.fit(&zeros.view()).unwrap_err();
        assert!(
            matches!(
                e,
                NmfError::EmptyMatrix {
                    rows: 2,
                    cols: 2,
                    nnz: 1
                }
            ),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            "the matrix is empty (2×2 with 1 stored values, none of them positive)"
        );
    }
    let no_rows = CsrMatrix::new((0, 4), vec![0u64], vec![], vec![]);
    assert!(matches!(
        Nmf::params(1).fit(&no_rows.view()),
        Err(NmfError::EmptyMatrix { rows: 0, .. })
    ));
}

#[test]
fn negative_value() {
    let e = Nmf::params(1).fit(&with_value(-0.5).view()).unwrap_err();
    assert!(
        matches!(e, NmfError::NegativeValue { row: 1, col: 1, value } if value == -0.5),
        "{e}"
    );
}

#[test]
fn nan_value() {
    let e = Nmf::params(1)
        .fit(&with_value(f32::NAN).view())
        .unwrap_err();
    assert!(
        matches!(e, NmfError::NonFiniteValue { row: 1, col: 1, .. }),
        "{e}"
    );
}

#[test]
fn infinite_value() {
    let e = Nmf::params(1)
        .fit(&with_value(f32::INFINITY).view())
        .unwrap_err();
    assert!(
        matches!(e, NmfError::NonFiniteValue { row: 1, col: 1, value } if value == f32::INFINITY),
        "{e}"
    );
}

#[test]
fn bad_tol() {
    assert!(matches!(
        Nmf::params(1).tol(-1e-3).fit(&x().view()),
        Err(NmfError::InvalidTol(_))
    ));
    assert!(matches!(
        Nmf::params(1).tol(f64::NAN).fit(&x().view()),
        Err(NmfError::InvalidTol(_))
    ));
}

#[test]
fn zero_max_iter() {
    assert!(matches!(
        Nmf::params(1).max_iter(0).fit(&x().view()),
        Err(NmfError::ZeroMaxIter)
    ));
}

#[test]
fn l1_ratio_outside_unit_interval() {
    for r in [-0.1, 1.5, f64::NAN] {
        assert!(matches!(
            Nmf::params(1).l1_ratio(r).fit(&x().view()),
            Err(NmfError::InvalidL1Ratio(_))
        ));
    }
}

#[test]
fn negative_alphas() {
    let e = Nmf::params(1).alpha_w(-1.0).fit(&x().view()).unwrap_err();
    assert!(matches!(
        e,
        NmfError::InvalidAlpha {
            name: "alpha_w",
            ..
        }
    ));
    let e = Nmf::params(1)
        .alpha_h(Some(-1.0))
        .fit(&x().view())
        .unwrap_err();
    assert!(matches!(
        e,
        NmfError::InvalidAlpha {
            name: "alpha_h",
            ..
        }
    ));
}

#[test]
fn kl_with_hals() {
    let e = Nmf::params(1)
        .solver(Solver::Hals)
        .loss(Loss::KullbackLeibler)
        .fit(&x().view())
        .unwrap_err();
    assert!(matches!(e, NmfError::KlNeedsMu));
}

#[test]
fn zero_time_budget() {
    let e = Nmf::params(1)
        .time_budget(Some(Duration::ZERO))
        .fit(&x().view())
        .unwrap_err();
    assert!(matches!(e, NmfError::ZeroTimeBudget));
}

#[test]
fn transpose_of_another_matrix() {
    let x = x();
    let other = random_csr(4, 6, 0.5, 2, &[], &[]);
    let e = Nmf::params(1)
        .fit_with(&x.view(), Some(&other.view()), |_| {
            std::ops::ControlFlow::Continue(())
        })
        .unwrap_err();
    assert!(
        matches!(
            e,
            NmfError::TransposeMismatch {
                rows: 5,
                cols: 6,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn transform_with_another_vocabulary_size() {
    let model = Nmf::params(2).fit(&x().view()).unwrap();
    let e = model
        .transform(&random_csr(3, 7, 0.5, 3, &[], &[]).view())
        .unwrap_err();
    assert!(matches!(
        e,
        NmfError::FeatureMismatch {
            expected: 5,
            got: 7
        }
    ));
    assert_eq!(
        e.to_string(),
        "the documents have 7 terms but the model was fitted on 5"
    );
}

#[test]
fn bad_starting_factors() {
    let x = x();
    let e = Nmf::params(2)
        .fit_from(&x.view(), None, vec![1.0; 3], vec![1.0; 10], |_| {
            std::ops::ControlFlow::Continue(())
        })
        .unwrap_err();
    assert!(matches!(
        e,
        NmfError::InitShapeMismatch {
            w: 3,
            ht: 10,
            n: 6,
            m: 5,
            k: 2
        }
    ));
    let mut w = vec![1.0; 12];
    w[4] = -1.0;
    let e = Nmf::params(2)
        .fit_from(&x.view(), None, w, vec![1.0; 10], |_| {
            std::ops::ControlFlow::Continue(())
        })
        .unwrap_err();
    assert!(matches!(e, NmfError::InvalidInitValue));
}
