//! Entry points for the criterion benchmarks (`benches/benches/nmf.rs`):
//! the kernel pieces on their own. Not a stable API.

use topicmill_sparse::CsrView;

pub use crate::steps::{Gram, Spmm};

use crate::fit::Iterate;
use crate::kernel::Csr;
use crate::params::NmfParams;

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
