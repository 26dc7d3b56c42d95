//! topicmill-sparse: the sparse storage every topicmill computation reads.
//!
//! - [`CsrMatrix`] / [`CsrView`]: CSR matrices on `sprs` with f32 values, u32
//!   column indices and u64 row pointers, owned or borrowed.
//! - [`MappedMatrix`]: a matrix file opened with `memmap2`; [`MappedMatrix::view`]
//!   is a `sprs` view over the mapped bytes, nothing copied. Structure is checked
//!   at open, checksum and values by the explicit [`MappedMatrix::verify`].
//! - [`write_matrix`] and the row-streaming [`MatrixWriter`]: atomic writes
//!   (temporary file in the same directory, sync, rename), with memory bounded
//!   by the number of rows, never the number of entries.
//! - [`transpose`] / [`write_transpose`] (column block by column block, in
//!   bounded memory), and zero-copy [`row_blocks`].
//! - [`Corpus`], [`CorpusWriter`], [`write_corpus`]: a corpus directory (matrix,
//!   its transpose, vocabulary, document ids, optional labels, `manifest.json`),
//!   written atomically as a whole.
//! - Import/export: MatrixMarket coordinate ([`read_mtx`], [`write_mtx`]) and UCI
//!   bag-of-words ([`read_docword`], [`read_vocab`], [`write_docword`]), gzip
//!   detected by magic bytes.
//! - [`GenerateParams::write`]: a synthetic corpus of any shape with planted
//!   topics and Zipf term frequencies, in parallel and bounded memory.
//! - [`SparseError`]: every error names the file and the place (byte offset and
//!   section, line, or row).
//!
//! # File format, version 1
//!
//! A 128-byte little-endian header, 64-byte-aligned sections, and a 16-byte
//! footer holding the CRC-32 of everything before it:
//!
//! ```text
//! offset  size  field
//!      0     8  magic  b"TMILLCSR"
//!      8     4  format version (u32) = 1
//!     12     4  header length (u32) = 128
//!     16     1  indptr dtype code  (2 = u64)
//!     17     1  indices dtype code (1 = u32)
//!     18     1  data dtype code    (3 = f32)
//!     19     5  reserved, zero
//!     24     8  nrows (u64)
//!     32     8  ncols (u64)
//!     40     8  nnz (u64)
//!     48    16  indptr  section: offset, length in bytes (u64, u64)
//!     64    16  indices section: offset, length in bytes
//!     80    16  data    section: offset, length in bytes
//!     96     8  total file length (u64)
//!    104    24  reserved, zero
//!    128     …  sections, each starting at a multiple of 64 (zero padding between)
//! len-16     4  CRC-32 (crc32fast) of every byte before the footer
//! len-12     4  reserved, zero
//! len-8      8  footer magic b"TMILLEND"
//! ```
//!
//! Writers put the sections in the order indices, data, indptr (the streaming
//! writer learns the row pointers last); readers take offsets from the header.
//! `tests/fixtures/v1_3x4.csr` freezes this version. Big-endian hosts get
//! [`SparseError::UnsupportedHost`] rather than misread data.
//!
//! # Example
//!
//! ```
//! use topicmill_sparse::{transpose, write_matrix, CsrMatrix, MappedMatrix};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("x.csr");
//! // 2 × 3: [[1, 0, 2], [0, 3, 0]]
//! let x = CsrMatrix::new((2, 3), vec![0, 2, 3], vec![0, 2, 1], vec![1.0, 2.0, 3.0]);
//! write_matrix(&path, x.view())?;
//!
//! let mapped = MappedMatrix::open(&path)?; // header + structure checks
//! mapped.verify()?;                        // checksum + values
//! assert_eq!(mapped.view(), x.view());
//! assert_eq!(transpose(mapped.view()).get(2, 0), Some(&2.0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod blocks;
mod coo;
mod corpus;
mod docword;
mod error;
mod format;
mod generate;
mod input;
mod mapped;
mod mtx;
mod transpose;
mod writer;

/// An owned CSR matrix: f32 values, u32 column indices, u64 row pointers.
pub type CsrMatrix = sprs::CsMatI<f32, u32, u64>;
/// A borrowed CSR view (for example over a memory map) with the same types.
pub type CsrView<'a> = sprs::CsMatViewI<'a, f32, u32, u64>;

pub use crate::{
    blocks::row_blocks,
    corpus::{
        line_break, resolve_path, write_corpus, Corpus, CorpusWriter, MadeDirs, Manifest, SetAside,
        CORPUS_FORMAT, CORPUS_VERSION,
    },
    docword::{read_docword, read_vocab, write_docword, DocwordHeader, DocwordReader},
    error::{require_csr, SparseError},
    generate::GenerateParams,
    mapped::{MappedMatrix, MappedRows},
    mtx::{read_mtx, write_mtx, write_mtx_to},
    transpose::{
        transpose, transpose_difference, write_transpose, write_transpose_buffered,
        TransposeDifference, DEFAULT_TRANSPOSE_BUFFER,
    },
    writer::{write_matrix, MatrixSummary, MatrixWriter},
};

/// A builder for the temporary file an atomic write renames into place. Files
/// are created `0644` (tempfile's default `0600` would make every output private
/// to its writer, surprising in a shared batch directory).
pub fn atomic_temp_builder(prefix: &str) -> tempfile::Builder<'_, 'static> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    builder
}
