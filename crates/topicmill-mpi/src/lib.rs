//! topicmill-mpi: the NMF fit distributed over MPI ranks (rsmpi).
//!
//! `fit_distributed` (feature `mpi`, see below) runs MU or HALS (Frobenius
//! loss) on a corpus directory with the documents split among the ranks of a
//! communicator ([`row_partition`]: row blocks balanced by non-zeros). Every
//! rank maps the same matrix file and reads only its rows; it builds the
//! transpose of its own block. Per iteration the ranks exchange O(m·k) values
//! (a reduce-scatter of WᵀX by term blocks, then an all-gather of Hᵀ) and a
//! few k × k Grams, whatever the number of documents. Rank 0 gets the model.
//! Checkpoints (`DistOptions`) make a killed job resumable.
//!
//! # Same answer as one process
//!
//! The initialization and the update rules are topicmill-nmf's, operation for
//! operation, at the same k of the kernels (`NmfParams::kernel_k`: a k up to
//! 32 without compiled loops runs at the next compiled one, with zero
//! columns, which never leave the ranks' own factors: checkpoints and the
//! model hold k); the sums over documents are split across ranks, so the result
//! differs from `NmfParams::fit` only by floating-point summation order. The
//! CLI's integration tests hold the models of P = 1…4 ranks to a relative
//! Frobenius difference of 1e-5 in W and in Hᵀ from the single-process fit,
//! and the final error to 1e-7 (observed: below 6e-7 and 2e-9). With the
//! same number of ranks a run is bitwise reproducible, and a resumed run
//! equals an uninterrupted one bitwise. Data whose largest value lies outside
//! `[2^-16, 2^40]` are fitted as `fit` fits them, times a power of two with
//! the factors and errors scaled back: the fit of X·2^e is the fit of X,
//! scaled, bitwise; stored values that are all zero are
//! `NmfError::EmptyMatrix` on every rank.
//!
//! # The `mpi` feature
//!
//! The fit itself, and the dependency on MPI, are behind this crate's `mpi`
//! feature (the CLI's `mpi` feature turns it on): building it needs an MPI
//! library and libclang (Debian: `libopenmpi-dev openmpi-bin libclang-dev`).
//! Without it only the MPI-free parts are built and tested (the partition and
//! the errors), so `cargo test --workspace` works on a machine without MPI.

#[cfg(feature = "mpi")]
mod checkpoint;
mod error;
#[cfg(feature = "mpi")]
mod fit;
mod partition;

#[cfg(feature = "mpi")]
pub use crate::{
    checkpoint::CHECKPOINT_VERSION,
    fit::{agree, fit_distributed, DistOptions, DistOutcome},
};
pub use crate::{
    error::{DistError, Result},
    partition::{row_partition, term_block_rows},
};

/// Re-exported so that callers initialize MPI with the same crate version.
#[cfg(feature = "mpi")]
pub use mpi;
