//! The pieces of one Frobenius iteration, for drivers that run the
//! iterations themselves over blocks of rows (topicmill-mpi's distributed
//! fit): the sparse × dense product, the Gram, and the half-step with its
//! row rules. They are `fit`'s own kernel, so a driver computes what `fit`
//! computes, up to the order of the sums it splits. Like `fit`, they run at
//! [`NmfParams::kernel_k`]: [`HalfStep`] takes factors of that many columns,
//! and a driver pads its factors to it ([`pad_columns`]) and back
//! ([`unpad_columns`]); [`Spmm`] and [`Gram`] take the k they are given.
//!
//! Layout as in `fit`: factors are row-major with k values per row (W is
//! n × k, Hᵀ is m × k); a sparse operand is a CSR view, possibly a row block
//! of a larger matrix (row pointers not starting at 0). Results never depend
//! on the number of threads.
//!
//! Data whose largest value lies outside `[2^-16, 2^40]` `fit` runs
//! multiplied by `2^s` ([`exponent_for`] of X's largest value), both factors
//! by `2^(s/2)`, and scales them back ([`times_pow2`]); a driver does the
//! same with the half-steps of that scale ([`HalfStep::new_scaled`]) and
//! [`final_w`].

use std::borrow::Cow;

use topicmill_sparse::CsrView;

pub use crate::fit::check_finite;
use crate::kernel::{self, Blocks, Csr, Rule, Side};
pub use crate::params::{exponent_for, times_pow2};
use crate::params::{NmfParams, Reg, Solver};

/// `N = A·G` (A sparse rows × cols, G cols × k, N rows × k) over fixed row blocks.
pub struct Spmm<'a> {
    a: Csr<'a>,
    blocks: Blocks,
    k: usize,
}

impl<'a> Spmm<'a> {
    /// Prepares the row blocks of `a` for rank `k`.
    ///
    /// # Panics
    /// If `a` is a view of column-major (CSC) storage.
    pub fn new(a: &'a CsrView<'_>, k: usize) -> Self {
        let a = Csr::from_view(a);
        Spmm {
            blocks: Blocks::new(&a, k),
            a,
            k,
        }
    }

    /// Computes `n = A·g`. `g` may have more rows than A has columns (the
    /// extra rows are not read).
    ///
    /// # Panics
    /// If `g` has fewer than cols × k values or `n` is not rows × k.
    pub fn run(&self, g: &[f32], n: &mut [f32]) {
        assert!(g.len() >= self.a.cols * self.k, "G is cols × k");
        assert_eq!(n.len(), self.a.rows * self.k, "N is rows × k");
        kernel::spmm(&self.a, g, self.k, &self.blocks, n);
    }
}

/// The Gram `GᵀG` (k × k, f64) of a rows × k factor, summed per fixed chunk
/// of rows in chunk order.
pub struct Gram {
    rows: usize,
    k: usize,
    partials: Vec<f64>,
    /// The result.
    pub out: Vec<f64>,
}

impl Gram {
    /// Workspace for `rows × k` factors.
    ///
    /// # Panics
    /// If k is 0.
    pub fn new(rows: usize, k: usize) -> Self {
        assert!(k > 0, "k must be positive");
        Gram {
            rows,
            k,
            partials: vec![0.0; kernel::gram_partials_len(rows, k)],
            out: vec![0.0; k * k],
        }
    }

    /// Computes the Gram of `g` (at most the rows given to `new`) into `out`.
    ///
    /// # Panics
    /// If `g` has more rows than the workspace was made for.
    pub fn run(&mut self, g: &[f32]) -> &[f64] {
        assert!(
            g.len() <= self.rows * self.k,
            "more rows than the Gram workspace holds"
        );
        kernel::gram(g, self.k, &mut self.partials, &mut self.out);
        &self.out
    }
}

/// Which factor a half-step updates (it picks the regularization: scikit-
/// learn's `alpha_W` scales with the number of terms, `alpha_H` with the
/// number of documents).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Factor {
    /// W, the document–topic factor.
    W,
    /// Hᵀ, the term–topic factor.
    H,
}

/// One Frobenius half-step on a block of rows of F: the MU or HALS rule of
/// `params` with the Gram of the other factor, with N = A·G computed here
/// ([`HalfStep::update`]) or given ([`HalfStep::apply`]). Its k, in every
/// shape below, is `params.kernel_k()` ([`NmfParams::kernel_k`]).
pub struct HalfStep {
    k: usize,
    rule: Rule,
    reg: Reg,
    side: Side,
    s32: Vec<f32>,
}

impl HalfStep {
    /// For the rows of `a` (the rows of F it updates), in a fit of an n × m
    /// matrix with `params`: N is formed by [`HalfStep::update`] a few rows at
    /// a time and not kept (no [`HalfStep::n_mut`] to fill), or, when G is
    /// larger than the cache, by column tiles of `a`, each row's sums carried
    /// from tile to tile for a group of rows (`fit` does the same).
    ///
    /// # Panics
    /// If `params` is not the Frobenius loss (KL has its own update), or if
    /// `a` is a view of column-major (CSC) storage.
    pub fn new(params: &NmfParams, factor: Factor, n: usize, m: usize, a: &CsrView<'_>) -> Self {
        Self::new_scaled(params, factor, n, m, a, 0)
    }

    /// [`HalfStep::new`] for X multiplied by `2^s` (`a` its rows so scaled,
    /// `s` even: X's data exponent, [`exponent_for`]) and both factors by
    /// `2^(s/2)`: the regularization of the same minimizer, as `fit` scales
    /// it. `s = 0` is [`HalfStep::new`].
    pub fn new_scaled(
        params: &NmfParams,
        factor: Factor,
        n: usize,
        m: usize,
        a: &CsrView<'_>,
        s: i32,
    ) -> Self {
        let k = params.kernel_k();
        Self::with_side(params, factor, n, m, s, Side::tiled(&Csr::from_view(a), k))
    }

    /// For `rows` rows of F whose N is given to [`HalfStep::apply`].
    pub fn for_rows(params: &NmfParams, factor: Factor, n: usize, m: usize, rows: usize) -> Self {
        Self::for_rows_scaled(params, factor, n, m, rows, 0)
    }

    /// [`HalfStep::for_rows`] at the data exponent `s`, as
    /// [`HalfStep::new_scaled`].
    pub fn for_rows_scaled(
        params: &NmfParams,
        factor: Factor,
        n: usize,
        m: usize,
        rows: usize,
        s: i32,
    ) -> Self {
        let side = Side::for_rows(rows, params.kernel_k());
        Self::with_side(params, factor, n, m, s, side)
    }

    fn with_side(
        params: &NmfParams,
        factor: Factor,
        n: usize,
        m: usize,
        s: i32,
        side: Side,
    ) -> Self {
        assert_eq!(
            params.loss,
            crate::params::Loss::Frobenius,
            "HalfStep runs the Frobenius loss"
        );
        let (reg_w, reg_h) = params.scaled_regularization(n, m, s, s / 2);
        let k = params.kernel_k();
        HalfStep {
            k,
            rule: match params.solver {
                Solver::Mu => Rule::Mu,
                Solver::Hals => Rule::Hals,
            },
            reg: match factor {
                Factor::W => reg_w,
                Factor::H => reg_h,
            },
            side,
            s32: vec![0.0; k * k],
        }
    }

    /// `N = A·G`, then the rule on every row of `f` with `gram = GᵀG`.
    /// Returns ⟨F_new, N⟩ (f64, fixed order), the loss's cross term.
    ///
    /// # Panics
    /// If `a` has not as many rows as the matrix given to `new`, `f` is not
    /// rows × k, `g` has fewer than cols × k values or `gram` is not k × k.
    pub fn update(&mut self, a: &CsrView<'_>, f: &mut [f32], g: &[f32], gram: &[f64]) -> f64 {
        let a = Csr::from_view(a);
        assert_eq!(gram.len(), self.k * self.k, "the Gram is k × k");
        kernel::gram_to_f32(gram, &mut self.s32);
        kernel::update_frob(
            kernel::NFrom::Product(&a),
            f,
            g,
            &self.s32,
            self.k,
            &mut self.side,
            self.rule,
            self.reg,
        )
    }

    /// The workspace's N (rows × k): fill it, then call [`HalfStep::apply`].
    /// Empty for a half-step made by [`HalfStep::new`].
    pub fn n_mut(&mut self) -> &mut [f32] {
        &mut self.side.n
    }

    /// The rule on every row of `f` with N as given in [`HalfStep::n_mut`]
    /// and `gram = GᵀG`. Returns ⟨F_new, N⟩.
    ///
    /// # Panics
    /// If `f` is not rows × k or `gram` is not k × k, or this half-step was
    /// made by [`HalfStep::new`].
    pub fn apply(&mut self, f: &mut [f32], gram: &[f64]) -> f64 {
        assert_eq!(gram.len(), self.k * self.k, "the Gram is k × k");
        kernel::gram_to_f32(gram, &mut self.s32);
        kernel::update_frob(
            kernel::NFrom::Given,
            f,
            &[],
            &self.s32,
            self.k,
            &mut self.side,
            self.rule,
            self.reg,
        )
    }
}

/// `fit`'s final W of the rows `a` (rows of X as given, their values
/// checked: finite, non-negative) with Hᵀ fixed (`ht`, m × k at the k of
/// `params`, not the kernels'): the row-separable solve of
/// [`NmfModel::transform`](crate::NmfModel::transform), at X's data exponent
/// `s` ([`exponent_for`] of the largest value of all of X, where `transform`
/// of these rows alone would take theirs), so that every row's W is the one
/// `fit` gives it. Rows × k, or [`NmfError::NonFiniteResult`](crate::NmfError::NonFiniteResult)
/// when f32 cannot hold W, or [`NmfError::NotCsr`](crate::NmfError::NotCsr)
/// when `a` is a view of column-major storage.
///
/// # Panics
/// If `ht` is not `a.cols()` × k.
pub fn final_w(params: &NmfParams, a: &CsrView<'_>, ht: &[f32], s: i32) -> crate::Result<Vec<f32>> {
    crate::checks::csr_storage(a, "the rows given")?;
    assert_eq!(ht.len(), a.cols() * params.k(), "Hᵀ is m × k");
    crate::model::transform_at(params, ht, a, s)
}

/// `v` (rows × `k`, row-major) with `kp − k` zero columns after each row:
/// a factor at the kernels' k ([`NmfParams::kernel_k`]), in `v`'s own
/// allocation (grown, never copied beside it). `v` itself when `kp == k`.
///
/// # Panics
/// If `kp < k`, k is 0 or `v` is not whole rows of k.
pub fn pad_columns(v: Vec<f32>, k: usize, kp: usize) -> Vec<f32> {
    assert!(
        kp >= k && k > 0 && v.len() % k == 0,
        "rows of k, padded to kp ≥ k"
    );
    kernel::pad_columns_in_place(v, k, kp)
}

/// The first `k` columns of `v` (rows × `kp`, row-major): a factor back
/// from the kernels' k. Borrowed when `kp == k`.
///
/// # Panics
/// If `kp < k`, kp is 0 or `v` is not whole rows of kp.
pub fn unpad_columns(v: &[f32], kp: usize, k: usize) -> Cow<'_, [f32]> {
    assert!(kp >= k && kp > 0 && v.len() % kp == 0, "rows of kp ≥ k");
    if kp == k {
        return Cow::Borrowed(v);
    }
    Cow::Owned(kernel::unpad_columns(v, kp, k))
}

/// ⟨F, N⟩ of two rows × k buffers, in f64 and a fixed order: the cross term
/// of the loss when N = X·G.
pub fn cross(f: &[f32], n: &[f32]) -> f64 {
    f.iter().zip(n).map(|(&p, &q)| p as f64 * q as f64).sum()
}

/// scikit-learn's Frobenius error ‖X − WH‖_F from the trace identity,
/// `‖X‖² − 2⟨W, XH⟩ + ⟨WᵀW, HHᵀ⟩` (`xnorm2`, `cross`, the two Grams), clamped
/// at 0 against cancellation: X is never densified.
pub fn frobenius_error(xnorm2: f64, cross: f64, gram_w: &[f64], gram_h: &[f64]) -> f64 {
    crate::fit::frob_err(xnorm2 - 2.0 * cross + kernel::inner(gram_w, gram_h))
}
