//! The binary matrix format, version 1.
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
//! All integers are little-endian. Writers put the sections in the order indices,
//! data, indptr (the streaming writer learns the row pointers last); readers take
//! the order from the header and only require sections to be 64-byte aligned,
//! inside the file and non-overlapping.

use std::path::Path;

use crate::error::SparseError;

pub(crate) const MAGIC: [u8; 8] = *b"TMILLCSR";
pub(crate) const FOOTER_MAGIC: [u8; 8] = *b"TMILLEND";
pub(crate) const VERSION: u32 = 1;
pub(crate) const HEADER_LEN: u64 = 128;
pub(crate) const FOOTER_LEN: u64 = 16;
pub(crate) const ALIGN: u64 = 64;

pub(crate) const DTYPE_U32: u8 = 1;
pub(crate) const DTYPE_U64: u8 = 2;
pub(crate) const DTYPE_F32: u8 = 3;

pub(crate) const OFF_VERSION: u64 = 8;
pub(crate) const OFF_HEADER_LEN: u64 = 12;
pub(crate) const OFF_DTYPES: u64 = 16;
pub(crate) const OFF_NROWS: u64 = 24;
pub(crate) const OFF_NCOLS: u64 = 32;
pub(crate) const OFF_NNZ: u64 = 40;
pub(crate) const OFF_SECTIONS: u64 = 48;
pub(crate) const OFF_FILE_LEN: u64 = 96;

/// Round `x` up to the next multiple of [`ALIGN`].
pub(crate) const fn align_up(x: u64) -> u64 {
    x.div_ceil(ALIGN) * ALIGN
}

/// Byte offset and length of one section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Section {
    pub offset: u64,
    pub len: u64,
}

impl Section {
    pub fn range(self) -> std::ops::Range<usize> {
        self.offset as usize..(self.offset + self.len) as usize
    }
}

/// The decoded fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub nrows: u64,
    pub ncols: u64,
    pub nnz: u64,
    pub indptr: Section,
    pub indices: Section,
    pub data: Section,
    pub file_len: u64,
}

impl Header {
    /// The canonical layout this crate writes: header, indices, data, indptr, footer.
    pub fn layout(nrows: u64, ncols: u64, nnz: u64) -> Header {
        let indices = Section {
            offset: HEADER_LEN,
            len: nnz * 4,
        };
        let data = Section {
            offset: align_up(indices.offset + indices.len),
            len: nnz * 4,
        };
        let indptr = Section {
            offset: align_up(data.offset + data.len),
            len: (nrows + 1) * 8,
        };
        let footer = align_up(indptr.offset + indptr.len);
        Header {
            nrows,
            ncols,
            nnz,
            indptr,
            indices,
            data,
            file_len: footer + FOOTER_LEN,
        }
    }

    pub fn footer_offset(&self) -> u64 {
        self.file_len - FOOTER_LEN
    }

    pub fn encode(&self) -> [u8; HEADER_LEN as usize] {
        let mut h = [0u8; HEADER_LEN as usize];
        h[0..8].copy_from_slice(&MAGIC);
        h[8..12].copy_from_slice(&VERSION.to_le_bytes());
        h[12..16].copy_from_slice(&(HEADER_LEN as u32).to_le_bytes());
        h[16] = DTYPE_U64;
        h[17] = DTYPE_U32;
        h[18] = DTYPE_F32;
        let fields = [
            self.nrows,
            self.ncols,
            self.nnz,
            self.indptr.offset,
            self.indptr.len,
            self.indices.offset,
            self.indices.len,
            self.data.offset,
            self.data.len,
            self.file_len,
        ];
        for (i, v) in fields.iter().enumerate() {
            let at = 24 + 8 * i;
            h[at..at + 8].copy_from_slice(&v.to_le_bytes());
        }
        h
    }

    /// Decode and validate the header of a file of `actual_len` bytes whose first
    /// bytes are `bytes`. Checks, in this order, each with its own error: length,
    /// magic, version, header length, declared file length, footer magic, dtype
    /// codes, reserved bytes, shape limits, section sizes, section bounds.
    pub fn decode(path: &Path, bytes: &[u8]) -> Result<Header, SparseError> {
        let actual = bytes.len() as u64;
        let err_header = |offset: u64, message: String| SparseError::BadHeader {
            path: path.to_path_buf(),
            offset,
            message,
        };
        if actual < HEADER_LEN + FOOTER_LEN {
            return Err(SparseError::Truncated {
                path: path.to_path_buf(),
                expected: HEADER_LEN + FOOTER_LEN,
                actual,
                what: "shorter than a header and footer",
            });
        }
        let magic: [u8; 8] = bytes[0..8].try_into().expect("8 bytes");
        if magic != MAGIC {
            return Err(SparseError::BadMagic {
                path: path.to_path_buf(),
                found: magic,
            });
        }
        let u32_at = |at: u64| {
            u32::from_le_bytes(bytes[at as usize..at as usize + 4].try_into().expect("4"))
        };
        let u64_at = |at: u64| {
            u64::from_le_bytes(bytes[at as usize..at as usize + 8].try_into().expect("8"))
        };
        let version = u32_at(OFF_VERSION);
        if version != VERSION {
            return Err(SparseError::UnsupportedVersion {
                path: path.to_path_buf(),
                offset: OFF_VERSION,
                found: version,
                supported: VERSION,
            });
        }
        let header_len = u32_at(OFF_HEADER_LEN);
        if u64::from(header_len) != HEADER_LEN {
            return Err(err_header(
                OFF_HEADER_LEN,
                format!("header length {header_len}, expected {HEADER_LEN}"),
            ));
        }
        let file_len = u64_at(OFF_FILE_LEN);
        if file_len > actual {
            return Err(SparseError::Truncated {
                path: path.to_path_buf(),
                expected: file_len,
                actual,
                what: "the length recorded in the header",
            });
        }
        if file_len < actual {
            return Err(err_header(
                OFF_FILE_LEN,
                format!("file is {actual} bytes but the header records {file_len}: trailing bytes"),
            ));
        }
        let footer = file_len - FOOTER_LEN;
        if bytes[footer as usize + 8..file_len as usize] != FOOTER_MAGIC {
            return Err(err_header(
                footer + 8,
                "footer magic missing: the file is truncated or not a topicmill matrix".to_string(),
            ));
        }
        let dtypes = [bytes[16], bytes[17], bytes[18]];
        let expected = [DTYPE_U64, DTYPE_U32, DTYPE_F32];
        let names = ["indptr (u64)", "indices (u32)", "data (f32)"];
        for i in 0..3 {
            if dtypes[i] != expected[i] {
                return Err(err_header(
                    OFF_DTYPES + i as u64,
                    format!(
                        "unsupported dtype code {} for {}, expected {}",
                        dtypes[i], names[i], expected[i]
                    ),
                ));
            }
        }
        if let Some(i) = (19..24).chain(104..128).find(|&i| bytes[i] != 0) {
            return Err(err_header(
                i as u64,
                "reserved byte is not zero".to_string(),
            ));
        }
        if let Some(i) = (footer + 4..footer + 8).find(|&i| bytes[i as usize] != 0) {
            return Err(err_header(
                i,
                "reserved footer byte is not zero".to_string(),
            ));
        }
        let nrows = u64_at(OFF_NROWS);
        let ncols = u64_at(OFF_NCOLS);
        let nnz = u64_at(OFF_NNZ);
        if ncols > u64::from(u32::MAX) {
            return Err(err_header(
                OFF_NCOLS,
                format!("ncols {ncols} exceeds the u32 column-index limit"),
            ));
        }
        let section = |i: u64| Section {
            offset: u64_at(OFF_SECTIONS + 16 * i),
            len: u64_at(OFF_SECTIONS + 16 * i + 8),
        };
        let header = Header {
            nrows,
            ncols,
            nnz,
            indptr: section(0),
            indices: section(1),
            data: section(2),
            file_len,
        };
        let expected_lens = [
            (
                "indptr",
                header.indptr,
                nrows.checked_add(1).and_then(|n| n.checked_mul(8)),
            ),
            ("indices", header.indices, nnz.checked_mul(4)),
            ("data", header.data, nnz.checked_mul(4)),
        ];
        for (i, (name, sec, want)) in expected_lens.iter().enumerate() {
            if Some(sec.len) != *want {
                return Err(err_header(
                    OFF_SECTIONS + 16 * i as u64 + 8,
                    format!(
                        "section {name} has length {} bytes, but nrows {nrows} / nnz {nnz} require {}",
                        sec.len,
                        want.map_or("more than 2^64".to_string(), |w| w.to_string())
                    ),
                ));
            }
        }
        let mut placed: Vec<(&'static str, Section)> = Vec::with_capacity(3);
        for (name, sec, _) in expected_lens {
            let oob = |problem: String| SparseError::SectionOutOfBounds {
                path: path.to_path_buf(),
                section: name,
                offset: sec.offset,
                len: sec.len,
                problem,
            };
            if sec.offset % ALIGN != 0 {
                return Err(oob(format!("is not {ALIGN}-byte aligned")));
            }
            if sec.offset < HEADER_LEN {
                return Err(oob("overlaps the header".to_string()));
            }
            match sec.offset.checked_add(sec.len) {
                Some(end) if end <= footer => {}
                _ => {
                    return Err(oob(format!(
                        "overruns the file (sections must end by byte {footer}, where the footer starts)"
                    )))
                }
            }
            // An empty section occupies no bytes and cannot overlap anything.
            if sec.len > 0 {
                placed.push((name, sec));
            }
        }
        placed.sort_by_key(|(_, s)| s.offset);
        for w in placed.windows(2) {
            let (a, sa) = w[0];
            let (b, sb) = w[1];
            if sa.offset + sa.len > sb.offset {
                return Err(SparseError::SectionOutOfBounds {
                    path: path.to_path_buf(),
                    section: b,
                    offset: sb.offset,
                    len: sb.len,
                    problem: format!("overlaps section {a}"),
                });
            }
        }
        Ok(header)
    }
}

/// The footer: checksum of every byte before it, reserved zeros, footer magic.
pub(crate) fn encode_footer(crc: u32) -> [u8; FOOTER_LEN as usize] {
    let mut f = [0u8; FOOTER_LEN as usize];
    f[0..4].copy_from_slice(&crc.to_le_bytes());
    f[8..16].copy_from_slice(&FOOTER_MAGIC);
    f
}

/// Mapped matrix files are read in place: refuse big-endian hosts explicitly.
pub(crate) fn ensure_little_endian(path: &Path) -> Result<(), SparseError> {
    if cfg!(target_endian = "big") {
        return Err(SparseError::UnsupportedHost {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}
