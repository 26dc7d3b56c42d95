//! Reading text inputs: gzip detection by magic bytes, a line reader that counts
//! lines, and hand-rolled number parsing over bytes.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;

use crate::error::SparseError;

const BUF: usize = 1 << 18;

/// The UTF-8 encoding of U+FEFF, the byte order mark.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Open `path` for reading, decompressing when it starts with the gzip magic
/// (1f 8b) whatever its name.
pub(crate) fn open_input(path: &Path) -> Result<Box<dyn BufRead>, SparseError> {
    let file = File::open(path).map_err(|e| SparseError::io(path, "cannot open", e))?;
    let mut reader = BufReader::with_capacity(BUF, file);
    let head = reader
        .fill_buf()
        .map_err(|e| SparseError::io(path, "cannot read", e))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(
            BUF,
            MultiGzDecoder::new(reader),
        )))
    } else {
        Ok(Box::new(reader))
    }
}

/// Lines of an input with their 1-based numbers; the line excludes `\n` / `\r\n`.
pub(crate) struct Lines {
    path: PathBuf,
    reader: Box<dyn BufRead>,
    buf: Vec<u8>,
    line: u64,
}

impl Lines {
    pub fn open(path: &Path) -> Result<Self, SparseError> {
        Ok(Lines {
            path: path.to_path_buf(),
            reader: open_input(path)?,
            buf: Vec::with_capacity(256),
            line: 0,
        })
    }

    /// The number of the line last returned (0 before the first).
    pub fn line_number(&self) -> u64 {
        self.line
    }

    /// The next line and its number, or `None` at the end of the input. A
    /// UTF-8 byte order mark opening the input is not part of line 1: the
    /// text formats read here (MatrixMarket, UCI docword and vocabulary)
    /// are ASCII or UTF-8 text, which some editors save with one.
    pub fn next_line(&mut self) -> Result<Option<(u64, &[u8])>, SparseError> {
        self.buf.clear();
        let n = self
            .reader
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| SparseError::Syntax {
                path: self.path.clone(),
                line: self.line + 1,
                message: format!("cannot read (I/O or decompression error): {e}"),
            })?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        let mut end = self.buf.len();
        if end > 0 && self.buf[end - 1] == b'\n' {
            end -= 1;
        }
        if end > 0 && self.buf[end - 1] == b'\r' {
            end -= 1;
        }
        let start = if self.line == 1 && self.buf[..end].starts_with(UTF8_BOM) {
            UTF8_BOM.len()
        } else {
            0
        };
        Ok(Some((self.line, &self.buf[start..end])))
    }
}

/// Whitespace-separated fields of a line.
pub(crate) fn fields(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|b| *b == b' ' || *b == b'\t')
        .filter(|f| !f.is_empty())
}

/// True when the line holds only spaces and tabs.
pub(crate) fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| *b == b' ' || *b == b'\t')
}

/// A decimal unsigned integer, or `None` (empty, non-digit, overflow).
pub(crate) fn parse_u64(field: &[u8]) -> Option<u64> {
    if field.is_empty() || field.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in field {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(v)
}

/// A floating-point number. Short integers (the common case: counts) take a fast
/// exact path; anything else goes through the standard library's correctly
/// rounded parser. "nan" and "inf" parse (and are rejected later as values).
pub(crate) fn parse_f32(field: &[u8]) -> Option<f32> {
    if !field.is_empty() && field.len() <= 7 && field.iter().all(u8::is_ascii_digit) {
        let mut v: u32 = 0;
        for &b in field {
            v = v * 10 + u32::from(b - b'0');
        }
        // < 10^7 < 2^24: exact in f32.
        return Some(v as f32);
    }
    std::str::from_utf8(field).ok()?.parse::<f32>().ok()
}

/// Display a field in an error message.
pub(crate) fn show(field: &[u8]) -> String {
    String::from_utf8_lossy(field).into_owned()
}
