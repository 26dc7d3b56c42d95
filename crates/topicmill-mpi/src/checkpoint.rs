//! Resumable checkpoints of a distributed fit.
//!
//! Layout (little-endian): magic `b"TMMPICKP"`, format version (u32), length
//! of the metadata (u64), the metadata (bincode 2 / serde: shape, parameters,
//! the factors' scale, iteration, loss history), W (n × k f32), Hᵀ (m × k
//! f32), the CRC-32 of
//! everything before it (u32), end magic `b"TMCKPEND"`. W and Hᵀ are raw
//! arrays at known offsets so that each rank reads only its own rows of W.
//! Rank 0 writes the whole file to a temporary file in the same directory,
//! syncs it and renames it into place: a crash leaves the previous checkpoint
//! or none, never half of one.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::Path;

use serde::{Deserialize, Serialize};
use topicmill_nmf::NmfParams;

const MAGIC: &[u8; 8] = b"TMMPICKP";
const END: &[u8; 8] = b"TMCKPEND";
/// Version of the checkpoint layout written by this build: 2 (version 1 had
/// no `scale` in its metadata; it is still read, its factors at scale 0).
pub const CHECKPOINT_VERSION: u32 = 2;
const PREFIX: u64 = 8 + 4 + 8;
const TRAILER: u64 = 4 + 8;

/// Everything of the fit's state but the factors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Meta {
    pub n: usize,
    pub m: usize,
    pub nnz: usize,
    pub params: NmfParams,
    /// The stored W and Hᵀ are the fit's times `2^scale`: its iterates, at
    /// the scale of data of extreme magnitude (half the data exponent, see
    /// the fit's module docs), so that resuming restores them bitwise. The
    /// losses are the fit's, unscaled, as in the model.
    pub scale: i32,
    pub iteration: usize,
    pub loss0: f64,
    pub last_check: f64,
    pub history: Vec<(usize, f64)>,
}

/// The metadata of a version 1 checkpoint (the factors unscaled).
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct MetaV1 {
    n: usize,
    m: usize,
    nnz: usize,
    params: NmfParams,
    iteration: usize,
    loss0: f64,
    last_check: f64,
    history: Vec<(usize, f64)>,
}

impl From<MetaV1> for Meta {
    fn from(v: MetaV1) -> Meta {
        Meta {
            n: v.n,
            m: v.m,
            nnz: v.nnz,
            params: v.params,
            scale: 0,
            iteration: v.iteration,
            loss0: v.loss0,
            last_check: v.last_check,
            history: v.history,
        }
    }
}

fn f32_bytes(v: &[f32]) -> impl Iterator<Item = [u8; 4]> + '_ {
    v.iter().map(|x| x.to_le_bytes())
}

/// The directory a checkpoint's temporary file is made in: the path's own.
fn dir_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Checks, before a fit, that [`write`] can put a checkpoint at `path`: not
/// a directory, and a temporary file can be made beside it (and is removed).
pub(crate) fn probe(path: &Path) -> Result<(), String> {
    if path.is_dir() {
        return Err("is a directory".into());
    }
    let dir = dir_of(path);
    topicmill_sparse::atomic_temp_builder(".topicmill-ckpt-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| format!("cannot create a file in {}: {e}", dir.display()))
}

/// Writes a checkpoint atomically (rank 0, with the full W and Hᵀ).
pub(crate) fn write(path: &Path, meta: &Meta, w: &[f32], ht: &[f32]) -> Result<(), String> {
    let k = meta.params.k();
    assert_eq!(w.len(), meta.n * k);
    assert_eq!(ht.len(), meta.m * k);
    let dir = dir_of(path);
    let payload = bincode::serde::encode_to_vec(meta, bincode::config::standard())
        .map_err(|e| format!("cannot encode: {e}"))?;
    let tmp = topicmill_sparse::atomic_temp_builder(".topicmill-ckpt-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| format!("cannot create a file in {}: {e}", dir.display()))?;
    {
        let mut crc = crc32fast::Hasher::new();
        let mut out = BufWriter::with_capacity(1 << 20, tmp.as_file());
        let mut put = |bytes: &[u8]| -> std::io::Result<()> {
            crc.update(bytes);
            out.write_all(bytes)
        };
        let io = (|| {
            put(MAGIC)?;
            put(&CHECKPOINT_VERSION.to_le_bytes())?;
            put(&(payload.len() as u64).to_le_bytes())?;
            put(&payload)?;
            for b in f32_bytes(w).chain(f32_bytes(ht)) {
                put(&b)?;
            }
            Ok::<(), std::io::Error>(())
        })();
        io.and_then(|()| {
            out.write_all(&crc.finalize().to_le_bytes())?;
            out.write_all(END)?;
            out.flush()
        })
        .map_err(|e| format!("cannot write: {e}"))?;
    }
    tmp.as_file()
        .sync_all()
        .map_err(|e| format!("cannot sync: {e}"))?;
    tmp.persist(path)
        .map_err(|e| format!("cannot move the new file into place: {e}"))?;
    Ok(())
}

/// An opened checkpoint: its metadata and where the factors start.
pub(crate) struct Checkpoint {
    file: File,
    pub meta: Meta,
    w_offset: u64,
}

impl Checkpoint {
    /// Reads and checks the prefix, the metadata and the file length.
    pub fn open(path: &Path) -> Result<Self, String> {
        let mut file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
        let len = file
            .metadata()
            .map_err(|e| format!("cannot stat: {e}"))?
            .len();
        let mut prefix = [0u8; PREFIX as usize];
        if len < PREFIX + TRAILER {
            return Err(format!("truncated: {len} bytes"));
        }
        file.read_exact(&mut prefix)
            .map_err(|e| format!("cannot read: {e}"))?;
        if &prefix[..8] != MAGIC {
            return Err("not a topicmill checkpoint (wrong magic)".into());
        }
        let version = u32::from_le_bytes(prefix[8..12].try_into().expect("4 bytes"));
        if !(1..=CHECKPOINT_VERSION).contains(&version) {
            return Err(format!(
                "checkpoint version {version} is not supported (this build reads 1 to {CHECKPOINT_VERSION})"
            ));
        }
        let meta_len = u64::from_le_bytes(prefix[12..20].try_into().expect("8 bytes"));
        if meta_len > len - PREFIX - TRAILER {
            return Err(format!("truncated: metadata of {meta_len} bytes in {len}"));
        }
        let mut payload = vec![0u8; meta_len as usize];
        file.read_exact(&mut payload)
            .map_err(|e| format!("cannot read: {e}"))?;
        let corrupt = |e: bincode::error::DecodeError| {
            format!(
                "corrupt metadata: {}",
                topicmill_nmf::describe_decode_error(&e)
            )
        };
        let config = bincode::config::standard();
        let (meta, used): (Meta, usize) = if version == 1 {
            let (v1, used): (MetaV1, usize) =
                bincode::serde::decode_from_slice(&payload, config).map_err(corrupt)?;
            (v1.into(), used)
        } else {
            bincode::serde::decode_from_slice(&payload, config).map_err(corrupt)?
        };
        if used as u64 != meta_len {
            return Err("corrupt metadata: trailing bytes".into());
        }
        // Damaged metadata (the CRC is checked later) may hold any shape.
        let k = meta.params.k() as u64;
        let expected = (meta.n as u64)
            .checked_add(meta.m as u64)
            .and_then(|rows| rows.checked_mul(4 * k))
            .and_then(|factors| factors.checked_add(PREFIX + meta_len + TRAILER));
        match expected {
            Some(expected) if expected == len => {}
            Some(expected) => {
                return Err(format!(
                    "truncated or foreign: {len} bytes, expected {expected}"
                ))
            }
            None => {
                return Err(format!(
                    "corrupt metadata: a {} × {} fit at k = {k} is too large for any file",
                    meta.n, meta.m
                ))
            }
        }
        Ok(Checkpoint {
            file,
            meta,
            w_offset: PREFIX + meta_len,
        })
    }

    /// Checks the CRC-32 and the end magic (reads the whole file).
    pub fn verify(&mut self) -> Result<(), String> {
        let len = self
            .file
            .metadata()
            .map_err(|e| format!("cannot stat: {e}"))?
            .len();
        self.file
            .seek(SeekFrom::Start(0))
            .map_err(|e| format!("cannot seek: {e}"))?;
        let mut crc = crc32fast::Hasher::new();
        let mut left = len - TRAILER;
        let mut buf = vec![0u8; 1 << 20];
        while left > 0 {
            let take = left.min(buf.len() as u64) as usize;
            self.file
                .read_exact(&mut buf[..take])
                .map_err(|e| format!("cannot read: {e}"))?;
            crc.update(&buf[..take]);
            left -= take as u64;
        }
        let mut trailer = [0u8; TRAILER as usize];
        self.file
            .read_exact(&mut trailer)
            .map_err(|e| format!("cannot read: {e}"))?;
        if &trailer[4..] != END {
            return Err("truncated (no end marker)".into());
        }
        let stored = u32::from_le_bytes(trailer[..4].try_into().expect("4 bytes"));
        if stored != crc.finalize() {
            return Err("checksum mismatch: the file is corrupt".into());
        }
        Ok(())
    }

    fn read_f32(&mut self, offset: u64, count: usize) -> Result<Vec<f32>, String> {
        self.file
            .seek(SeekFrom::Start(offset))
            .map_err(|e| format!("cannot seek: {e}"))?;
        let mut bytes = vec![0u8; count * 4];
        self.file
            .read_exact(&mut bytes)
            .map_err(|e| format!("cannot read: {e}"))?;
        Ok(bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect())
    }

    /// Rows `rows` of W.
    pub fn w_rows(&mut self, rows: &Range<usize>) -> Result<Vec<f32>, String> {
        let k = self.meta.params.k();
        let off = self.w_offset + 4 * (rows.start * k) as u64;
        self.read_f32(off, rows.len() * k)
    }

    /// Hᵀ, m × k.
    pub fn ht(&mut self) -> Result<Vec<f32>, String> {
        let k = self.meta.params.k();
        let off = self.w_offset + 4 * (self.meta.n * k) as u64;
        self.read_f32(off, self.meta.m * k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use topicmill_nmf::Nmf;

    fn meta() -> Meta {
        Meta {
            n: 3,
            m: 2,
            nnz: 4,
            params: Nmf::params(2).seed(7),
            scale: -36,
            iteration: 20,
            loss0: 3.5,
            last_check: 1.25,
            history: vec![(0, 3.5), (10, 2.0), (20, 1.25)],
        }
    }

    #[test]
    fn round_trip_reads_rows_and_ht() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fit.ckpt");
        let w: Vec<f32> = (0..6).map(|v| v as f32).collect();
        let ht = vec![10.0f32, 11.0, 12.0, 13.0];
        write(&path, &meta(), &w, &ht).unwrap();
        let mut c = Checkpoint::open(&path).unwrap();
        c.verify().unwrap();
        assert_eq!(c.meta, meta());
        assert_eq!(c.w_rows(&(1..3)).unwrap(), vec![2.0, 3.0, 4.0, 5.0]);
        assert_eq!(c.ht().unwrap(), ht);
    }

    /// A version 1 checkpoint (written before data of extreme magnitude
    /// were scaled): its factors are read at scale 0, the rest as written.
    #[test]
    fn a_version_1_checkpoint_is_read_at_scale_0() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.ckpt");
        let m = meta();
        let v1 = MetaV1 {
            n: m.n,
            m: m.m,
            nnz: m.nnz,
            params: m.params.clone(),
            iteration: m.iteration,
            loss0: m.loss0,
            last_check: m.last_check,
            history: m.history.clone(),
        };
        let payload = bincode::serde::encode_to_vec(&v1, bincode::config::standard()).unwrap();
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&payload);
        let w: Vec<f32> = (0..6).map(|v| v as f32).collect();
        let ht = [10.0f32, 11.0, 12.0, 13.0];
        for v in w.iter().chain(&ht) {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        let crc = crc32fast::hash(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        bytes.extend_from_slice(END);
        std::fs::write(&path, &bytes).unwrap();

        let mut c = Checkpoint::open(&path).unwrap();
        c.verify().unwrap();
        assert_eq!(c.meta, Meta { scale: 0, ..meta() });
        assert_eq!(c.w_rows(&(1..3)).unwrap(), vec![2.0, 3.0, 4.0, 5.0]);
        assert_eq!(c.ht().unwrap(), ht);
        // A version this build does not know is refused.
        bytes[8..12].copy_from_slice(&3u32.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let err = Checkpoint::open(&path).err().unwrap();
        assert!(
            err.contains("checkpoint version 3 is not supported (this build reads 1 to 2)"),
            "{err}"
        );
    }

    /// A checkpoint of `meta()` written in `dir`: its path and its bytes.
    fn written(dir: &Path) -> (std::path::PathBuf, Vec<u8>) {
        let path = dir.join("fit.ckpt");
        write(&path, &meta(), &[1.0; 6], &[2.0; 4]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        (path, bytes)
    }

    #[test]
    fn corruption_and_truncation_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut bytes) = written(dir.path());
        let last_w = bytes.len() - 12 - 17;
        bytes[last_w] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let err = Checkpoint::open(&path).unwrap().verify().unwrap_err();
        assert!(err.contains("checksum mismatch"), "{err}");
        std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
        let err = Checkpoint::open(&path).err().unwrap();
        assert!(err.contains("truncated"), "{err}");
        std::fs::write(&path, b"something else entirely, long enough").unwrap();
        let err = Checkpoint::open(&path).err().unwrap();
        assert!(err.contains("wrong magic"), "{err}");
    }

    #[test]
    fn damaged_metadata_is_described_in_words() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut bytes) = written(dir.path());
        // The first metadata byte (n, a varint) now announces a u128.
        bytes[20] = 254;
        std::fs::write(&path, &bytes).unwrap();
        let err = Checkpoint::open(&path).err().unwrap();
        assert!(
            err.starts_with("corrupt metadata: an integer is encoded as U128 where"),
            "{err}"
        );
        assert!(!err.contains('{'), "{err}");
    }
}
