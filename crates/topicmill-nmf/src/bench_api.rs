//! Entry points for the criterion benchmarks (`benches/benches/nmf.rs`):
//! the kernel pieces on their own. Not a stable API.

use topicmill_sparse::CsrView;

use crate::fit::Iterate;
use crate::kernel::{self, Blocks, Csr};
use crate::params::NmfParams;

/// `N = A·G` (A sparse rows × cols, G cols × k, N rows × k) over fixed row blocks.
pub struct Spmm<'a> {
    a: Csr<'a>,
    blocks: Blocks,
    k: usize,
}

impl<'a> Spmm<'a> {
    /// Prepares the row blocks of `a` for rank `k`.
    pub fn new(a: &'a CsrView<'_>, k: usize) -> Self {
        let a = Csr::from_view(a);
        Spmm {
            blocks: Blocks::new(&a, k),
            a,
            k,
        }
    }
    /// Computes `n = A·g`.
    pub fn run(&self, g: &[f32], n: &mut [f32]) {
        assert_eq!(g.len(), self.a.cols * self.k);
        assert_eq!(n.len(), self.a.rows * self.k);
        kernel::spmm(&self.a, g, self.k, &self.blocks, n);
    }
}

/// The Gram `GᵀG` (k × k, f64) of a rows × k factor.
pub struct Gram {
    k: usize,
    partials: Vec<f64>,
    /// The result.
    pub out: Vec<f64>,
}

impl Gram {
    /// Workspace for `rows × k` factors.
    pub fn new(rows: usize, k: usize) -> Self {
        Gram {
            k,
            partials: vec![0.0; kernel::gram_partials_len(rows, k)],
            out: vec![0.0; k * k],
        }
    }
    /// Computes the Gram of `g`.
    pub fn run(&mut self, g: &[f32]) {
        kernel::gram(g, self.k, &mut self.partials, &mut self.out);
    }
}

/// The fit loop's iteration on its own, from given starting factors.
pub struct Iterations<'x>(Iterate<'x>);

impl<'x> Iterations<'x> {
    /// State for `params` (solver, loss, k, regularization) on X and Xᵀ.
    pub fn new(
        x: &'x CsrView<'_>,
        xt: &'x CsrView<'_>,
        w: Vec<f32>,
        ht: Vec<f32>,
        params: &NmfParams,
    ) -> Self {
        Iterations(Iterate::new(
            Csr::from_view(x),
            Csr::from_view(xt),
            params.k,
            w,
            ht,
            params,
        ))
    }
    /// One iteration (W then H), evaluating the loss as `fit` does.
    pub fn step(&mut self) -> Option<f64> {
        self.0.step(false)
    }
}
