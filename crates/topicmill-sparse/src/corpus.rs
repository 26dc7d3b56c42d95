//! Corpus directories: a matrix, its transpose, vocabulary, document ids, optional
//! labels and a JSON manifest, written atomically as a whole.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};
use tempfile::TempDir;

use crate::error::SparseError;
use crate::mapped::MappedMatrix;
use crate::transpose::write_transpose;
use crate::writer::{parent_dir, sync_dir, MatrixWriter};
use crate::CsrView;

/// The `format` field of every corpus manifest.
pub const CORPUS_FORMAT: &str = "topicmill-corpus";
/// The corpus layout version this build writes and reads.
pub const CORPUS_VERSION: u32 = 1;

const MATRIX_FILE: &str = "matrix.csr";
const TRANSPOSE_FILE: &str = "matrix_t.csr";
const VOCAB_FILE: &str = "vocab.txt";
const DOC_IDS_FILE: &str = "doc_ids.txt";
const LABELS_FILE: &str = "labels.txt";
const MANIFEST_FILE: &str = "manifest.json";

/// `manifest.json`: what the corpus holds and where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`CORPUS_FORMAT`].
    pub format: String,
    /// Corpus layout version, [`CORPUS_VERSION`].
    pub version: u32,
    /// Documents (rows of the matrix).
    pub nrows: u64,
    /// Terms (columns of the matrix).
    pub ncols: u64,
    /// Stored entries.
    pub nnz: u64,
    /// The matrix file X (documents × terms, CSR), relative to the corpus directory.
    pub matrix: String,
    /// The transpose Xᵀ (terms × documents, CSR).
    pub transpose: String,
    /// One term per line, in column order.
    pub vocabulary: String,
    /// One document id per line, in row order.
    pub doc_ids: String,
    /// One label per line, in row order, when the corpus has labels.
    pub labels: Option<String>,
    /// The writer, e.g. `topicmill-sparse 0.1.0`.
    pub created_by: String,
    /// Free-form provenance supplied by the writer (source files, TF-IDF settings…).
    #[serde(default)]
    pub extra: serde_json::Value,
    /// The CRC-32 of each text file (vocabulary, document ids, labels) as
    /// written, by file name; [`Corpus::verify`] checks them (the matrix
    /// files hold their own). Empty in corpora written before it, whose text
    /// files `verify` cannot check.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub text_crc32: BTreeMap<String, u32>,
}

impl Manifest {
    /// Reads `dir`'s manifest and checks it: the format, a version this build
    /// reads, and file names that stay inside the directory.
    pub fn read(dir: &Path) -> Result<Self, SparseError> {
        let manifest_path = dir.join(MANIFEST_FILE);
        let text = fs::read_to_string(&manifest_path)
            .map_err(|e| SparseError::io(&manifest_path, "cannot read corpus manifest", e))?;
        let bad_manifest = |message: String| SparseError::Manifest {
            path: manifest_path.clone(),
            message,
        };
        let manifest: Manifest =
            serde_json::from_str(&text).map_err(|e| bad_manifest(e.to_string()))?;
        if manifest.format != CORPUS_FORMAT {
            return Err(bad_manifest(format!(
                "format is {:?}, expected {CORPUS_FORMAT:?}",
                manifest.format
            )));
        }
        if manifest.version != CORPUS_VERSION {
            return Err(bad_manifest(format!(
                "corpus version {} is not supported (this build reads version {CORPUS_VERSION})",
                manifest.version
            )));
        }
        for name in [
            &manifest.matrix,
            &manifest.transpose,
            &manifest.vocabulary,
            &manifest.doc_ids,
        ]
        .into_iter()
        .chain(manifest.labels.as_ref())
        {
            if Path::new(name).components().count() != 1 || name == ".." {
                return Err(bad_manifest(format!(
                    "file name {name:?} must be a plain name inside the corpus directory"
                )));
            }
        }
        Ok(manifest)
    }

    /// Checks that the matrix file at `path`, of `shape` with `nnz` entries,
    /// is the one this manifest describes.
    pub fn check_matrix(
        &self,
        path: &Path,
        shape: (usize, usize),
        nnz: usize,
    ) -> Result<(), SparseError> {
        let (nrows, ncols) = shape;
        if (nrows as u64, ncols as u64, nnz as u64) == (self.nrows, self.ncols, self.nnz) {
            return Ok(());
        }
        Err(SparseError::CorpusMismatch {
            path: path.to_path_buf(),
            message: format!(
                "matrix is {nrows} x {ncols} with {nnz} entries, the manifest says {} x {} with {}",
                self.nrows, self.ncols, self.nnz
            ),
        })
    }
}

/// An opened corpus directory. The matrix and its transpose are memory-mapped.
///
/// The transpose is stored rather than built on demand: the NMF H-step reads Xᵀ
/// in CSR at every iteration, and building it costs a pass over X plus an
/// nnz-sized buffer each time a model is fitted. Stored, it is mapped for free and
/// shared by every process that opens the corpus (MPI ranks included), for the
/// price of doubling the bytes on disk.
#[derive(Debug)]
pub struct Corpus {
    dir: PathBuf,
    manifest: Manifest,
    matrix: MappedMatrix,
    transpose: MappedMatrix,
    vocabulary: Vec<String>,
    doc_ids: Vec<String>,
    labels: Option<Vec<String>>,
}

impl Corpus {
    /// Open `dir`: read the manifest, map and check both matrices (see
    /// [`MappedMatrix::open`]), read the text files, and check that all sizes agree.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, SparseError> {
        let dir = dir.as_ref().to_path_buf();
        let manifest = Manifest::read(&dir)?;
        let matrix = MappedMatrix::open(dir.join(&manifest.matrix))?;
        let transpose = MappedMatrix::open(dir.join(&manifest.transpose))?;
        manifest.check_matrix(matrix.path(), matrix.shape(), matrix.nnz())?;
        let (nrows, ncols) = matrix.shape();
        if transpose.shape() != (ncols, nrows) || transpose.nnz() != matrix.nnz() {
            let (tr, tc) = transpose.shape();
            return Err(SparseError::CorpusMismatch {
                path: transpose.path().to_path_buf(),
                message: format!(
                    "transpose is {tr} x {tc} with {} entries, expected {ncols} x {nrows} with {}",
                    transpose.nnz(),
                    matrix.nnz()
                ),
            });
        }
        let vocabulary = read_lines(&dir.join(&manifest.vocabulary), ncols, "terms (columns)")?;
        let doc_ids = read_lines(&dir.join(&manifest.doc_ids), nrows, "document ids (rows)")?;
        let labels = match &manifest.labels {
            Some(name) => Some(read_lines(&dir.join(name), nrows, "labels (rows)")?),
            None => None,
        };
        Ok(Corpus {
            dir,
            manifest,
            matrix,
            transpose,
            vocabulary,
            doc_ids,
            labels,
        })
    }

    /// The corpus directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// X: documents × terms, CSR, zero-copy.
    pub fn matrix(&self) -> CsrView<'_> {
        self.matrix.view()
    }

    /// Xᵀ: terms × documents, CSR, zero-copy.
    pub fn transpose(&self) -> CsrView<'_> {
        self.transpose.view()
    }

    /// The mapped file of X (paths, sizes, [`MappedMatrix::verify`]).
    pub fn matrix_file(&self) -> &MappedMatrix {
        &self.matrix
    }

    /// The mapped file of Xᵀ.
    pub fn transpose_file(&self) -> &MappedMatrix {
        &self.transpose
    }

    /// Checks that every value of both files, X and its stored transpose, is
    /// finite and non-negative; the error names the file, the byte offset, the
    /// row and the column of the first that is not. One pass over the values
    /// of each file, without the checksum (that is [`verify`](Corpus::verify)'s):
    /// a command that computes with the corpus calls it once after `open`.
    pub fn check_values(&self) -> Result<(), SparseError> {
        for file in [&self.matrix, &self.transpose] {
            file.rows().check_values(0..file.shape().0)?;
        }
        Ok(())
    }

    /// Terms, in column order.
    pub fn vocabulary(&self) -> &[String] {
        &self.vocabulary
    }

    /// Document ids, in row order.
    pub fn doc_ids(&self) -> &[String] {
        &self.doc_ids
    }

    /// Document labels, in row order, if the corpus has them.
    pub fn labels(&self) -> Option<&[String]> {
        self.labels.as_deref()
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The full check: the checksums of the text files the manifest records
    /// (see [`Manifest::text_crc32`]), both matrix files' checksums and
    /// values, then that the stored transpose is exactly Xᵀ (one pass over X
    /// with O(columns) memory).
    pub fn verify(&self) -> Result<(), SparseError> {
        let m = &self.manifest;
        let texts = [Some(&m.vocabulary), Some(&m.doc_ids), m.labels.as_ref()];
        for name in texts.into_iter().flatten() {
            let Some(&stored) = m.text_crc32.get(name) else {
                continue;
            };
            let path = self.dir.join(name);
            let bytes = fs::read(&path).map_err(|e| SparseError::io(&path, "cannot read", e))?;
            let computed = crc32fast::hash(&bytes);
            if computed != stored {
                return Err(SparseError::TextChecksumMismatch {
                    path,
                    stored,
                    computed,
                });
            }
        }
        self.matrix.verify()?;
        self.transpose.verify()?;
        let (x, t) = (self.matrix(), self.transpose());
        let (x_ptr, x_idx, x_val) = (x.proper_indptr(), x.indices(), x.data());
        let (t_ptr, t_idx, t_val) = (t.proper_indptr(), t.indices(), t.data());
        let mut cursor: Vec<u64> = t_ptr[..t_ptr.len() - 1].to_vec();
        let mismatch = |row: usize, col: u32| SparseError::CorpusMismatch {
            path: self.transpose.path().to_path_buf(),
            message: format!("the transpose disagrees with the matrix at row {row}, column {col}"),
        };
        for row in 0..x.rows() {
            for k in x_ptr[row] as usize..x_ptr[row + 1] as usize {
                let c = x_idx[k];
                let pos = cursor[c as usize];
                if pos >= t_ptr[c as usize + 1]
                    || t_idx[pos as usize] as usize != row
                    || t_val[pos as usize].to_bits() != x_val[k].to_bits()
                {
                    return Err(mismatch(row, c));
                }
                cursor[c as usize] += 1;
            }
        }
        // Every transpose row must have been consumed exactly (nnz agree, so any
        // leftover would have shown as a mismatch above; this is cheap insurance).
        if let Some(c) = (0..cursor.len()).find(|&c| cursor[c] != t_ptr[c + 1]) {
            return Err(mismatch(x.rows(), c as u32));
        }
        Ok(())
    }
}

/// Writes a corpus directory row by row. Nothing is visible at the target until
/// [`finish`](CorpusWriter::finish) renames the complete directory into place;
/// on error or drop the temporary directory (next to the target) is removed,
/// and so are the parent directories that `create` made.
#[derive(Debug)]
pub struct CorpusWriter {
    target: PathBuf,
    /// Before `tmp`, which holds its file.
    matrix: MatrixWriter,
    tmp: Unfinished,
    overwrite: bool,
    /// Last: fields drop in order, and these directories hold `tmp`.
    made: MadeDirs,
}

/// The directories an output made on its way (a missing target directory
/// and its missing ancestors), removed on drop — innermost first, each only
/// if empty — unless [`MadeDirs::keep`] is called once the output is in
/// place: a failed write leaves no empty directories behind. Hold it after
/// (declare it below) whatever lives inside those directories, so that it
/// drops last.
#[derive(Debug)]
pub struct MadeDirs(Vec<PathBuf>);

impl MadeDirs {
    /// Makes `dir` and its missing ancestors (`create_dir_all`), remembering
    /// which ones it made.
    pub fn create(dir: &Path) -> std::io::Result<Self> {
        let missing = dir
            .ancestors()
            .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
            .map(Path::to_path_buf)
            .collect();
        fs::create_dir_all(dir)?;
        Ok(MadeDirs(missing))
    }

    /// The output is in place: the directories stay.
    pub fn keep(mut self) {
        self.0.clear();
    }
}

impl Drop for MadeDirs {
    fn drop(&mut self) {
        for dir in &self.0 {
            if fs::remove_dir(dir).is_err() {
                break;
            }
        }
    }
}

impl CorpusWriter {
    /// Start a corpus with `ncols` terms at `dir`. The parent directory is created
    /// if needed; `dir` itself must not exist or be empty (see
    /// [`overwrite`](CorpusWriter::overwrite)). Refused at once, before any
    /// work: a `dir` that is the current directory or one of its ancestors
    /// ([`SparseError::WorkingDirectory`]), and one that holds anything but a
    /// corpus directory ([`SparseError::NotACorpus`]), which no writer
    /// replaces. An existing corpus without `overwrite` is refused by
    /// [`finish`](CorpusWriter::finish); [`check_target`](CorpusWriter::check_target)
    /// tells it before the work.
    pub fn create(dir: impl AsRef<Path>, ncols: usize) -> Result<Self, SparseError> {
        let target = clean_target(dir.as_ref())?;
        Self::check_target(&target, true)?;
        // Checked here, not by the matrix writer, whose errors would name the
        // temporary directory.
        if ncols as u64 > u64::from(u32::MAX) {
            return Err(SparseError::TooLarge {
                path: dir.as_ref().to_path_buf(),
                message: format!("{ncols} columns exceed the u32 column-index limit"),
            });
        }
        let parent = parent_dir(&target);
        let made = MadeDirs::create(parent).map_err(|e| {
            // An ancestor that is a file: named ("File exists" names nothing).
            let file = parent.ancestors().find(|a| a.exists() && !a.is_dir());
            let e = match file {
                Some(file) if file == parent => std::io::Error::new(
                    std::io::ErrorKind::NotADirectory,
                    "it is a file, not a directory",
                ),
                Some(file) => std::io::Error::new(
                    std::io::ErrorKind::NotADirectory,
                    format!("{} is a file, not a directory", file.display()),
                ),
                None => e,
            };
            SparseError::io(parent, "cannot create the directory to hold the corpus", e)
        })?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "corpus".to_string());
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}.tmp-"))
            .tempdir_in(parent)
            .map_err(|e| {
                SparseError::io(
                    parent,
                    "cannot create a temporary directory in this directory",
                    e,
                )
            })?;
        let tmp = Unfinished::new(tmp, &made);
        let matrix = MatrixWriter::create(tmp.path().join(MATRIX_FILE), ncols)?;
        Ok(CorpusWriter {
            target,
            tmp,
            matrix,
            overwrite: false,
            made,
        })
    }

    /// Replace an existing corpus at the target instead of failing. The old
    /// directory is moved aside, the new one renamed in, then the old one deleted:
    /// at every moment the target holds the old corpus, nothing, or the new one.
    /// Only a corpus directory is replaced: anything else at the target is
    /// refused ([`SparseError::NotACorpus`]). Aside, the old corpus is
    /// `old` in a hidden directory `.topicmill-old-NAME-XXXXXX` beside the
    /// target `NAME`: a process killed (SIGKILL) between the two renames
    /// leaves it there, which
    /// [`recover_set_aside`](CorpusWriter::recover_set_aside) finds.
    pub fn overwrite(mut self, yes: bool) -> Self {
        self.overwrite = yes;
        self
    }

    /// Checks, before any work, that a corpus can be written at `dir`, as
    /// [`finish`](CorpusWriter::finish) will check again: `dir` does not
    /// exist, is an empty directory, or (with `overwrite`) is a corpus
    /// directory. Anything else existing is [`SparseError::AlreadyExists`]
    /// without `overwrite` and [`SparseError::NotACorpus`] with it; the
    /// current directory and its ancestors are [`SparseError::WorkingDirectory`].
    pub fn check_target(dir: impl AsRef<Path>, overwrite: bool) -> Result<(), SparseError> {
        let target = &clean_target(dir.as_ref())?;
        match (inspect_target(target)?, overwrite) {
            (Existing::Nothing | Existing::EmptyDir, _) | (Existing::Corpus, true) => Ok(()),
            (existing, true) => Err(refusal(existing, target)),
            (_, false) => Err(SparseError::AlreadyExists {
                path: target.to_path_buf(),
            }),
        }
    }

    /// Checks that the output `dir` is apart from every one of `inputs`
    /// (files or directories a command reads): neither is, contains nor
    /// lies inside the other, compared as canonical paths (`dir` need not
    /// exist: its nearest existing ancestor is canonicalized and the rest
    /// appended). Replacing or writing into such an output could destroy
    /// the input: [`SparseError::OutputOverlapsInput`].
    pub fn check_apart(dir: impl AsRef<Path>, inputs: &[&Path]) -> Result<(), SparseError> {
        let output = dir.as_ref();
        let out = resolve_path(output)?;
        for &input in inputs {
            let inp = resolve_path(input)?;
            let relation = if out == inp {
                "is"
            } else if inp.starts_with(&out) {
                "contains"
            } else if out.starts_with(&inp) {
                "lies inside"
            } else {
                continue;
            };
            return Err(SparseError::OutputOverlapsInput {
                path: output.to_path_buf(),
                input: input.to_path_buf(),
                relation,
            });
        }
        Ok(())
    }

    /// Rows pushed so far.
    pub fn nrows(&self) -> usize {
        self.matrix.nrows()
    }

    /// Append one document: sorted term indices and their values. A row
    /// refused ([`SparseError::InvalidRow`], [`SparseError::TooLarge`]) is
    /// named by the target directory, not the temporary one the matrix is
    /// written in.
    pub fn push_row(&mut self, indices: &[u32], values: &[f32]) -> Result<(), SparseError> {
        self.matrix.push_row(indices, values).map_err(|e| match e {
            SparseError::InvalidRow { row, message, .. } => SparseError::InvalidRow {
                path: self.target.clone(),
                row,
                message,
            },
            SparseError::TooLarge { message, .. } => SparseError::TooLarge {
                path: self.target.clone(),
                message,
            },
            other => other,
        })
    }

    /// Write the matrix, its transpose, the text files and the manifest, then
    /// rename the directory into place. `vocabulary` must have one entry per
    /// column, `doc_ids` and `labels` one per row; no entry may contain a line break.
    pub fn finish<S: AsRef<str>>(
        self,
        vocabulary: &[S],
        doc_ids: &[S],
        labels: Option<&[S]>,
        extra: serde_json::Value,
    ) -> Result<Manifest, SparseError> {
        let CorpusWriter {
            target,
            tmp,
            matrix,
            overwrite,
            made,
        } = self;
        // On error `finish_in` has removed the temporary directory by the
        // time `made` drops, so the directories it lived in can go too.
        let manifest = finish_in(
            &target, tmp, matrix, overwrite, vocabulary, doc_ids, labels, extra,
        )?;
        made.keep();
        Ok(manifest)
    }
}

/// [`CorpusWriter::finish`] once the writer is taken apart.
#[allow(clippy::too_many_arguments)]
fn finish_in<S: AsRef<str>>(
    target: &Path,
    tmp: Unfinished,
    matrix: MatrixWriter,
    overwrite: bool,
    vocabulary: &[S],
    doc_ids: &[S],
    labels: Option<&[S]>,
    extra: serde_json::Value,
) -> Result<Manifest, SparseError> {
    let nrows = matrix.nrows();
    let ncols = vocabulary.len();
    let mismatch = |message: String| SparseError::CorpusMismatch {
        path: target.to_path_buf(),
        message,
    };
    let summary_ncols = matrix.ncols();
    if vocabulary.len() as u64 != summary_ncols {
        return Err(mismatch(format!(
            "vocabulary has {} terms but the matrix has {summary_ncols} columns",
            vocabulary.len()
        )));
    }
    if doc_ids.len() != nrows {
        return Err(mismatch(format!(
            "{} document ids for {nrows} rows",
            doc_ids.len()
        )));
    }
    if let Some(labels) = labels {
        if labels.len() != nrows {
            return Err(mismatch(format!(
                "{} labels for {nrows} rows",
                labels.len()
            )));
        }
    }
    let lists = [
        ("term", Some(vocabulary)),
        ("document id", Some(doc_ids)),
        ("label", labels),
    ];
    for (what, list) in lists {
        if let Some((i, entry)) = list.and_then(line_break) {
            return Err(mismatch(format!(
                    "{what} {} of {} ({entry:?}) holds a line break: a corpus directory keeps one per line",
                    i + 1,
                    list.map_or(0, <[S]>::len)
                )));
        }
    }
    let summary = matrix.finish()?;
    let dir = tmp.path();
    let mapped = MappedMatrix::open(dir.join(MATRIX_FILE))?;
    write_transpose(&dir.join(TRANSPOSE_FILE), mapped.view())?;
    drop(mapped);
    let mut text_crc32 = BTreeMap::new();
    let texts = [
        (VOCAB_FILE, Some(vocabulary)),
        (DOC_IDS_FILE, Some(doc_ids)),
        (LABELS_FILE, labels),
    ];
    for (name, lines) in texts {
        if let Some(lines) = lines {
            text_crc32.insert(name.to_string(), write_lines(&dir.join(name), lines)?);
        }
    }
    let manifest = Manifest {
        format: CORPUS_FORMAT.to_string(),
        version: CORPUS_VERSION,
        nrows: summary.nrows,
        ncols: ncols as u64,
        nnz: summary.nnz,
        matrix: MATRIX_FILE.to_string(),
        transpose: TRANSPOSE_FILE.to_string(),
        vocabulary: VOCAB_FILE.to_string(),
        doc_ids: DOC_IDS_FILE.to_string(),
        labels: labels.map(|_| LABELS_FILE.to_string()),
        created_by: concat!("topicmill-sparse ", env!("CARGO_PKG_VERSION")).to_string(),
        extra,
        text_crc32,
    };
    let manifest_path = dir.join(MANIFEST_FILE);
    let json = serde_json::to_vec_pretty(&manifest).expect("a manifest serializes");
    write_synced(&manifest_path, &json)?;
    sync_dir(dir);
    install(tmp, target, overwrite)?;
    Ok(manifest)
}

/// What a corpus writer finds at its target.
enum Existing {
    Nothing,
    EmptyDir,
    /// A directory holding a topicmill corpus manifest and a corpus's files
    /// only.
    Corpus,
    /// A corpus directory that also holds this entry, not a corpus's file.
    CorpusAnd(PathBuf),
    /// Anything else: a file, a symbolic link, a directory of other things.
    Other,
}

/// The files a corpus directory holds: replacing one removes these only.
const CORPUS_FILES: [&str; 6] = [
    MATRIX_FILE,
    TRANSPOSE_FILE,
    VOCAB_FILE,
    DOC_IDS_FILE,
    LABELS_FILE,
    MANIFEST_FILE,
];

/// Why `existing` at `target` is not replaced, even when asked to.
fn refusal(existing: Existing, target: &Path) -> SparseError {
    match existing {
        Existing::CorpusAnd(entry) => SparseError::CorpusHoldsOthers {
            path: target.to_path_buf(),
            entry,
        },
        _ => SparseError::NotACorpus {
            path: target.to_path_buf(),
        },
    }
}

/// The target as a writer renames it: `dir` as given, but resolved
/// ([`resolve_path`]) where a `..` follows a named component, and without
/// a final `.` after one. A corpus at `c/../c` was otherwise moved aside
/// through `c/..`, which then no longer existed for the new one's rename
/// (the old corpus was left aside, `c` gone); at `c/.` the rename failed.
fn clean_target(dir: &Path) -> Result<PathBuf, SparseError> {
    let mut named = false;
    for part in dir.components() {
        match part {
            Component::Normal(_) => named = true,
            Component::ParentDir if named => return resolve_path(dir),
            _ => {}
        }
    }
    if named && dir.as_os_str().as_encoded_bytes().ends_with(b"/.") {
        // `components` drops every `.` but a leading one.
        return Ok(dir.components().collect());
    }
    Ok(dir.to_path_buf())
}

/// What is at `target`; the current directory and its ancestors are refused.
fn inspect_target(target: &Path) -> Result<Existing, SparseError> {
    let meta = match fs::symlink_metadata(target) {
        // Below a file, nothing can be; creating the directory will say why.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(Existing::Nothing)
        }
        Err(e) => return Err(SparseError::io(target, "cannot inspect", e)),
        Ok(meta) => meta,
    };
    // `.`, `..`, `/`: never renamed away nor into (and an empty one would
    // otherwise be removed).
    // A dangling link, or no working directory (it was removed): neither
    // can hold it.
    let cwd = std::env::current_dir().and_then(|d| d.canonicalize());
    let holds_cwd = match (target.canonicalize(), cwd) {
        (Ok(canonical), Ok(cwd)) => cwd.starts_with(canonical),
        _ => false,
    };
    if holds_cwd {
        return Err(SparseError::WorkingDirectory {
            path: target.to_path_buf(),
        });
    }
    if !meta.is_dir() {
        return Ok(Existing::Other);
    }
    let mut entries =
        fs::read_dir(target).map_err(|e| SparseError::io(target, "cannot read", e))?;
    if entries.next().is_none() {
        return Ok(Existing::EmptyDir);
    }
    if !is_corpus_dir(target) {
        return Ok(Existing::Other);
    }
    for entry in fs::read_dir(target).map_err(|e| SparseError::io(target, "cannot read", e))? {
        let name = entry
            .map_err(|e| SparseError::io(target, "cannot read", e))?
            .file_name();
        if !CORPUS_FILES.iter().any(|f| name == *f) {
            return Ok(Existing::CorpusAnd(name.into()));
        }
    }
    Ok(Existing::Corpus)
}

/// `dir` holds a `manifest.json` (a file, not a link) whose format is
/// [`CORPUS_FORMAT`]: a corpus, whatever its version or the state of its
/// other files. An export folder's manifest, for one, is not.
fn is_corpus_dir(dir: &Path) -> bool {
    #[derive(Deserialize)]
    struct Format {
        format: String,
    }
    let path = dir.join(MANIFEST_FILE);
    let is_file = fs::symlink_metadata(&path).is_ok_and(|m| m.is_file());
    is_file
        && fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Format>(&bytes).ok())
            .is_some_and(|m| m.format == CORPUS_FORMAT)
}

/// `path` made absolute and canonical as far as it exists: its nearest
/// existing ancestor canonicalized, the rest (which holds no links, not
/// existing) appended with `.` and `..` resolved by name. Two paths that
/// name one file, existing or not, resolve alike: the output checks compare
/// outputs with inputs this way (here and in the CLI).
pub fn resolve_path(path: &Path) -> Result<PathBuf, SparseError> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| SparseError::io(Path::new("."), "cannot resolve", e))?
            .join(path)
    };
    let mut rest = Vec::new();
    let mut base: &Path = &absolute;
    let mut resolved = loop {
        match base.canonicalize() {
            Ok(canonical) => break canonical,
            Err(_) => match (base.parent(), base.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name.to_os_string());
                    base = parent;
                }
                // `..` or `.` ending a missing path: resolved below, by name.
                (Some(parent), None) => {
                    rest.push(
                        base.components()
                            .next_back()
                            .map_or_else(Default::default, |c| c.as_os_str().to_os_string()),
                    );
                    base = parent;
                }
                (None, _) => break base.to_path_buf(),
            },
        }
    };
    for name in rest.iter().rev() {
        match name.to_str() {
            Some("..") => {
                resolved.pop();
            }
            Some(".") | Some("") => {}
            _ => resolved.push(name),
        }
    }
    Ok(resolved)
}

/// The temporary directories of the corpora this process is writing, each
/// with the directories made for it ([`MadeDirs`], innermost first), for
/// [`CorpusWriter::remove_unfinished`]. Its lock is also held while a
/// finished corpus is renamed into place.
static UNFINISHED: Mutex<Vec<(PathBuf, Vec<PathBuf>)>> = Mutex::new(Vec::new());

type UnfinishedList = Vec<(PathBuf, Vec<PathBuf>)>;

fn unfinished_list() -> MutexGuard<'static, UnfinishedList> {
    UNFINISHED.lock().unwrap_or_else(PoisonError::into_inner)
}

fn unlist(list: &mut UnfinishedList, path: &Path) {
    if let Some(i) = list.iter().position(|(p, _)| p == path) {
        list.swap_remove(i);
    }
}

/// A corpus's temporary directory, listed in [`UNFINISHED`] while it
/// exists: removed (then unlisted) on drop, unless [`settle`](Unfinished::settle)d.
#[derive(Debug)]
struct Unfinished(Option<TempDir>);

impl Unfinished {
    fn new(dir: TempDir, made: &MadeDirs) -> Self {
        unfinished_list().push((dir.path().to_path_buf(), made.0.clone()));
        Unfinished(Some(dir))
    }

    fn path(&self) -> &Path {
        self.0
            .as_ref()
            .expect("held until settled or dropped")
            .path()
    }

    /// The directory was renamed into place: kept, and unlisted from
    /// `list`, the locked [`UNFINISHED`].
    fn settle(mut self, list: &mut UnfinishedList) {
        if let Some(dir) = self.0.take() {
            unlist(list, &dir.keep());
        }
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let path = dir.path().to_path_buf();
            // Removed first: a clean-up running meanwhile still sees it.
            drop(dir);
            unlist(&mut unfinished_list(), &path);
        }
    }
}

impl CorpusWriter {
    /// Removes the temporary directory of every corpus this process is
    /// still writing. For a binary on its way out on a signal (SIGINT,
    /// SIGTERM), where no destructor runs: an interrupted command then
    /// leaves no `.NAME.tmp-*` directory behind, nor the (empty) parent
    /// directories made for it. It waits for a corpus
    /// being renamed into place (which stays), and from then on every
    /// writer of this process blocks: call it only right before exiting.
    pub fn remove_unfinished() {
        let list = unfinished_list();
        for (path, made) in list.iter() {
            // A writer may still be adding files to it: try again.
            for _ in 0..10 {
                if fs::remove_dir_all(path).is_ok() || !path.exists() {
                    break;
                }
            }
            // As `MadeDirs` would on drop.
            for dir in made {
                if fs::remove_dir(dir).is_err() {
                    break;
                }
            }
        }
        // Held to the end: no writer goes on.
        std::mem::forget(list);
    }
}

/// A corpus that a replace moved aside and did not delete: the process
/// was killed between moving it aside and renaming the new one in. See
/// [`CorpusWriter::recover_set_aside`]; its `Display` is a sentence for the
/// user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetAside {
    /// The target was missing: the corpus moved aside from it, at `from`,
    /// was renamed back to `target`.
    Restored {
        /// The target, as given.
        target: PathBuf,
        /// Where the corpus was.
        from: PathBuf,
    },
    /// Left where it is, at `corpus`: the target exists, or more than one
    /// corpus was moved aside from it, or this one could not be put back.
    /// `target` is the corpus it was moved aside from, when its
    /// directory's name says so (older builds did not name it).
    Kept {
        /// The corpus moved aside (`old` inside the hidden directory).
        corpus: PathBuf,
        /// The target it was moved aside from, if known.
        target: Option<PathBuf>,
    },
}

impl fmt::Display for SetAside {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetAside::Restored { target, from } => write!(
                f,
                "{}: was missing, after an interrupted replace; the corpus it held, \
                 moved aside to {}, is put back",
                target.display(),
                from.display()
            ),
            SetAside::Kept { corpus, target } => {
                let of = match target {
                    Some(target) => format!("of {}", target.display()),
                    None => "of a corpus of this directory".to_string(),
                };
                write!(
                    f,
                    "{}: the corpus an interrupted replace {of} moved aside is still here, \
                     in a hidden directory: move it where you want it, or remove {}",
                    corpus.display(),
                    parent_dir(corpus).display()
                )
            }
        }
    }
}

/// The name of the directory a replace moves the old corpus into starts
/// with this, then the target's name and `-` (when the name is at most
/// [`ASIDE_NAME_MAX`] bytes), then [`ASIDE_RANDOM`] random letters and
/// digits; the old corpus is `old` inside it.
const ASIDE_PREFIX: &str = ".topicmill-old-";
/// The random characters ending the aside directory's name.
const ASIDE_RANDOM: usize = 6;
/// The longest target name the aside directory's name holds: a file name
/// has at most 255 bytes, and a longer target's aside is not named after it.
const ASIDE_NAME_MAX: usize = 200;
/// The aside directory's entry holding the old corpus.
const ASIDE_CORPUS: &str = "old";

/// The aside directory's name before its random characters, for `target`.
fn aside_prefix(target: &Path) -> OsString {
    let mut prefix = OsString::from(ASIDE_PREFIX);
    if let Some(name) = target.file_name().filter(|n| n.len() <= ASIDE_NAME_MAX) {
        prefix.push(name);
        prefix.push("-");
    }
    prefix
}

/// Whether the directory entry `entry` is an aside directory: `Some(true)`
/// when its name says it was moved aside from a target named `name`,
/// `Some(false)` when its name does not say from which (older builds).
fn aside_of(entry: &OsStr, name: &OsStr) -> Option<bool> {
    let rest = entry
        .as_encoded_bytes()
        .strip_prefix(ASIDE_PREFIX.as_bytes())?;
    let random = |r: &[u8]| r.len() == ASIDE_RANDOM && r.iter().all(u8::is_ascii_alphanumeric);
    if random(rest) {
        return Some(false);
    }
    let random_part = rest
        .strip_prefix(name.as_encoded_bytes())?
        .strip_prefix(b"-")?;
    random(random_part).then_some(true)
}

impl CorpusWriter {
    /// Looks beside the target `dir` for corpora that a replace moved
    /// aside and was killed (SIGKILL, no clean-up) before renaming the new
    /// one in: hidden directories `.topicmill-old-NAME-XXXXXX` (or, from
    /// older builds, `.topicmill-old-XXXXXX`, which do not say which
    /// corpus they held) whose `old` is a corpus directory. Call it before
    /// writing to `dir`, and tell the user what it returns.
    ///
    /// Only when `dir` is missing and exactly one corpus was moved aside
    /// from it, complete (it opens), is it put back: renamed to `dir` (a
    /// rename that replaces no existing file nor non-empty directory), as
    /// if the replace had never started; a writer without `overwrite` then
    /// finds `dir` taken. Every other is left where it is, never removed:
    /// it may be the only copy of the user's data.
    pub fn recover_set_aside(dir: impl AsRef<Path>) -> Result<Vec<SetAside>, SparseError> {
        let given = dir.as_ref();
        let target = clean_target(given)?;
        let Some(name) = target.file_name() else {
            return Ok(Vec::new());
        };
        let parent = parent_dir(&target);
        // A directory that cannot be read holds nothing found here; the
        // write will say what is wrong with it.
        let Ok(entries) = fs::read_dir(parent) else {
            return Ok(Vec::new());
        };
        let mut found: Vec<(PathBuf, bool)> = entries
            .flatten()
            .filter_map(|entry| {
                let named = aside_of(&entry.file_name(), name)?;
                let aside = entry.path();
                let is_dir = fs::symlink_metadata(&aside).is_ok_and(|m| m.is_dir());
                (is_dir && is_corpus_dir(&aside.join(ASIDE_CORPUS))).then_some((aside, named))
            })
            .collect();
        found.sort();
        let missing = matches!(
            fs::symlink_metadata(&target),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound
        );
        let mut restored = None;
        if let [(aside, _)] = found.iter().filter(|(_, named)| *named).collect::<Vec<_>>()[..] {
            let old = aside.join(ASIDE_CORPUS);
            if missing && Corpus::open(&old).is_ok() && fs::rename(&old, &target).is_ok() {
                // Empty now; left behind if it cannot go, harmless.
                let _ = fs::remove_dir(aside);
                sync_dir(parent);
                restored = Some(aside.clone());
            }
        }
        Ok(found
            .into_iter()
            .map(|(aside, named)| {
                if restored.as_ref() == Some(&aside) {
                    SetAside::Restored {
                        target: given.to_path_buf(),
                        from: aside.join(ASIDE_CORPUS),
                    }
                } else {
                    SetAside::Kept {
                        corpus: aside.join(ASIDE_CORPUS),
                        target: named.then(|| given.to_path_buf()),
                    }
                }
            })
            .collect())
    }
}

/// Rename the finished temporary directory to `target`, checked again as
/// [`CorpusWriter::check_target`] does. Under the lock of [`UNFINISHED`]: a
/// clean-up on a signal neither removes a directory as it is renamed nor
/// leaves the old corpus aside.
fn install(tmp: Unfinished, target: &Path, overwrite: bool) -> Result<(), SparseError> {
    let parent = parent_dir(target);
    let mut list = unfinished_list();
    let backup = match rename_into_place(tmp.path(), target, overwrite) {
        Ok(backup) => backup,
        Err(e) => {
            // Unlocked before `tmp` drops (and takes the lock).
            drop(list);
            return Err(e);
        }
    };
    // The directory now lives at `target`: disarm its cleanup.
    tmp.settle(&mut list);
    drop(list);
    sync_dir(parent);
    // Dropped, the aside directory goes with the old corpus.
    drop(backup);
    Ok(())
}

/// [`install`]'s renames: the old corpus (if any) aside, returned, and
/// `tmp` to `target`.
fn rename_into_place(
    tmp: &Path,
    target: &Path,
    overwrite: bool,
) -> Result<Option<TempDir>, SparseError> {
    let parent = parent_dir(target);
    let backup = match (inspect_target(target)?, overwrite) {
        (Existing::Nothing, _) => None,
        (Existing::EmptyDir, _) => {
            fs::remove_dir(target)
                .map_err(|e| SparseError::io(target, "cannot replace empty directory", e))?;
            None
        }
        (Existing::Corpus, true) => Some(move_aside(target, parent)?),
        (existing, true) => return Err(refusal(existing, target)),
        (_, false) => {
            return Err(SparseError::AlreadyExists {
                path: target.to_path_buf(),
            })
        }
    };
    if let Err(e) = fs::rename(tmp, target) {
        if let Some(aside) = backup {
            // Put the old corpus back; if even that fails, keep it where it
            // is and say where.
            if let Err(back) = fs::rename(aside.path().join(ASIDE_CORPUS), target) {
                let kept = aside.keep().join(ASIDE_CORPUS);
                return Err(SparseError::io(
                    &kept,
                    "the new corpus could not be renamed into place, nor this old one put back (it is kept here)",
                    back,
                ));
            }
        }
        return Err(SparseError::io(
            target,
            "cannot rename the finished corpus into place",
            e,
        ));
    }
    Ok(backup)
}

/// Moves the corpus at `target` into a fresh temporary directory of
/// `parent` (as `old`), named after `target` (see [`ASIDE_PREFIX`]), which
/// removes itself, and what it holds, when dropped: on every path,
/// including a failed move.
fn move_aside(target: &Path, parent: &Path) -> Result<TempDir, SparseError> {
    let aside = tempfile::Builder::new()
        .prefix(&aside_prefix(target))
        .rand_bytes(ASIDE_RANDOM)
        .tempdir_in(parent)
        .map_err(|e| {
            SparseError::io(
                parent,
                "cannot create a temporary directory in this directory",
                e,
            )
        })?;
    fs::rename(target, aside.path().join(ASIDE_CORPUS))
        .map_err(|e| SparseError::io(target, "cannot move the old corpus aside", e))?;
    Ok(aside)
}

/// Write `data` to `path` and sync it.
fn write_synced(path: &Path, data: &[u8]) -> Result<(), SparseError> {
    let mut f = fs::File::create(path).map_err(|e| SparseError::io(path, "cannot create", e))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .map_err(|e| SparseError::io(path, "cannot write", e))
}

/// The first of `entries` that holds a line break (`\n` or `\r`), with its
/// index: a corpus directory keeps its terms, document ids and labels one
/// per line, and cannot store such an entry. [`CorpusWriter::finish`]
/// refuses it; callers that read documents can check early with it, before
/// the work.
pub fn line_break<S: AsRef<str>>(entries: &[S]) -> Option<(usize, &str)> {
    entries
        .iter()
        .map(AsRef::as_ref)
        .enumerate()
        .find(|(_, e)| e.contains(['\n', '\r']))
}

/// One entry per line (`finish` has refused entries with line breaks);
/// returns the CRC-32 of the file's bytes.
fn write_lines<S: AsRef<str>>(path: &Path, lines: &[S]) -> Result<u32, SparseError> {
    let f = fs::File::create(path).map_err(|e| SparseError::io(path, "cannot create", e))?;
    let mut w = BufWriter::with_capacity(1 << 16, f);
    let mut crc = crc32fast::Hasher::new();
    for line in lines {
        crc.update(line.as_ref().as_bytes());
        crc.update(b"\n");
        w.write_all(line.as_ref().as_bytes())
            .and_then(|()| w.write_all(b"\n"))
            .map_err(|e| SparseError::io(path, "cannot write", e))?;
    }
    let f = w
        .into_inner()
        .map_err(|e| SparseError::io(path, "cannot write", e.into_error()))?;
    f.sync_all()
        .map_err(|e| SparseError::io(path, "cannot sync", e))?;
    Ok(crc.finalize())
}

/// Read a file of exactly `expected` newline-terminated lines.
fn read_lines(path: &Path, expected: usize, what: &str) -> Result<Vec<String>, SparseError> {
    let bytes = fs::read(path).map_err(|e| SparseError::io(path, "cannot read", e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        SparseError::Syntax {
            path: path.to_path_buf(),
            line,
            message: format!("not valid UTF-8 (byte offset {at})"),
        }
    })?;
    let lines: Vec<String> = if text.is_empty() {
        Vec::new()
    } else {
        text.strip_suffix('\n')
            .unwrap_or(&text)
            .split('\n')
            .map(str::to_string)
            .collect()
    };
    if lines.len() != expected {
        return Err(SparseError::CorpusMismatch {
            path: path.to_path_buf(),
            message: format!(
                "line {}: {} lines, but the matrix has {expected} {what}",
                lines.len().min(expected) + 1,
                lines.len()
            ),
        });
    }
    Ok(lines)
}

/// Write a whole corpus from an in-memory (or mapped) matrix; see
/// [`CorpusWriter`]. `matrix` must be stored row by row
/// ([`SparseError::NotCsr`] naming `dir` otherwise, before anything is
/// made).
pub fn write_corpus<S: AsRef<str>>(
    dir: impl AsRef<Path>,
    matrix: CsrView<'_>,
    vocabulary: &[S],
    doc_ids: &[S],
    labels: Option<&[S]>,
    extra: serde_json::Value,
) -> Result<Manifest, SparseError> {
    crate::error::require_csr(&matrix, dir.as_ref(), "the corpus's matrix")?;
    let mut writer = CorpusWriter::create(dir, matrix.cols())?;
    let indptr = matrix.proper_indptr();
    let (indices, data) = (matrix.indices(), matrix.data());
    for w in indptr.windows(2) {
        let range = w[0] as usize..w[1] as usize;
        writer.push_row(&indices[range.clone()], &data[range])?;
    }
    writer.finish(vocabulary, doc_ids, labels, extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The directory a replace moves the old corpus into is named after
    /// the target (unless the name is too long for it), so that a later
    /// write to the target, finding it left by a killed replace, can tell
    /// it was the target's; and the state left then is put back.
    #[test]
    fn the_aside_directory_names_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let long = "n".repeat(ASIDE_NAME_MAX + 1);
        for (name, named) in [("my corpus-1", Some(true)), (long.as_str(), Some(false))] {
            let target = dir.path().join(name);
            fs::create_dir(&target).unwrap();
            let aside = move_aside(&target, dir.path()).unwrap();
            let entry = aside.path().file_name().unwrap();
            assert_eq!(aside_of(entry, OsStr::new(name)), named, "{entry:?}");
            assert!(aside.path().join(ASIDE_CORPUS).is_dir());
            assert!(!target.exists());
        }
        // Not another target's, even one whose name starts alike.
        let entry = OsStr::new(".topicmill-old-my corpus-1-Ab12Cd");
        assert_eq!(aside_of(entry, OsStr::new("my corpus")), None);
        assert_eq!(aside_of(entry, OsStr::new("my corpus-1-Ab")), None);
        assert_eq!(aside_of(entry, OsStr::new("my corpus-1")), Some(true));

        // Killed between the renames: the aside kept, the target missing.
        let target = dir.path().join("c");
        let x = crate::CsrMatrix::new((1, 2), vec![0, 1], vec![1], vec![1.0]);
        write_corpus(
            &target,
            x.view(),
            &["a", "b"],
            &["d"],
            None,
            serde_json::Value::Null,
        )
        .unwrap();
        let aside = move_aside(&target, dir.path()).unwrap().keep();
        let found = CorpusWriter::recover_set_aside(&target).unwrap();
        assert_eq!(
            found,
            [SetAside::Restored {
                target: target.clone(),
                from: aside.join(ASIDE_CORPUS),
            }]
        );
        assert_eq!(Corpus::open(&target).unwrap().vocabulary(), ["a", "b"]);
        assert!(!aside.exists());
    }
}
