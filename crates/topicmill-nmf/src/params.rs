//! Estimator parameters (`NmfParams`) and their validation.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use topicmill_sparse::CsrView;

use crate::error::{NmfError, Result};

/// Which algorithm updates the factors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Solver {
    /// Lee & Seung multiplicative updates (Frobenius or Kullback–Leibler loss).
    Mu,
    /// Hierarchical alternating least squares: scikit-learn's coordinate
    /// descent (`solver="cd"`), Frobenius loss only. The default.
    #[default]
    Hals,
}

impl std::fmt::Display for Solver {
    /// `MU` or `HALS`, as the literature writes them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Solver::Mu => "MU",
            Solver::Hals => "HALS",
        })
    }
}

/// How W and H are initialized.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Init {
    /// `avg · |N(0, 1)|` with `avg = sqrt(mean(X) / k)` (scikit-learn's `"random"`).
    Random,
    /// Non-negative double SVD; zeros stay zeros.
    Nndsvd,
    /// NNDSVD with zeros replaced by the mean of X. The default.
    #[default]
    Nndsvda,
    /// NNDSVD with zeros replaced by `avg / 100 · U(0, 1)`.
    Nndsvdar,
}

/// The divergence between X and WH that is minimized.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Loss {
    /// `½‖X − WH‖²_F`. The default.
    #[default]
    Frobenius,
    /// Generalized Kullback–Leibler divergence `Σ x log(x / wh) − x + wh` (MU only).
    KullbackLeibler,
}

/// The validated-on-fit parameters of an NMF run. Build with [`Nmf::params`].
///
/// Defaults (set in [`Nmf::params`]): solver HALS, init NNDSVDa, Frobenius
/// loss, `max_iter = 200`, `tol = 1e-4`, `seed = 0`, no regularization
/// (`alpha_w = 0`, `alpha_h` = same as `alpha_w`, `l1_ratio = 0`), no time
/// budget, `transform_max_iter = 500`, `transform_tol = 1e-4`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NmfParams {
    pub(crate) k: usize,
    pub(crate) solver: Solver,
    pub(crate) init: Init,
    pub(crate) loss: Loss,
    pub(crate) max_iter: usize,
    pub(crate) tol: f64,
    pub(crate) seed: u64,
    pub(crate) alpha_w: f64,
    pub(crate) alpha_h: Option<f64>,
    pub(crate) l1_ratio: f64,
    pub(crate) time_budget: Option<Duration>,
    pub(crate) transform_max_iter: usize,
    pub(crate) transform_tol: f64,
}

/// Entry point of the estimator: `Nmf::params(k)` starts a parameter set.
#[derive(Debug, Clone, Copy)]
pub struct Nmf;

impl Nmf {
    /// Parameters for a rank-`k` factorization, with the defaults listed on [`NmfParams`].
    pub fn params(k: usize) -> NmfParams {
        NmfParams {
            k,
            solver: Solver::Hals,
            init: Init::Nndsvda,
            loss: Loss::Frobenius,
            max_iter: 200,
            tol: 1e-4,
            seed: 0,
            alpha_w: 0.0,
            alpha_h: None,
            l1_ratio: 0.0,
            time_budget: None,
            transform_max_iter: 500,
            transform_tol: 1e-4,
        }
    }
}

/// Per-side regularization strengths, already scaled as scikit-learn does.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Reg {
    pub l1: f32,
    pub l2: f32,
}

impl NmfParams {
    /// The solver.
    pub fn solver(mut self, solver: Solver) -> Self {
        self.solver = solver;
        self
    }
    /// The initialization.
    pub fn init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }
    /// The loss.
    pub fn loss(mut self, loss: Loss) -> Self {
        self.loss = loss;
        self
    }
    /// Iteration cap of `fit` (each iteration updates W then H).
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }
    /// Relative tolerance: `fit` stops when, checked every 10 iterations,
    /// `(loss[i−10] − loss[i]) / loss[0] < tol` (`loss[0]` is the loss at the
    /// initialization). `tol = 0` runs all `max_iter` iterations.
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }
    /// Seed of the random number generator (random init, NNDSVDar, SVD sketch).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// scikit-learn's `alpha_W`: regularization strength of W.
    pub fn alpha_w(mut self, alpha: f64) -> Self {
        self.alpha_w = alpha;
        self
    }
    /// scikit-learn's `alpha_H`; `None` (the default) means "same as `alpha_w`".
    pub fn alpha_h(mut self, alpha: Option<f64>) -> Self {
        self.alpha_h = alpha;
        self
    }
    /// scikit-learn's `l1_ratio`: 0 is pure L2, 1 pure L1.
    pub fn l1_ratio(mut self, l1_ratio: f64) -> Self {
        self.l1_ratio = l1_ratio;
        self
    }
    /// Stop after the iteration during which this much time has elapsed.
    pub fn time_budget(mut self, budget: Option<Duration>) -> Self {
        self.time_budget = budget;
        self
    }
    /// Iteration cap of the W-only solve in `transform` (and of fit's final W).
    pub fn transform_max_iter(mut self, n: usize) -> Self {
        self.transform_max_iter = n;
        self
    }
    /// Per-document tolerance of the W-only solve: a row stops when no
    /// entry moved by more than `transform_tol · max(row)`.
    pub fn transform_tol(mut self, tol: f64) -> Self {
        self.transform_tol = tol;
        self
    }

    /// Number of components.
    pub fn k(&self) -> usize {
        self.k
    }
    /// The chosen solver.
    pub fn get_solver(&self) -> Solver {
        self.solver
    }
    /// The chosen initialization.
    pub fn get_init(&self) -> Init {
        self.init
    }
    /// The chosen loss.
    pub fn get_loss(&self) -> Loss {
        self.loss
    }
    /// The iteration cap of `fit`.
    pub fn get_max_iter(&self) -> usize {
        self.max_iter
    }
    /// The relative tolerance of `fit`.
    pub fn get_tol(&self) -> f64 {
        self.tol
    }
    /// The seed.
    pub fn get_seed(&self) -> u64 {
        self.seed
    }
    /// The time budget of `fit`, if any.
    pub fn get_time_budget(&self) -> Option<Duration> {
        self.time_budget
    }
    /// Iteration cap of the W-only solve (`transform`, fit's final W).
    pub fn get_transform_max_iter(&self) -> usize {
        self.transform_max_iter
    }
    /// Per-document tolerance of the W-only solve.
    pub fn get_transform_tol(&self) -> f64 {
        self.transform_tol
    }

    /// Checks the rules that do not depend on X.
    pub fn validate(&self) -> Result<()> {
        if self.k == 0 {
            return Err(NmfError::ZeroComponents);
        }
        let caps = [
            ("max_iter", self.max_iter),
            ("transform_max_iter", self.transform_max_iter),
        ];
        if let Some((name, _)) = caps.into_iter().find(|&(_, n)| n == 0) {
            return Err(NmfError::ZeroMaxIter { name });
        }
        for (name, value) in [("tol", self.tol), ("transform_tol", self.transform_tol)] {
            if !value.is_finite() || value < 0.0 {
                return Err(NmfError::InvalidTol { name, value });
            }
        }
        if !(0.0..=1.0).contains(&self.l1_ratio) {
            return Err(NmfError::InvalidL1Ratio(self.l1_ratio));
        }
        let alphas = [("alpha_w", Some(self.alpha_w)), ("alpha_h", self.alpha_h)];
        for (name, value) in alphas {
            if let Some(value) = value {
                if !value.is_finite() || value < 0.0 {
                    return Err(NmfError::InvalidAlpha { name, value });
                }
            }
        }
        if self.loss == Loss::KullbackLeibler && self.solver != Solver::Mu {
            return Err(NmfError::KlNeedsMu);
        }
        if self.time_budget == Some(Duration::ZERO) {
            return Err(NmfError::ZeroTimeBudget);
        }
        Ok(())
    }

    /// Checks the parameters and then X: CSR storage ([`NmfError::NotCsr`]
    /// for a `transpose_view()`), shape, emptiness, `k ≤ min(n, m)`, values
    /// finite and non-negative.
    pub fn validate_for(&self, x: &CsrView<'_>) -> Result<()> {
        self.validated_largest(x).map(|_| ())
    }

    /// [`NmfParams::validate_for`], returning X's largest value (for the
    /// fit's scale, [`exponent_for`]) from the values' one pass.
    pub(crate) fn validated_largest(&self, x: &CsrView<'_>) -> Result<f32> {
        self.validate()?;
        crate::checks::csr_storage(x, "X")?;
        let (rows, cols, nnz) = (x.rows(), x.cols(), x.nnz());
        if rows == 0 || cols == 0 || nnz == 0 {
            return Err(NmfError::EmptyMatrix { rows, cols, nnz });
        }
        let max = rows.min(cols);
        if self.k > max {
            return Err(NmfError::TooManyComponents {
                k: self.k,
                max,
                rows,
                cols,
            });
        }
        let largest = check_values(x)?;
        // Stored zeros only: no topic to find, and ‖X‖ = 0 leaves every
        // relative error undefined (MU and HALS ran to their cap and reported
        // NaN, KL failed after writing its files).
        if largest == 0.0 {
            return Err(NmfError::EmptyMatrix { rows, cols, nnz });
        }
        Ok(largest)
    }

    /// The k the kernels run a fit (and the model's `transform`) at: for the
    /// Frobenius loss and a k without loops compiled for it, the next k with
    /// compiled loops (2–4× faster) when that is at most 32, or at most 128
    /// and a seventh above k, the factors padded with zero columns, which
    /// stay zero and add only zeros to every sum; else k itself. One
    /// function for both, so that a fit's W and the transform of its
    /// documents take the same sums; a driver of [`crate::steps`] runs its
    /// factors at this k too ([`crate::steps::pad_columns`]).
    pub fn kernel_k(&self) -> usize {
        match self.loss {
            Loss::Frobenius => crate::kernel::padded_k(self.k),
            Loss::KullbackLeibler => self.k,
        }
    }

    /// scikit-learn's `_compute_regularization`: the L1 and L2 strengths of
    /// W are `alpha_W · l1_ratio · m` and `alpha_W · (1 − l1_ratio) · m`, those
    /// of H use `alpha_H` and `n` (for X of shape n × m), so that the penalty
    /// keeps its weight relative to the data term whatever the shape.
    pub(crate) fn regularization(&self, n: usize, m: usize) -> (Reg, Reg) {
        self.scaled_regularization(n, m, 0, 0)
    }
}

impl NmfParams {
    /// [`NmfParams::regularization`] of the same minimizer, scaled, when
    /// the data are multiplied by `2^d` and the fixed factor by `2^c` (the
    /// solved factor then scales by `2^(d−c)`): the Frobenius objective
    /// scales by `2^(2d)`, KL's by `2^d`. Scaled in f64, before the strengths
    /// are rounded to f32: the same as `regularization` at `(0, 0)`, and a
    /// strength too large for f32 is its largest value (its side is then 0
    /// either way).
    pub(crate) fn scaled_regularization(&self, n: usize, m: usize, d: i32, c: i32) -> (Reg, Reg) {
        let (e1, e2) = match self.loss {
            Loss::Frobenius => (d + c, 2 * c),
            Loss::KullbackLeibler => (c, 2 * c - d),
        };
        let (f1, f2) = (2f64.powi(e1), 2f64.powi(e2));
        let alpha_h = self.alpha_h.unwrap_or(self.alpha_w);
        let reg = |size: usize, alpha: f64| Reg {
            l1: (size as f64 * alpha * self.l1_ratio * f1).min(f32::MAX as f64) as f32,
            l2: (size as f64 * alpha * (1.0 - self.l1_ratio) * f2).min(f32::MAX as f64) as f32,
        };
        (reg(m, self.alpha_w), reg(n, alpha_h))
    }
}

/// The largest values (of the data, or of the fixed factor of a W-only
/// solve) that the float32 engine takes as they are: `[2^-16, 2^40]`. Its
/// fixed thresholds (`kernel::FLUSH_BELOW`, `kernel::GRAM_FLUSH`, 1e-18
/// and 1e-19) are absolute: under about 1e-8 (KL) or 1e-12 (NNDSVD) a fit
/// flushed everything to zero, and above about 1e19 the squares of the SVD
/// and the Grams overflowed f32. Outside the window the values are
/// multiplied by a power of two (exact) and the results scaled back;
/// inside it, nothing changes.
const WINDOW: (f32, f32) = (1.0 / 65536.0, (1u64 << 40) as f32);

/// The exponent `e` that brings `max` (the largest of non-negative values)
/// into `[1, 4)` when it lies outside `WINDOW` (`[2^-16, 2^40]`), else 0; even, so that a
/// square root of `2^e` (KL's reported error) is a power of two too. Of X's
/// largest value: the data exponent `fit` runs X at (public for the drivers
/// of [`crate::steps`], as `steps::exponent_for`).
pub fn exponent_for(max: f64) -> i32 {
    if max == 0.0 || (WINDOW.0 as f64..=WINDOW.1 as f64).contains(&max) {
        return 0;
    }
    let e = max.log2().floor() as i32;
    -(e - e.rem_euclid(2))
}

/// [`exponent_for`] the data (the largest magnitude stored in X).
pub(crate) fn data_exponent(data: &[f32]) -> i32 {
    exponent_for(data.iter().fold(0f32, |m, &v| m.max(v.abs())) as f64)
}

/// The exponent `c` for the fixed factor of a W-only solve of data scaled
/// by `2^d` (`d` even): `d/2`, where the fit of such data left its factors
/// (so that `fit`'s final solve, through here, is its own scaled problem),
/// then what brings the factor so scaled into [`WINDOW`] if it is not.
pub(crate) fn factor_exponent(factor: &[f32], d: i32) -> i32 {
    let max = factor.iter().fold(0f32, |m, &v| m.max(v)) as f64 * 2f64.powi(d / 2);
    d / 2 + exponent_for(max)
}

/// `values`, each multiplied by `2^e` (exact, short of f32's range).
/// Public for the drivers of [`crate::steps`], as `steps::times_pow2`.
pub fn times_pow2(values: &mut [f32], e: i32) {
    if e != 0 {
        let f = 2f64.powi(e);
        values.iter_mut().for_each(|v| *v = (*v as f64 * f) as f32);
    }
}

/// One pass over the stored values: the largest (0 for none), or the first
/// NaN, infinity or negative value as an error.
pub(crate) fn check_values(x: &CsrView<'_>) -> Result<f32> {
    use rayon::prelude::*;
    let data = x.data();
    // On the bits, with no early exit, so that the loop is vectorized (a
    // fold stopping at the first bad value took 2.5 ns a value, 0.34 ms of
    // the seed's 22 ms fit, on a Zen 5 EPYC; 0.035 ms so): a value is good
    // when it is +0.0 to the largest finite float (bits below +∞'s) or
    // −0.0; the bits of the good ones order as their values do when read as
    // i32, where −0.0 and every negative value fall below 0.
    let (bad, top) = data
        .par_chunks(1 << 16)
        .map(|chunk| {
            chunk.iter().fold((false, 0i32), |(bad, top), v| {
                let b = v.to_bits();
                let good = b < f32::INFINITY.to_bits() || b == (-0f32).to_bits();
                (bad | !good, top.max(b as i32))
            })
        })
        .reduce(|| (false, 0i32), |a, b| (a.0 | b.0, a.1.max(b.1)));
    if !bad {
        return Ok(f32::from_bits(top as u32));
    }
    // Found again, on the error path only.
    let pos = data
        .iter()
        .position(|v| !(v.is_finite() && *v >= 0.0))
        .expect("a bad value");
    let value = data[pos];
    let row = crate::checks::row_of(x, pos);
    let col = x.indices()[pos] as usize;
    if value.is_finite() {
        Err(NmfError::NegativeValue { row, col, value })
    } else {
        Err(NmfError::NonFiniteValue { row, col, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1 × len CSR row holding `values`.
    fn row(values: &[f32]) -> topicmill_sparse::CsrMatrix {
        let n = values.len();
        topicmill_sparse::CsrMatrix::new(
            (1, n.max(1)),
            vec![0u64, n as u64],
            (0..n as u32).collect(),
            values.to_vec(),
        )
    }

    #[test]
    fn check_values_finds_the_largest_and_the_first_bad_value() {
        let largest = |v: &[f32]| check_values(&row(v).view()).map_err(|e| e.to_string());
        let tiny = f32::from_bits(1); // the smallest subnormal
        assert_eq!(largest(&[]), Ok(0.0));
        assert_eq!(largest(&[0.0, -0.0]), Ok(0.0));
        assert_eq!(largest(&[tiny, -0.0]), Ok(tiny));
        assert_eq!(largest(&[0.5, f32::MAX, 2.0]), Ok(f32::MAX));
        // More values than one chunk (2^16), the largest in the last one.
        let mut many = vec![0.25f32; 200_000];
        many[199_999] = 3.0;
        assert_eq!(largest(&many), Ok(3.0));
        for (bad, what) in [
            (-tiny, "NegativeValue"),
            (-1.0, "NegativeValue"),
            (f32::INFINITY, "NonFiniteValue"),
            (f32::NEG_INFINITY, "NonFiniteValue"),
            (f32::NAN, "NonFiniteValue"),
        ] {
            let mut v = many.clone();
            v[70_000] = bad;
            v[150_000] = -2.0; // a later bad value is not the one named
            let e = check_values(&row(&v).view()).unwrap_err();
            assert!(format!("{e:?}").starts_with(what), "{bad}: {e:?}");
            assert!(
                matches!(
                    e,
                    NmfError::NegativeValue { col: 70_000, .. }
                        | NmfError::NonFiniteValue { col: 70_000, .. }
                ),
                "{bad}: {e:?}"
            );
        }
    }
}
