//! topicmill-nmf: sparse non-negative matrix factorization, X ≈ W·H.
//!
//! The main types: [`Nmf`] starts a parameter set ([`NmfParams`], with
//! [`Solver`], [`Init`] and [`Loss`]); [`NmfParams::fit`] validates it
//! against X and returns an [`NmfModel`] holding Hᵀ, W of the fitted
//! documents and the loss history; [`NmfModel::transform`] solves W for new
//! documents with H fixed. [`randomized_svd`] is the truncated SVD behind
//! the NNDSVD initializations (and behind LSI). Errors are [`NmfError`].
//! [`steps`] exposes the pieces of an iteration to drivers that run the
//! iterations over row blocks themselves (the distributed fit).
//!
//! X is a CSR view (`topicmill_sparse::CsrView`) and is never densified.
//! W is n × k and Hᵀ is m × k, both row-major `f32`.
//!
//! ```
//! use topicmill_nmf::{Nmf, Solver};
//! use topicmill_sparse::CsrMatrix;
//!
//! // Two blocks of documents over two blocks of terms.
//! let x = CsrMatrix::new(
//!     (4, 4),
//!     vec![0u64, 2, 4, 6, 8],
//!     vec![0u32, 1, 0, 1, 2, 3, 2, 3],
//!     vec![1.0f32, 2.0, 2.0, 1.0, 3.0, 1.0, 1.0, 3.0],
//! );
//! let model = Nmf::params(2).solver(Solver::Hals).max_iter(100).fit(&x.view())?;
//! assert_eq!(model.ht().len(), 4 * 2);
//! assert!(model.reconstruction_err() < 0.5 * 5.3); // ‖X‖_F ≈ 5.3
//! // transform on the fitted documents gives the fitted W.
//! assert_eq!(model.transform(&x.view())?, model.w());
//! # Ok::<(), topicmill_nmf::NmfError>(())
//! ```

#[doc(hidden)]
pub mod bench_api;
mod checks;
mod column_tiles;
mod error;
mod fit;
mod fused4;
mod gram_tiles;
mod init;
mod kernel;
mod model;
mod panels;
mod params;
pub mod steps;
mod svd;

pub use crate::{
    error::{NmfError, Result},
    fit::Progress,
    model::{describe_decode_error, NmfModel, StopReason, VectorizerRecord, MODEL_FORMAT_VERSION},
    params::{Init, Loss, Nmf, NmfParams, Solver},
    svd::{randomized_svd, SvdOptions, TruncatedSvd},
};

#[cfg(test)]
pub(crate) mod testing {
    use rand::rngs::Xoshiro256PlusPlus;
    use rand::{RngExt, SeedableRng};

    /// A symmetric 4 × 4 Gram (f32, row-major) for the k = 4 rule's tests.
    pub const GRAM_4: [f32; 16] = [
        0.9, 0.1, 0.0, 0.2, 0.1, 0.5, 0.3, 0.0, 0.0, 0.3, 0.7, 0.1, 0.2, 0.0, 0.1, 0.4,
    ];

    /// A sparse p × q matrix with about `density` of its entries non-zero.
    pub fn sparse(p: usize, q: usize, density: f64, seed: u64) -> sprs::CsMatI<f32, u32, u64> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut tri = sprs::TriMatI::<f32, u32>::new((p, q));
        for i in 0..p {
            for j in 0..q {
                if rng.random::<f64>() < density {
                    tri.add_triplet(i, j, rng.random::<f32>());
                }
            }
        }
        tri.to_csr()
    }

    /// Six uneven blocks of 300 rows, three of them one row long: for
    /// results that must not depend on how rows are grouped.
    pub fn uneven_blocks() -> crate::kernel::Blocks {
        crate::kernel::Blocks {
            ranges: vec![0..1, 1..40, 40..41, 41..150, 150..151, 151..300],
        }
    }

    /// A rayon pool of `threads` threads, for results that must not depend
    /// on the thread count.
    pub fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool")
    }

    /// Whether `a` and `b` hold the same bits.
    pub fn same_bits(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
    }

    /// Uniform values in [0, 1) from a xorshift generator started at `state`
    /// (non-zero): cheap, and the same on every platform.
    pub fn xorshift(mut state: u64) -> impl FnMut() -> f32 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32
        }
    }
}
