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
    for tol in [-1e-3, f64::NAN, f64::INFINITY] {
        let e = Nmf::params(1).tol(tol).fit(&x().view()).unwrap_err();
        assert!(matches!(e, NmfError::InvalidTol { name: "tol", .. }), "{e}");
        let e = Nmf::params(1)
            .transform_tol(tol)
            .fit(&x().view())
            .unwrap_err();
        assert!(
            matches!(
                e,
                NmfError::InvalidTol {
                    name: "transform_tol",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().starts_with("transform_tol must be"), "{e}");
    }
}

#[test]
fn zero_max_iter() {
    let e = Nmf::params(1).max_iter(0).fit(&x().view()).unwrap_err();
    assert!(
        matches!(e, NmfError::ZeroMaxIter { name: "max_iter" }),
        "{e}"
    );
    let e = Nmf::params(1)
        .transform_max_iter(0)
        .fit(&x().view())
        .unwrap_err();
    assert_eq!(e.to_string(), "transform_max_iter must be at least 1");
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

/// X (2 × 3) and its transpose, both CSR.
fn x_and_xt() -> (CsrMatrix, CsrMatrix) {
    let x = CsrMatrix::new(
        (2, 3),
        vec![0u64, 2, 3],
        vec![0u32, 2, 1],
        vec![1.0, 2.0, 3.0],
    );
    let xt = x.transpose_view().to_csr();
    (x, xt)
}

fn go(_: &topicmill_nmf::Progress) -> std::ops::ControlFlow<()> {
    std::ops::ControlFlow::Continue(())
}

/// A view of column-major storage (`transpose_view()`, of the type of a
/// CSR view) is refused by every entry point, naming the argument, where
/// a tall one panicked inside the kernels and a wide one fitted the wrong
/// matrix.
#[test]
fn column_major_views_are_refused() {
    let (x, xt) = (x_and_xt().0, x_and_xt().1);
    let tall = x.transpose_view(); // Xᵀ, 3 × 2, CSC
    let wide = xt.transpose_view(); // X, 2 × 3, CSC
    let not_csr = |e: NmfError, which: &str| match e {
        NmfError::NotCsr { argument } => {
            assert_eq!(argument, which);
            assert_eq!(
                NmfError::NotCsr { argument }.to_string(),
                format!(
                    "{which} is stored by columns (CSC): pass a CSR view (the CSR matrix \
                     itself, or `.to_csr()` of this one)"
                )
            );
        }
        e => panic!("{e:?}"),
    };
    for solver in [Solver::Mu, Solver::Hals] {
        for view in [&tall, &wide] {
            not_csr(Nmf::params(1).solver(solver).fit(view).unwrap_err(), "X");
            not_csr(Nmf::params(1).initial_factors(view, None).unwrap_err(), "X");
        }
    }
    // Xᵀ given as a CSC view (of X's storage: the right matrix, by columns).
    let xt_by_columns = x.transpose_view();
    not_csr(
        Nmf::params(1)
            .fit_with(&x.view(), Some(&xt_by_columns), go)
            .unwrap_err(),
        "Xᵀ (the transpose given)",
    );
    not_csr(
        Nmf::params(1)
            .initial_factors(&x.view(), Some(&xt_by_columns))
            .unwrap_err(),
        "Xᵀ (the transpose given)",
    );
    let (w0, ht0) = (vec![1.0; 2], vec![1.0; 3]);
    not_csr(
        Nmf::params(1)
            .fit_from(&wide, None, w0, ht0, go)
            .unwrap_err(),
        "X",
    );
    let opts = topicmill_nmf::SvdOptions::default();
    for view in [&tall, &wide] {
        not_csr(
            topicmill_nmf::randomized_svd(view, 1, &opts).unwrap_err(),
            "X",
        );
    }
}

/// A transpose given is checked like X: a negative value, a NaN or an
/// infinity is an error naming Xᵀ's row and column (a negated Xᵀ fitted
/// with a wrong error, a NaN failed as "SVD did not converge", or was
/// ignored by the random init); and it must hold X's entries: the same
/// shape and count with another structure, or another value, is an error
/// naming the first entry that differs.
#[test]
fn a_transpose_given_is_checked_against_x() {
    let (x, xt) = x_and_xt();
    // Xᵀ (3 × 2): row 0 [1, 0], row 1 [0, 3], row 2 [2, 0].
    let with = |data: Vec<f32>, indices: Vec<u32>| {
        CsrMatrix::new((3, 2), vec![0u64, 1, 2, 3], indices, data)
    };
    for init in [topicmill_nmf::Init::Nndsvda, topicmill_nmf::Init::Random] {
        let params = Nmf::params(1).init(init);
        let value_at = |data: Vec<f32>, row: usize, col: usize| {
            let bad = with(data, vec![0, 1, 0]);
            for e in [
                params
                    .fit_with(&x.view(), Some(&bad.view()), go)
                    .unwrap_err(),
                params
                    .initial_factors(&x.view(), Some(&bad.view()))
                    .unwrap_err(),
            ] {
                match e {
                    NmfError::TransposeValue {
                        row: r,
                        col: c,
                        value,
                    } => {
                        assert_eq!((r, c), (row, col));
                        assert_eq!(value.to_bits(), bad.data()[row].to_bits());
                    }
                    e => panic!("{e:?}"),
                }
            }
        };
        value_at(vec![-1.0, -3.0, -2.0], 0, 0);
        value_at(vec![1.0, f32::NAN, 2.0], 1, 1);
        value_at(vec![1.0, 3.0, f32::INFINITY], 2, 0);
        let mismatch_at = |bad: CsrMatrix, row: usize, col: usize, value: f32| {
            for e in [
                params
                    .fit_with(&x.view(), Some(&bad.view()), go)
                    .unwrap_err(),
                params
                    .initial_factors(&x.view(), Some(&bad.view()))
                    .unwrap_err(),
            ] {
                assert!(
                    matches!(e, NmfError::TransposeEntryMismatch { row: r, col: c, xt_value: Some(v), .. }
                        if (r, c, v) == (row, col, value)),
                    "{e:?}"
                );
            }
        };
        // Another value.
        mismatch_at(with(vec![1.0, 3.0, 2.5], vec![0, 1, 0]), 2, 0, 2.5);
        // Another structure: row 1's value in column 0, where X has none.
        mismatch_at(with(vec![1.0, 3.0, 2.0], vec![0, 0, 0]), 1, 0, 3.0);
        // X's values in other places: rows swapped.
        mismatch_at(with(vec![2.0, 3.0, 1.0], vec![0, 1, 0]), 0, 0, 2.0);
        // Its own transpose passes, and gives the fit without it, bitwise.
        let given = params.fit_with(&x.view(), Some(&xt.view()), go).unwrap();
        assert_eq!(given, params.fit(&x.view()).unwrap());
    }
    let e = NmfError::TransposeValue {
        row: 2,
        col: 0,
        value: -2.0,
    };
    assert_eq!(
        e.to_string(),
        "the transpose given (Xᵀ) holds -2 at its row 2, column 0: NMF needs values that \
         are finite and ≥ 0"
    );
    let e = NmfError::TransposeEntryMismatch {
        row: 2,
        col: 0,
        xt_value: Some(2.5),
        x_value: Some(2.0),
    };
    assert_eq!(
        e.to_string(),
        "the transpose given is not X's: its row 2, column 0 holds 2.5, but X's row 0, \
         column 2 holds 2"
    );
}

/// The randomized SVD refuses NaN and infinity in X, naming the place
/// (NaN gave s = [0], infinity s = [NaN]), takes negative values, and an
/// oversampling beyond the matrix (usize::MAX overflowed k + n_oversamples)
/// sketches min(n, m) columns.
#[test]
fn randomized_svd_checks_its_input() {
    use topicmill_nmf::{randomized_svd, SvdOptions};
    let opts = SvdOptions::default();
    for (v, want) in [(f32::NAN, None), (f32::INFINITY, Some(f32::INFINITY))] {
        let e = randomized_svd(&with_value(v).view(), 1, &opts).unwrap_err();
        match e {
            NmfError::NonFiniteValue {
                row: 1,
                col: 1,
                value,
            } => {
                assert_eq!(
                    want.map(f32::to_bits),
                    (!value.is_nan()).then(|| value.to_bits())
                )
            }
            e => panic!("{e:?}"),
        }
    }
    let x = x();
    let svd = randomized_svd(&with_value(-3.0).view(), 1, &opts).unwrap();
    assert!(svd.s[0].is_finite() && svd.s[0] > 0.0);
    let most = SvdOptions {
        n_oversamples: usize::MAX,
        ..opts
    };
    let all = SvdOptions {
        n_oversamples: 5 - 2,
        ..opts
    };
    assert_eq!(
        randomized_svd(&x.view(), 2, &most).unwrap(),
        randomized_svd(&x.view(), 2, &all).unwrap()
    );
}

/// A k whose factors no allocator gives is an error up front: k = 100 000
/// on a 100 000 × 100 000 diagonal needs 80 GB for W and Hᵀ (the process
/// aborted allocating 40 GB). Relies on the allocator refusing 80 GB, as
/// Linux's default heuristic does on a machine with less memory and swap
/// (skipped on a larger one).
#[test]
fn a_k_too_large_for_memory_is_an_error() {
    // Where memory and swap hold 80 GB the allocator gives it, and the fit
    // would run: not here.
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kib = |key: &str| -> u64 {
        let line = meminfo.lines().find(|l| l.starts_with(key));
        let value = line.and_then(|l| l.split_whitespace().nth(1));
        value.and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    if (kib("MemTotal:") + kib("SwapTotal:")) * 1024 >= 80_000_000_000 {
        eprintln!("skipped: this machine's memory and swap hold 80 GB");
        return;
    }
    let n = 100_000;
    let diag = CsrMatrix::new(
        (n, n),
        (0..=n as u64).collect(),
        (0..n as u32).collect(),
        vec![1.0; n],
    );
    for init in [topicmill_nmf::Init::Nndsvda, topicmill_nmf::Init::Random] {
        let params = Nmf::params(n).init(init);
        for e in [
            params.fit(&diag.view()).unwrap_err(),
            params.initial_factors(&diag.view(), None).unwrap_err(),
        ] {
            assert!(
                matches!(&e, NmfError::TooLarge { bytes, .. } if *bytes == 80_000_000_000),
                "{e:?}"
            );
            assert!(
                e.to_string()
                    .contains("a 100000 × 100000 matrix at k = 100000 need 80000000000 bytes"),
                "{e}"
            );
        }
    }
}

/// The drivers' pieces (`steps`) take CSR views only: a column-major view
/// panics with a message saying so (a tall one indexed out of bounds, a
/// wide one multiplied another matrix).
#[test]
fn the_steps_refuse_a_column_major_view() {
    let (x, xt) = x_and_xt();
    for view in [x.transpose_view(), xt.transpose_view()] {
        let panic = std::panic::catch_unwind(|| {
            topicmill_nmf::steps::Spmm::new(&view, 1).run(&[1.0; 3], &mut [0.0; 3])
        })
        .expect_err("a CSC view");
        let message = panic
            .downcast_ref::<&str>()
            .copied()
            .map(String::from)
            .or_else(|| panic.downcast_ref::<String>().cloned());
        assert_eq!(
            message.as_deref(),
            Some("a column-major (CSC) view where CSR storage is needed: pass a CSR view")
        );
    }
}

/// `transform`, `validate_for` and `steps::final_w` refuse a column-major
/// view too (transform of a tall one panicked in the kernels).
#[test]
fn transform_and_validation_refuse_a_column_major_view() {
    let (x, xt) = x_and_xt();
    let model = Nmf::params(1).fit(&x.view()).unwrap();
    // The model's documents by columns: 2 × 3, as the model's terms; and a
    // tall 3 × 3 view made of a 3 × 3 CSR (another way in).
    let square = CsrMatrix::new(
        (3, 3),
        vec![0u64, 1, 2, 3],
        vec![0u32, 1, 2],
        vec![1.0, 2.0, 3.0],
    );
    for view in [xt.transpose_view(), square.transpose_view()] {
        assert!(
            matches!(
                model.transform(&view),
                Err(NmfError::NotCsr {
                    argument: "the documents"
                })
            ),
            "{:?}",
            model.transform(&view)
        );
        assert!(matches!(
            Nmf::params(1).validate_for(&view),
            Err(NmfError::NotCsr { argument: "X" })
        ));
        let e = topicmill_nmf::steps::final_w(model.params(), &view, model.ht(), 0);
        assert!(
            matches!(
                e,
                Err(NmfError::NotCsr {
                    argument: "the rows given"
                })
            ),
            "{e:?}"
        );
    }
}

/// `random_factors` checks what `fit` would of such a matrix, and its own
/// arguments: a zero shape gave infinite factors, a negative or NaN sum NaN
/// factors, rows past n values beyond W; a huge shape is TooLarge, not an
/// abort.
#[test]
fn random_factors_checks_its_arguments() {
    let p = Nmf::params(2).init(topicmill_nmf::Init::Random);
    assert_eq!(p.random_factors(3, 5, 6.0, 0..3).unwrap().0.len(), 3 * 2);
    let err = |r: topicmill_nmf::Result<(Vec<f32>, Vec<f32>)>| r.unwrap_err();
    assert!(matches!(
        err(Nmf::params(0).random_factors(3, 5, 6.0, 0..3)),
        NmfError::ZeroComponents
    ));
    assert!(matches!(
        err(p.random_factors(0, 3, 5.0, 0..0)),
        NmfError::EmptyMatrix {
            rows: 0,
            cols: 3,
            nnz: 0
        }
    ));
    assert!(matches!(
        err(p.random_factors(1, 5, 5.0, 0..1)),
        NmfError::TooManyComponents { k: 2, max: 1, .. }
    ));
    for sum in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let e = err(p.random_factors(3, 5, sum, 0..3));
        assert!(
            matches!(e, NmfError::InvalidSum(s) if s.to_bits() == sum.to_bits()),
            "{e:?}"
        );
    }
    let e = err(p.random_factors(3, 5, 6.0, 2..10));
    assert!(matches!(
        e,
        NmfError::RowsOutOfRange {
            start: 2,
            end: 10,
            rows: 3
        }
    ));
    assert_eq!(
        e.to_string(),
        "rows 2..10 of W are not a range of the matrix's 3 rows"
    );
    #[allow(clippy::reversed_empty_ranges)]
    let backwards = 2..1;
    assert!(matches!(
        err(p.random_factors(3, 5, 6.0, backwards)),
        NmfError::RowsOutOfRange {
            start: 2,
            end: 1,
            ..
        }
    ));
    let huge = 1usize << 40;
    assert!(matches!(
        err(Nmf::params(1 << 20).random_factors(huge, huge, 1.0, 0..huge)),
        NmfError::TooLarge { .. }
    ));
}
