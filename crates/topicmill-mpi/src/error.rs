//! The errors of the distributed fit.

use std::path::PathBuf;

/// What can go wrong in a distributed fit. Every rank returns an error when
/// any rank fails before the iterations start, so that all of them exit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DistError {
    /// This rank could not open or read the corpus.
    #[error("rank {rank}: cannot read its part of the corpus: {source}")]
    Corpus {
        rank: i32,
        #[source]
        source: topicmill_sparse::SparseError,
    },
    /// The parameters or the matrix are not acceptable for NMF.
    #[error("rank {rank}: {source}")]
    Nmf {
        rank: i32,
        #[source]
        source: topicmill_nmf::NmfError,
    },
    /// A checkpoint could not be written or read, or does not fit this run.
    #[error("rank {rank}: checkpoint {}: {message}", path.display())]
    Checkpoint {
        rank: i32,
        path: PathBuf,
        message: String,
    },
    /// Something this build does not distribute.
    #[error("{0}")]
    Unsupported(String),
    /// Other ranks failed (their own messages name the cause); this rank
    /// stops with them.
    #[error("rank(s) {ranks:?} failed (see their messages); every rank stops, no model written")]
    PeerFailed { ranks: Vec<i32> },
    /// The problem is too large for 32-bit MPI counts in one message.
    #[error("{0}")]
    TooLarge(String),
}

impl DistError {
    /// Whether this error only echoes another rank's failure (the CLI then
    /// prints it from rank 0 only, so the cause is not drowned).
    pub fn is_peer_failure(&self) -> bool {
        matches!(self, DistError::PeerFailed { .. })
    }
}

/// `Result` with [`DistError`].
pub type Result<T, E = DistError> = std::result::Result<T, E>;
