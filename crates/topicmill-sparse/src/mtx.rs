//! MatrixMarket coordinate files: `real`, `integer` or `pattern`, `general`.

use std::io::{BufWriter, Write};
use std::path::Path;

use crate::coo::Coo;
use crate::error::{value_problem, SparseError};
use crate::input::{fields, is_blank, parse_f32, parse_u64, show, Lines};
use crate::writer::{parent_dir, persist};
use crate::{CsrMatrix, CsrView};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Real,
    Integer,
    Pattern,
}

/// Read a MatrixMarket coordinate file (gzip or plain, detected by magic bytes)
/// into CSR. Entries may come in any order; a duplicate (row, column) pair is an
/// error ([`SparseError::DuplicateEntry`]), as are values that are NaN, infinite
/// or negative. Explicit zeros are kept as stored entries. `pattern` entries get
/// the value 1.
pub fn read_mtx(path: &Path) -> Result<CsrMatrix, SparseError> {
    let syntax = |line: u64, message: String| SparseError::Syntax {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut lines = Lines::open(path)?;
    let (_, banner) = lines
        .next_line()?
        .ok_or_else(|| syntax(1, "empty file: expected a %%MatrixMarket banner".into()))?;
    let words: Vec<String> = fields(banner)
        .map(|f| show(f).to_ascii_lowercase())
        .collect();
    if words.first().map(String::as_str) != Some("%%matrixmarket") || words.len() != 5 {
        return Err(syntax(
            1,
            "expected the banner '%%MatrixMarket matrix coordinate <real|integer|pattern> general'"
                .into(),
        ));
    }
    if words[1] != "matrix" || words[2] != "coordinate" {
        return Err(syntax(
            1,
            format!(
                "unsupported '{} {}': only 'matrix coordinate' files are read",
                words[1], words[2]
            ),
        ));
    }
    let field = match words[3].as_str() {
        "real" => Field::Real,
        "integer" => Field::Integer,
        "pattern" => Field::Pattern,
        other => {
            return Err(syntax(
                1,
                format!("unsupported field '{other}': expected real, integer or pattern"),
            ))
        }
    };
    if words[4] != "general" {
        return Err(syntax(
            1,
            format!(
                "unsupported symmetry '{}': only 'general' is read",
                words[4]
            ),
        ));
    }

    // Comments, then the size line.
    let (nrows, ncols, declared) = loop {
        let Some((n, line)) = lines.next_line()? else {
            return Err(SparseError::HeaderMismatch {
                path: path.to_path_buf(),
                line: lines.line_number() + 1,
                message: "file ends before the size line 'rows columns entries'".into(),
            });
        };
        if line.first() == Some(&b'%') || is_blank(line) {
            continue;
        }
        let parts: Vec<&[u8]> = fields(line).collect();
        let nums: Vec<Option<u64>> = parts.iter().map(|f| parse_u64(f)).collect();
        match nums.as_slice() {
            [Some(r), Some(c), Some(l)] => break (*r, *c, *l),
            _ => {
                return Err(SparseError::HeaderMismatch {
                    path: path.to_path_buf(),
                    line: n,
                    message: format!(
                        "wrong size line '{}': expected three non-negative integers 'rows columns entries'",
                        show(line)
                    ),
                })
            }
        }
    };
    let size_line = lines.line_number();
    check_shape(path, size_line, nrows, ncols)?;
    if declared > nrows.saturating_mul(ncols) {
        return Err(SparseError::HeaderMismatch {
            path: path.to_path_buf(),
            line: size_line,
            message: format!("{declared} entries cannot fit in a {nrows} x {ncols} matrix"),
        });
    }

    let mut coo = Coo::with_capacity(declared);
    let mut count: u64 = 0;
    let want_fields = if field == Field::Pattern { 2 } else { 3 };
    while let Some((n, line)) = lines.next_line()? {
        if line.first() == Some(&b'%') || is_blank(line) {
            continue;
        }
        if count == declared {
            return Err(SparseError::HeaderMismatch {
                path: path.to_path_buf(),
                line: n,
                message: format!(
                    "more entries than the {declared} promised by the size line (line {size_line})"
                ),
            });
        }
        let mut it = fields(line);
        let (fr, fc, fv) = (it.next(), it.next(), it.next());
        let extra = it.next();
        let got = [fr, fc, fv, extra].iter().filter(|f| f.is_some()).count();
        if got != want_fields {
            return Err(syntax(
                n,
                format!(
                    "expected {want_fields} fields ('row column{}'), found {got}",
                    if want_fields == 3 { " value" } else { "" }
                ),
            ));
        }
        let (r, c) = (fr.expect("counted"), fc.expect("counted"));
        let row = parse_u64(r)
            .ok_or_else(|| syntax(n, format!("row '{}' is not a positive integer", show(r))))?;
        let col = parse_u64(c)
            .ok_or_else(|| syntax(n, format!("column '{}' is not a positive integer", show(c))))?;
        if row == 0 || col == 0 || row > nrows || col > ncols {
            return Err(SparseError::EntryOutOfRange {
                path: path.to_path_buf(),
                line: n,
                row,
                col,
                nrows,
                ncols,
            });
        }
        let value = match (field, fv) {
            (Field::Pattern, _) => 1.0,
            (Field::Integer, Some(v)) => {
                let i = parse_u64(v).ok_or_else(|| {
                    syntax(
                        n,
                        format!("value '{}' is not a non-negative integer", show(v)),
                    )
                })?;
                i as f32
            }
            (_, Some(v)) => parse_f32(v)
                .ok_or_else(|| syntax(n, format!("value '{}' is not a number", show(v))))?,
            (_, None) => unreachable!("field count checked"),
        };
        if let Some(kind) = value_problem(value) {
            let text = fv.map_or_else(String::new, show);
            return Err(SparseError::InvalidTextValue {
                path: path.to_path_buf(),
                line: n,
                kind: text_value_problem(&text, kind),
                text,
            });
        }
        coo.push((row - 1) as u32, (col - 1) as u32, value);
        count += 1;
    }
    if count != declared {
        return Err(SparseError::HeaderMismatch {
            path: path.to_path_buf(),
            line: lines.line_number() + 1,
            message: format!(
                "file ends after {count} entries, the size line (line {size_line}) promises {declared}"
            ),
        });
    }
    coo.into_csr(path, nrows as usize, ncols as usize, size_line + 1)
}

/// The problem with a value written `text`, which reads as an f32 with
/// the problem `kind`: a finite number too large for f32 reads as infinite,
/// and is said to be beyond the range instead.
pub(crate) fn text_value_problem(text: &str, kind: &'static str) -> &'static str {
    match text.parse::<f64>() {
        Ok(v) if kind == "infinite" && v.is_finite() => "beyond the f32 range",
        _ => kind,
    }
}

/// Rows must fit the u32 transpose indices, columns the u32 column indices.
pub(crate) fn check_shape(
    path: &Path,
    line: u64,
    nrows: u64,
    ncols: u64,
) -> Result<(), SparseError> {
    if nrows > u64::from(u32::MAX) || ncols > u64::from(u32::MAX) {
        return Err(SparseError::TooLarge {
            path: path.to_path_buf(),
            message: format!("line {line}: {nrows} x {ncols} exceeds the u32 row/column limit"),
        });
    }
    Ok(())
}

/// Write `m` as a MatrixMarket `coordinate real general` file, atomically.
/// Values use Rust's shortest round-trip formatting, so reading back is exact.
pub fn write_mtx(path: &Path, m: CsrView<'_>) -> Result<(), SparseError> {
    let dir = parent_dir(path);
    let tmp = crate::atomic_temp_builder(".topicmill-tmp-")
        .tempfile_in(dir)
        .map_err(|e| SparseError::io(dir, "cannot create a temporary file in this directory", e))?;
    let mut w = BufWriter::with_capacity(1 << 20, tmp);
    let io = |e: std::io::Error| SparseError::io(path, "cannot write", e);
    write_mtx_to(&mut w, m).map_err(io)?;
    let tmp = w
        .into_inner()
        .map_err(|e| SparseError::io(path, "cannot write", e.into_error()))?;
    persist(tmp, path)
}

/// The content of [`write_mtx`]'s file, written to `w` (buffer it).
pub fn write_mtx_to(w: &mut impl Write, m: CsrView<'_>) -> std::io::Result<()> {
    writeln!(w, "%%MatrixMarket matrix coordinate real general")?;
    writeln!(w, "% written by topicmill-sparse")?;
    writeln!(w, "{} {} {}", m.rows(), m.cols(), m.nnz())?;
    write_triples(w, m)
}

/// `row col value` lines, 1-based, in row order.
pub(crate) fn write_triples(w: &mut impl Write, m: CsrView<'_>) -> std::io::Result<()> {
    let indptr = m.proper_indptr();
    let (indices, data) = (m.indices(), m.data());
    for r in 0..m.rows() {
        for k in indptr[r] as usize..indptr[r + 1] as usize {
            writeln!(w, "{} {} {}", r + 1, indices[k] + 1, data[k])?;
        }
    }
    Ok(())
}
