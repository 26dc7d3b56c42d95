//! A `.tar.gz` reader made for throughput: the whole compressed file is
//! mapped, inflated straight into large blocks (zlib-rs's fast path, no
//! intermediate buffer), and the tar entries are framed in place, so a file's
//! bytes are a range of a block, never copied per entry.
//!
//! Handles gzip members one after another (CRC-32 and length checked), tar
//! headers in the ustar, GNU (`L` long names) and pax (`path` records) forms,
//! and reports a truncated, damaged or foreign file as an error with its byte
//! offset.

use std::ops::Range;
use std::path::Path;

use flate2::{Crc, Decompress, DecompressError, FlushDecompress, Status};

use crate::TextError;

/// Bytes inflated per block: large enough that framing and hand-over costs
/// vanish, small enough that the consumers start early.
const BLOCK: usize = 1 << 19;
const HEADER: usize = 512;

/// A run of the uncompressed archive and the regular files that lie wholly in
/// it.
#[derive(Debug, Default)]
pub(crate) struct Block {
    pub data: Vec<u8>,
    pub files: Vec<TarFile>,
}

/// A regular file of the archive.
#[derive(Debug)]
pub(crate) struct TarFile {
    /// The path recorded in the archive.
    pub path: String,
    /// Its bytes in the block's `data`.
    pub range: Range<usize>,
}

/// Calls `each` with consecutive blocks of the `.tar.gz` file at `path`, in
/// archive order, from the calling thread. Each block's buffer comes from
/// `buffer(n)`: an empty vector with room for at least `n` bytes, which may
/// be the `data` of a block the caller is done with (reusing memory already
/// mapped saves a page fault per 4 KiB inflated).
pub(crate) fn for_each_block(
    path: &Path,
    mut buffer: impl FnMut(usize) -> Vec<u8>,
    mut each: impl FnMut(Block) -> Result<(), TextError>,
) -> Result<(), TextError> {
    let bad = |message: String| TextError::Newsgroups {
        path: path.to_owned(),
        message,
    };
    // Mapped, not read: no copy, and no fresh pages to fault in and zero.
    // Whatever cannot be mapped (a pipe, a device) is read instead.
    let file = std::fs::File::open(path).map_err(|e| TextError::io(path, e))?;
    // SAFETY: the mapping is only read. As for every mapped input of
    // topicmill, the file must not be truncated while it is being read.
    let mapped = unsafe { memmap2::Mmap::map(&file) };
    let read;
    let gz: &[u8] = match &mapped {
        Ok(map) => {
            #[cfg(unix)]
            let _ = map.advise(memmap2::Advice::Sequential);
            map
        }
        Err(_) => {
            read = std::fs::read(path).map_err(|e| TextError::io(path, e))?;
            &read
        }
    };
    let mut at = 0usize; // in `gz`
    let mut tar = Framer::default();
    let mut block: Vec<u8> = buffer(BLOCK);
    let mut framed = 0usize; // in `block`
    let mut files = Vec::new();
    let mut members = 0;
    loop {
        // One gzip member.
        at = skip_gzip_header(gz, at).map_err(|m| bad(format!("byte {at}: {m}")))?;
        members += 1;
        let mut inflate = Decompress::new(false);
        let mut crc = Crc::new();
        let start = at;
        loop {
            if block.len() == block.capacity() {
                // Hand over the complete entries; carry the partial one.
                let need = tar.pending_len(&block[framed..]).max(BLOCK);
                let mut next = buffer(need);
                next.extend_from_slice(&block[framed..]);
                block.truncate(framed);
                let full = std::mem::replace(&mut block, next);
                tar.base += framed as u64;
                framed = 0;
                if !files.is_empty() {
                    each(Block {
                        data: full,
                        files: std::mem::take(&mut files),
                    })?;
                }
            }
            let before_in = inflate.total_in();
            let before_out = block.len();
            let status = inflate
                .decompress_vec(&gz[at..], &mut block, FlushDecompress::None)
                .map_err(|e| bad(damaged(gz, start, members, inflate.total_in(), &e)))?;
            at = start + inflate.total_in() as usize;
            crc.update(&block[before_out..]);
            framed = tar
                .frame(&block, framed, &mut files)
                .map_err(|m| bad(format!("archive byte {}: {m}", tar.base + framed as u64)))?;
            if status == Status::StreamEnd {
                break;
            }
            if inflate.total_in() == before_in && block.len() == before_out {
                return Err(bad(format!(
                    "byte {at}: truncated gzip stream (ends inside compressed data)"
                )));
            }
        }
        let trailer = gz
            .get(at..at + 8)
            .ok_or_else(|| bad(format!("byte {at}: truncated gzip trailer")))?;
        let want_crc = u32::from_le_bytes(trailer[..4].try_into().expect("4 bytes"));
        let want_len = u32::from_le_bytes(trailer[4..].try_into().expect("4 bytes"));
        if crc.sum() != want_crc || crc.amount() != want_len {
            return Err(bad(format!(
                "byte {at}: gzip member {members} fails its CRC-32/length check"
            )));
        }
        at += 8;
        if gz.len() - at < 2 || gz[at..at + 2] != [0x1f, 0x8b] {
            break; // trailing bytes after the last member are ignored, as gzip does
        }
    }
    let rest = &block[framed..];
    if !tar.ended && rest.iter().any(|&b| b != 0) {
        return Err(bad(format!(
            "archive byte {}: truncated tar entry",
            tar.base + framed as u64
        )));
    }
    if !files.is_empty() {
        each(Block { data: block, files })?;
    }
    Ok(())
}

/// What is wrong with the deflate data of gzip member `member` (its data
/// starting at `start`), which failed to inflate with `error` after reading
/// `stopped_at` bytes of it: where and why.
///
/// zlib-rs loses the reason of an error met on its fast path (the message
/// then reads "repeated call with bad state", the state it was left in), so
/// the member is inflated again, with the fast path off: an output window
/// smaller than that path's minimum (260 bytes). Only a damaged archive pays
/// for this second pass.
fn damaged(
    gz: &[u8],
    start: usize,
    member: usize,
    stopped_at: u64,
    error: &DecompressError,
) -> String {
    let says = |at: u64, reason: Option<&str>| {
        let reason = reason
            .filter(|r| !r.is_empty() && *r != "repeated call with bad state")
            .map_or(String::new(), |r| format!(": {r}"));
        format!(
            "byte {}: the archive is damaged: gzip member {member} holds invalid deflate data{reason}",
            start as u64 + at
        )
    };
    let mut inflate = Decompress::new(false);
    let mut window = [0u8; 256];
    loop {
        let (before_in, before_out) = (inflate.total_in(), inflate.total_out());
        let at = start + before_in as usize;
        match inflate.decompress(&gz[at..], &mut window, FlushDecompress::None) {
            Err(e) => return says(inflate.total_in(), e.message()),
            Ok(Status::StreamEnd) => break,
            Ok(_) if (inflate.total_in(), inflate.total_out()) == (before_in, before_out) => break,
            Ok(_) => {}
        }
    }
    // The slow pass got through (it should not): report the first error.
    says(stopped_at, error.message())
}

/// The offset of the deflate data of the gzip member at `at` (RFC 1952).
fn skip_gzip_header(gz: &[u8], at: usize) -> Result<usize, String> {
    let h = gz.get(at..at + 10).ok_or("not a gzip file (too short)")?;
    if h[..2] != [0x1f, 0x8b] {
        return Err("not a gzip file (no gzip magic)".into());
    }
    if h[2] != 8 {
        return Err(format!("unknown gzip compression method {}", h[2]));
    }
    let flags = h[3];
    let mut p = at + 10;
    let short = || "truncated gzip header".to_string();
    if flags & 0x04 != 0 {
        let x = gz.get(p..p + 2).ok_or_else(short)?;
        p += 2 + usize::from(u16::from_le_bytes([x[0], x[1]]));
    }
    for flag in [0x08, 0x10] {
        if flags & flag != 0 {
            let nul = gz.get(p..).and_then(|r| r.iter().position(|&b| b == 0));
            p += nul.ok_or_else(short)? + 1;
        }
    }
    if flags & 0x02 != 0 {
        p += 2;
    }
    if p > gz.len() {
        return Err(short());
    }
    Ok(p)
}

/// Tar framing state across blocks.
#[derive(Debug, Default)]
struct Framer {
    /// Archive offset of the current block's first byte.
    base: u64,
    /// A name set by a GNU `L` or pax `x` entry for the next entry.
    long_name: Option<String>,
    /// The end-of-archive block was seen.
    ended: bool,
}

impl Framer {
    /// Frames the complete entries of `data[from..]`, pushing regular files;
    /// returns where the first incomplete entry starts.
    fn frame(
        &mut self,
        data: &[u8],
        mut from: usize,
        files: &mut Vec<TarFile>,
    ) -> Result<usize, String> {
        while !self.ended && data.len() - from >= HEADER {
            let header: &[u8; HEADER] = data[from..from + HEADER].try_into().expect("512 bytes");
            // An all-zero block ends the archive; its checksum field is not
            // octal, so look for zeros only when the checksum fails.
            if let Err(e) = check_sum(header) {
                if header.iter().all(|&b| b == 0) {
                    self.ended = true;
                    return Ok(data.len());
                }
                return Err(e);
            }
            let size = octal(&header[124..136]).ok_or("bad size field in tar header")?;
            let size = usize::try_from(size).map_err(|_| "tar entry too large")?;
            let total = HEADER + size.div_ceil(HEADER) * HEADER;
            if data.len() - from < total {
                break;
            }
            let body = from + HEADER..from + HEADER + size;
            match header[156] {
                b'0' | 0 | b'7' => {
                    let path = match self.long_name.take() {
                        Some(name) => name,
                        None => header_path(header),
                    };
                    files.push(TarFile { path, range: body });
                }
                b'L' => {
                    let name = &data[body];
                    let name = name.split(|&b| b == 0).next().unwrap_or(name);
                    self.long_name = Some(String::from_utf8_lossy(name).into_owned());
                }
                b'x' => {
                    if let Some(name) = pax_path(&data[body]) {
                        self.long_name = Some(name);
                    }
                }
                _ => self.long_name = None,
            }
            from += total;
        }
        Ok(from)
    }

    /// Bytes needed to hold the entry starting `rest` (at least what is there).
    fn pending_len(&self, rest: &[u8]) -> usize {
        let size = (rest.len() >= HEADER)
            .then(|| octal(&rest[124..136]))
            .flatten()
            .and_then(|s| usize::try_from(s).ok())
            .unwrap_or(0);
        rest.len().max(HEADER + size.div_ceil(HEADER) * HEADER)
    }
}

/// The header's checksum: the unsigned (or, for old writers, signed) byte sum
/// with the checksum field read as spaces.
fn check_sum(header: &[u8; HEADER]) -> Result<(), String> {
    let want = octal(&header[148..156]).ok_or("bad checksum field in tar header")?;
    let field = 8 * u64::from(b' ');
    // One pass, eight bytes at a time: the byte sum, and the number of bytes
    // with the high bit set (each is 256 less when read as signed).
    const LOW: u64 = 0x00ff_00ff_00ff_00ff;
    let (mut pairs, mut highs) = (0u64, 0u64);
    for (i, word) in header.chunks_exact(8).enumerate() {
        let mut w = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        if i == 148 / 8 + 1 {
            // Bytes 152..156 are the second half of the checksum field.
            w &= 0xffff_ffff_0000_0000;
        } else if i == 148 / 8 {
            // Bytes 148..152 are the first half.
            w &= 0x0000_0000_ffff_ffff;
        }
        // Sixteen-bit lanes of byte pairs: at most 64 words x 2 x 255, no carry.
        pairs += (w & LOW) + ((w >> 8) & LOW);
        highs += u64::from(((w >> 7) & 0x0101_0101_0101_0101).count_ones());
    }
    let unsigned = (pairs & 0xffff)
        + ((pairs >> 16) & 0xffff)
        + ((pairs >> 32) & 0xffff)
        + (pairs >> 48)
        + field;
    let signed = unsigned as i64 - 256 * highs as i64;
    if want == unsigned || want as i64 == signed {
        Ok(())
    } else {
        Err("tar header checksum mismatch (not a tar archive, or corrupt)".into())
    }
}

/// A numeric header field: octal digits (space or NUL padded), or GNU's
/// base-256 when the first byte has its high bit set.
fn octal(field: &[u8]) -> Option<u64> {
    if field.first().is_some_and(|&b| b & 0x80 != 0) {
        let mut v: u64 = u64::from(field[0] & 0x7f);
        for &b in &field[1..] {
            v = v.checked_mul(256)? + u64::from(b);
        }
        return Some(v);
    }
    let digits = field
        .iter()
        .skip_while(|&&b| b == b' ')
        .take_while(|&&b| b != 0 && b != b' ');
    let mut v: u64 = 0;
    for &b in digits {
        if !(b'0'..=b'7').contains(&b) {
            return None;
        }
        v = v.checked_mul(8)? + u64::from(b - b'0');
    }
    Some(v)
}

/// `prefix/name` of a ustar header (just `name` for other formats).
fn header_path(header: &[u8; HEADER]) -> String {
    let field = |f: &[u8]| {
        let end = f.iter().position(|&b| b == 0).unwrap_or(f.len());
        String::from_utf8_lossy(&f[..end]).into_owned()
    };
    let name = field(&header[..100]);
    if &header[257..263] == b"ustar\0" {
        let prefix = field(&header[345..500]);
        if !prefix.is_empty() {
            return format!("{prefix}/{name}");
        }
    }
    name
}

/// The `path` record of a pax extended header (`"<len> path=<value>\n"`).
fn pax_path(body: &[u8]) -> Option<String> {
    let mut rest = body;
    while !rest.is_empty() {
        let space = rest.iter().position(|&b| b == b' ')?;
        let len: usize = std::str::from_utf8(&rest[..space]).ok()?.parse().ok()?;
        let record = rest.get(space + 1..len)?;
        if let Some(value) = record.strip_prefix(b"path=") {
            let value = value.strip_suffix(b"\n").unwrap_or(value);
            return Some(String::from_utf8_lossy(value).into_owned());
        }
        rest = &rest[len..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A `.tar.gz` of `files` written by the `tar` and `flate2` crates.
    fn targz(files: &[(&str, Vec<u8>)], level: u32) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, bytes) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, name, &bytes[..]).unwrap();
        }
        let tar = builder.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        gz.write_all(&tar).unwrap();
        gz.finish().unwrap()
    }

    fn read_all(path: &Path) -> Result<Vec<(String, Vec<u8>)>, TextError> {
        let mut out = Vec::new();
        for_each_block(path, Vec::with_capacity, |block| {
            for f in block.files {
                out.push((f.path, block.data[f.range].to_vec()));
            }
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn reads_every_file_across_blocks() {
        // Files of many sizes, some larger than a block, a long name.
        let long = format!("dir/{}", "n".repeat(150));
        let mut files: Vec<(String, Vec<u8>)> = (0..300)
            .map(|i| {
                let len = (i * 7919) % 20_000 + if i % 97 == 0 { 3 * BLOCK } else { 0 };
                let bytes = (0..len).map(|j| (j * 31 + i) as u8).collect();
                (format!("d{}/f{i}", i % 3), bytes)
            })
            .collect();
        files.push((long, b"long name".to_vec()));
        files.push(("empty".into(), Vec::new()));
        let named: Vec<(&str, Vec<u8>)> =
            files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tar.gz");
        std::fs::write(&path, targz(&named, 1)).unwrap();
        assert_eq!(read_all(&path).unwrap(), files);
    }

    proptest::proptest! {
        /// The one-pass checksum agrees with the byte-by-byte definition.
        #[test]
        fn checksum_equals_the_byte_sums(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, HEADER),
            signed: bool,
        ) {
            let mut header: [u8; HEADER] = bytes.try_into().unwrap();
            let rest = header[..148].iter().chain(&header[156..]);
            let sum = if signed {
                rest.map(|&b| i64::from(b as i8)).sum::<i64>() + 256
            } else {
                rest.map(|&b| i64::from(b)).sum::<i64>() + 256
            };
            header[148..156].copy_from_slice(format!("{:07o}\0", sum as u64 & 0o777_7777).as_bytes());
            proptest::prop_assert_eq!(check_sum(&header).is_ok(), sum >= 0);
            header[0] ^= 1;
            proptest::prop_assert!(check_sum(&header).is_err() || sum < 0);
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tar.gz");
        let gz = targz(&[("a", vec![b'x'; 5000]), ("b", vec![b'y'; 100])], 6);
        let err = |bytes: &[u8]| {
            std::fs::write(&path, bytes).unwrap();
            read_all(&path).unwrap_err().to_string()
        };
        assert!(err(b"plain text, not gzip").contains("not a gzip file"));
        assert!(err(&gz[..gz.len() / 2]).contains("truncated gzip stream"));
        let mut bad_crc = gz.clone();
        let n = bad_crc.len();
        bad_crc[n - 8] ^= 1;
        assert!(err(&bad_crc).contains("CRC-32/length check"));
        // A gzip of something that is not a tar archive.
        let mut not_tar = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        not_tar.write_all(&[b'z'; 2000]).unwrap();
        let e = err(&not_tar.finish().unwrap());
        assert!(
            e.contains("archive byte 0: bad checksum field in tar header"),
            "{e}"
        );
    }

    /// A flipped bit in the deflate data is reported as a damaged archive
    /// with zlib's reason (Python: "invalid distance too far back"), not
    /// "repeated call with bad state", which is all zlib-rs's fast path left
    /// of most of them.
    #[test]
    fn damaged_deflate_data_names_the_reason_and_the_byte() {
        let bytes: Vec<u8> = (0..20_000u32).map(|i| (i * i % 251) as u8).collect();
        let gz = targz(&[("a", bytes), ("b", vec![b'y'; 3000])], 6);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tar.gz");
        let prefix = format!("{}: byte ", path.display());
        let mut reasons = std::collections::BTreeSet::new();
        for pos in 10..200 {
            let mut damaged = gz.clone();
            damaged[pos] ^= 1 << 3;
            std::fs::write(&path, &damaged).unwrap();
            let e = read_all(&path).unwrap_err().to_string();
            assert!(!e.contains("bad state"), "{e}");
            let Some((at, reason)) = e.strip_prefix(&prefix).and_then(|r| {
                r.split_once(": the archive is damaged: gzip member 1 holds invalid deflate data: ")
            }) else {
                continue; // a flip that still inflates: caught by the CRC or tar checks
            };
            let at: usize = at.parse().unwrap();
            assert!((pos..gz.len()).contains(&at), "{pos}: {e}");
            assert!(!reason.is_empty(), "{e}");
            reasons.insert(reason.to_string());
        }
        assert!(
            reasons.contains("invalid distance too far back"),
            "{reasons:?}"
        );
        assert!(reasons.len() >= 2, "{reasons:?}");
    }
}
