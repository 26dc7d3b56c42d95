//! UCI bag-of-words files: `docword.*.txt` (+ `vocab.*.txt`).
//!
//! ```text
//! D            number of documents
//! W            number of words in the vocabulary
//! NNZ          number of (document, word, count) lines that follow
//! docID wordID count
//! ```
//! Ids are 1-based, counts positive integers. Documents usually come in order, words within a document not
//! always: the reader sorts each row. A repeated (document, word) pair is an error
//! ([`SparseError::DuplicateEntry`]), not summed: the format promises one line per
//! pair, so a repeat means a broken file.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::coo::Coo;
use crate::error::{require_csr, SparseError};
use crate::input::{fields, is_blank, parse_u64, show, Lines};
use crate::mtx::{check_shape, write_triples};
use crate::writer::{parent_dir, persist};
use crate::{CsrMatrix, CsrView};

/// Read a UCI `docword` file (gzip or plain, detected by magic bytes) as a
/// documents × words CSR matrix. Entries may come in any order; the whole
/// matrix is built in memory (about 20 bytes per entry at the peak, and 16
/// per document, allocated fallibly: [`SparseError::TooLarge`] naming line
/// 1 when D is beyond memory). For large files grouped by document,
/// [`DocwordReader::stream_rows`] needs memory for one row only.
///
/// Counts are stored as f32: exact up to 2²⁴ = 16,777,216, rounded to the
/// nearest f32 above (relative error at most 2⁻²⁴). A UTF-8 byte order mark
/// before D is skipped.
pub fn read_docword(path: &Path) -> Result<CsrMatrix, SparseError> {
    DocwordReader::open(path)?.read_all()
}

/// Where [`DocwordReader::stream_rows`] sends each row.
type RowSink<'a> = dyn FnMut(&[u32], &[f32]) -> Result<(), SparseError> + 'a;

/// A docword file whose header has been read and checked.
pub struct DocwordReader {
    path: std::path::PathBuf,
    lines: Lines,
    header: DocwordHeader,
}

impl std::fmt::Debug for DocwordReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocwordReader")
            .field("path", &self.path)
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl DocwordReader {
    /// Open `path` and read its D, W, NNZ header.
    pub fn open(path: &Path) -> Result<Self, SparseError> {
        let (lines, header) = read_header(path)?;
        Ok(DocwordReader {
            path: path.to_path_buf(),
            lines,
            header,
        })
    }

    /// The header: documents, words, entries.
    pub fn header(&self) -> DocwordHeader {
        self.header
    }

    /// Read every entry, in any order, into a CSR matrix.
    pub fn read_all(self) -> Result<CsrMatrix, SparseError> {
        let DocwordReader {
            path,
            mut lines,
            header,
        } = self;
        let mut coo = Coo::with_capacity(header.nnz);
        for_each_entry(&path, &mut lines, header, |_, doc, word, value| {
            coo.push((doc - 1) as u32, (word - 1) as u32, value);
            Ok(())
        })?;
        coo.into_csr(&path, (header.ndocs as usize, header.nwords as usize), 1, 4)
    }

    /// Hand the rows to `push` one at a time (sorted word indices, values), all D
    /// of them, empty documents included, holding one row in memory. Entries must
    /// be grouped by ascending document id, as UCI publishes them; otherwise this
    /// fails with [`SparseError::NotGrouped`] (use [`read_docword`] instead).
    pub fn stream_rows(
        self,
        mut push: impl FnMut(&[u32], &[f32]) -> Result<(), SparseError>,
    ) -> Result<(), SparseError> {
        let DocwordReader {
            path,
            mut lines,
            header,
        } = self;
        let mut current: u64 = 1; // 1-based document being gathered
        let mut row: Vec<(u32, f32)> = Vec::new();
        let (mut idx, mut val): (Vec<u32>, Vec<f32>) = (Vec::new(), Vec::new());
        let mut flush = |doc: u64,
                         row: &mut Vec<(u32, f32)>,
                         push: &mut RowSink<'_>|
         -> Result<(), SparseError> {
            row.sort_unstable_by_key(|e| e.0);
            if let Some(w) = row.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(crate::coo::duplicate(&path, 4, (doc - 1) as u32, w[0].0));
            }
            idx.clear();
            val.clear();
            idx.extend(row.iter().map(|e| e.0));
            val.extend(row.iter().map(|e| e.1));
            row.clear();
            push(&idx, &val)
        };
        for_each_entry(&path, &mut lines, header, |n, doc, word, value| {
            if doc < current {
                return Err(SparseError::NotGrouped {
                    path: path.clone(),
                    line: n,
                    row: doc,
                    previous: current,
                });
            }
            while current < doc {
                flush(current, &mut row, &mut push)?;
                current += 1;
            }
            row.push(((word - 1) as u32, value));
            Ok(())
        })?;
        while current <= header.ndocs {
            flush(current, &mut row, &mut push)?;
            current += 1;
        }
        Ok(())
    }
}

/// Parse and check every entry line, calling `f(line, doc, word, value)` with
/// 1-based ids in range and a valid value; check the count against NNZ.
fn for_each_entry(
    path: &Path,
    lines: &mut Lines,
    header: DocwordHeader,
    mut f: impl FnMut(u64, u64, u64, f32) -> Result<(), SparseError>,
) -> Result<(), SparseError> {
    let DocwordHeader {
        ndocs,
        nwords,
        nnz: declared,
    } = header;
    let syntax = |line: u64, message: String| SparseError::Syntax {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut count = 0u64;
    while let Some((n, line)) = lines.next_line()? {
        if is_blank(line) {
            continue;
        }
        if count == declared {
            return Err(SparseError::HeaderMismatch {
                path: path.to_path_buf(),
                line: n,
                message: format!("more entries than NNZ = {declared} declared on line 3"),
            });
        }
        let mut it = fields(line);
        let (Some(d), Some(w), Some(c), None) = (it.next(), it.next(), it.next(), it.next()) else {
            return Err(syntax(
                n,
                format!("expected 'docID wordID count', found '{}'", show(line)),
            ));
        };
        let doc = parse_u64(d)
            .ok_or_else(|| syntax(n, format!("docID '{}' is not a positive integer", show(d))))?;
        let word = parse_u64(w)
            .ok_or_else(|| syntax(n, format!("wordID '{}' is not a positive integer", show(w))))?;
        // Counts: positive integers (as MatrixMarket `integer` values are
        // integers), held as f32.
        let value = parse_u64(c)
            .filter(|&count| count > 0)
            .ok_or_else(|| syntax(n, format!("count '{}' is not a positive integer", show(c))))?
            as f32;
        if doc == 0 || word == 0 || doc > ndocs || word > nwords {
            return Err(SparseError::EntryOutOfRange {
                path: path.to_path_buf(),
                line: n,
                row: doc,
                col: word,
                nrows: ndocs,
                ncols: nwords,
            });
        }
        f(n, doc, word, value)?;
        count += 1;
    }
    if count != declared {
        return Err(SparseError::HeaderMismatch {
            path: path.to_path_buf(),
            line: lines.line_number() + 1,
            message: format!(
                "file ends after {count} entries, but line 3 declares NNZ = {declared}"
            ),
        });
    }
    Ok(())
}

/// The three header lines of a docword file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocwordHeader {
    /// D: documents (rows).
    pub ndocs: u64,
    /// W: words (columns).
    pub nwords: u64,
    /// NNZ: entries.
    pub nnz: u64,
}

fn read_header(path: &Path) -> Result<(Lines, DocwordHeader), SparseError> {
    let mut lines = Lines::open(path)?;
    let names = ["D (documents)", "W (words)", "NNZ (entries)"];
    let mut header = [0u64; 3];
    for (i, name) in names.iter().enumerate() {
        let (_, line) = lines
            .next_line()?
            .ok_or_else(|| SparseError::HeaderMismatch {
                path: path.to_path_buf(),
                line: i as u64 + 1,
                message: format!("file ends before the header line {name}"),
            })?;
        let mut f = fields(line);
        header[i] = match (f.next().and_then(parse_u64), f.next()) {
            (Some(v), None) => v,
            _ => {
                return Err(SparseError::HeaderMismatch {
                    path: path.to_path_buf(),
                    line: i as u64 + 1,
                    message: format!(
                        "header line {} must be the single integer {name}, found '{}'",
                        i + 1,
                        show(line)
                    ),
                })
            }
        };
    }
    let [ndocs, nwords, declared] = header;
    check_shape(path, 2, ndocs, nwords)?;
    if declared == 0 || ndocs == 0 || nwords == 0 {
        return Err(SparseError::EmptyCorpus {
            path: path.to_path_buf(),
            message: format!("D = {ndocs}, W = {nwords}, NNZ = {declared}"),
        });
    }
    if declared > ndocs.saturating_mul(nwords) {
        return Err(SparseError::HeaderMismatch {
            path: path.to_path_buf(),
            line: 3,
            message: format!("NNZ = {declared} cannot fit in {ndocs} documents x {nwords} words"),
        });
    }
    Ok((
        lines,
        DocwordHeader {
            ndocs,
            nwords,
            nnz: declared,
        },
    ))
}

/// Read a vocabulary file: one term per line (gzip or plain), line numbers
/// equal to word ids. Trailing spaces and `\r` are stripped. A blank line
/// or a term given twice is an error naming the line (and the first
/// line of a repeated term): a column needs a name, and a corpus one term
/// per column. A UTF-8 byte order mark opening the file is not part of the
/// first term.
pub fn read_vocab(path: &Path) -> Result<Vec<String>, SparseError> {
    let mut lines = Lines::open(path)?;
    let mut vocab = Vec::new();
    let mut first_line: HashMap<String, u64> = HashMap::new();
    let syntax = |line: u64, message: String| SparseError::Syntax {
        path: path.to_path_buf(),
        line,
        message,
    };
    while let Some((n, line)) = lines.next_line()? {
        let term = std::str::from_utf8(line)
            .map_err(|e| syntax(n, format!("not valid UTF-8: {e}")))?
            .trim_end();
        if term.is_empty() {
            return Err(syntax(n, "blank term: every column needs a name".into()));
        }
        if let Some(first) = first_line.insert(term.to_string(), n) {
            return Err(syntax(
                n,
                format!("term '{term}' given twice, first on line {first}"),
            ));
        }
        vocab.push(term.to_string());
    }
    Ok(vocab)
}

/// Write `m` (documents × words) as a UCI docword file, atomically. Its
/// values must be counts, positive integers that [`read_docword`] reads
/// back, so at most 2⁶⁴ ([`SparseError::InvalidRow`] otherwise, before
/// anything is written), and `m` a CSR view ([`SparseError::NotCsr`]).
pub fn write_docword(path: &Path, m: CsrView<'_>) -> Result<(), SparseError> {
    require_csr(&m, path, "the matrix to write")?;
    // The largest f32 whose shortest decimal form (as written below) is at
    // most u64::MAX, as the reader requires: 2^64 itself prints as
    // 18446744000000000000, the next f32 as 18446746000000000000.
    const LARGEST_COUNT: f32 = 18_446_744_073_709_551_616.0;
    for (row, values) in m.outer_iterator().enumerate() {
        if let Some(v) = values
            .data()
            .iter()
            .find(|v| !(v.fract() == 0.0 && **v >= 1.0 && **v <= LARGEST_COUNT))
        {
            let why = if v.is_finite() && *v > LARGEST_COUNT {
                " at most 2^64"
            } else {
                ""
            };
            return Err(SparseError::InvalidRow {
                path: path.to_path_buf(),
                row: row as u64,
                message: format!("value {v} is not a count (a positive integer{why})"),
            });
        }
    }
    let dir = parent_dir(path);
    let tmp = crate::atomic_temp_builder(".topicmill-tmp-")
        .tempfile_in(dir)
        .map_err(|e| SparseError::io(dir, "cannot create a temporary file in this directory", e))?;
    let mut w = BufWriter::with_capacity(1 << 20, tmp);
    let io = |e: std::io::Error| SparseError::io(path, "cannot write", e);
    writeln!(w, "{}\n{}\n{}", m.rows(), m.cols(), m.nnz()).map_err(io)?;
    write_triples(&mut w, m).map_err(io)?;
    let tmp = w
        .into_inner()
        .map_err(|e| SparseError::io(path, "cannot write", e.into_error()))?;
    persist(tmp, path)
}
