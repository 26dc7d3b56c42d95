//! MatrixMarket coordinate files: `real`, `integer` or `pattern`, `general`.

use std::io::{BufWriter, Write};
use std::path::Path;

use crate::coo::Coo;
use crate::error::{require_csr, value_problem, SparseError};
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
/// the value 1. A UTF-8 byte order mark before the banner is skipped.
///
/// Values are stored as f32, rounded to the nearest (relative error at most
/// 2⁻²⁴), `integer` values too: integers above 2²⁴ = 16,777,216 that f32
/// cannot hold exactly are rounded like any real. A value whose magnitude
/// f32 cannot hold is an error ([`SparseError::InvalidTextValue`]), both
/// ways: above its range (about 3.4e38), and a non-zero below its smallest
/// subnormal (about 1.4e-45), which would otherwise read as 0. The number of
/// rows is trusted only as far as memory allows: 8 bytes of row pointer per
/// row are allocated, fallibly ([`SparseError::TooLarge`] naming the size
/// line).
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
        let kind = value_problem(value).or_else(|| {
            let zeroed = value == 0.0 && fv.is_some_and(nonzero_mantissa);
            zeroed.then_some(BELOW_F32)
        });
        if let Some(kind) = kind {
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
    coo.into_csr(
        path,
        (nrows as usize, ncols as usize),
        size_line,
        size_line + 1,
    )
}

/// The problem of a non-zero value that reads as 0 in f32.
pub(crate) const BELOW_F32: &str = "a non-zero below the f32 range, it would read as 0";

/// Whether a number as written has a non-zero digit before its exponent: a
/// value that parses to 0 although this holds underflowed.
fn nonzero_mantissa(field: &[u8]) -> bool {
    field
        .iter()
        .take_while(|&&b| b != b'e' && b != b'E')
        .any(|b| (b'1'..=b'9').contains(b))
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
/// What [`read_mtx`] would refuse is refused before anything is written: a
/// value NaN, infinite or negative ([`SparseError::InvalidRow`]), or a
/// column-major view ([`SparseError::NotCsr`]).
pub fn write_mtx(path: &Path, m: CsrView<'_>) -> Result<(), SparseError> {
    require_csr(&m, path, "the matrix to write")?;
    if let Some((row, message)) = first_invalid_value(m) {
        return Err(SparseError::InvalidRow {
            path: path.to_path_buf(),
            row,
            message,
        });
    }
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

/// The content of [`write_mtx`]'s file, written to `w` (buffer it). What
/// `write_mtx` refuses (a value NaN, infinite or negative, a column-major
/// view) is an error of kind [`InvalidInput`](std::io::ErrorKind::InvalidInput),
/// before anything is written.
pub fn write_mtx_to(w: &mut impl Write, m: CsrView<'_>) -> std::io::Result<()> {
    let invalid = |message: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, message);
    if m.is_csc() {
        return Err(invalid(
            "the matrix to write is a column-major (CSC) view; a CSR view is required".into(),
        ));
    }
    if let Some((row, message)) = first_invalid_value(m) {
        return Err(invalid(format!("row {row}: {message}")));
    }
    writeln!(w, "%%MatrixMarket matrix coordinate real general")?;
    writeln!(w, "% written by topicmill-sparse")?;
    writeln!(w, "{} {} {}", m.rows(), m.cols(), m.nnz())?;
    write_triples(w, m)
}

/// The first value of the CSR view `m` that no reader accepts (NaN,
/// infinite, negative): its 0-based row and what is wrong, as
/// [`MatrixWriter::push_row`](crate::MatrixWriter::push_row) says it.
pub(crate) fn first_invalid_value(m: CsrView<'_>) -> Option<(u64, String)> {
    m.outer_iterator().enumerate().find_map(|(row, r)| {
        let (indices, values) = (r.indices(), r.data());
        let k = values.iter().position(|&v| value_problem(v).is_some())?;
        let kind = value_problem(values[k]).expect("found above");
        Some((
            row as u64,
            format!("value {} at column {} is {kind}", values[k], indices[k]),
        ))
    })
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
