//! Transposition: in memory ([`transpose`]) and straight into a matrix file
//! ([`write_transpose`]) with memory bounded by the output.

use std::path::Path;

use memmap2::MmapOptions;

use crate::error::SparseError;
use crate::format::{encode_footer, ensure_little_endian, Header, FOOTER_LEN};
use crate::writer::{crc32_parallel, parent_dir, persist, MatrixSummary};
use crate::{CsrMatrix, CsrView};

/// The CSR matrix of `mᵀ`, built by a counting sort (rows stay sorted within each
/// column because the source is scanned in row order).
pub fn transpose(m: CsrView<'_>) -> CsrMatrix {
    let (nrows, ncols) = m.shape();
    let indptr_src = m.proper_indptr();
    let (src_idx, src_val) = (m.indices(), m.data());
    let mut indptr = column_pointers(src_idx, ncols);
    let mut cursor: Vec<u64> = indptr[..ncols].to_vec();
    let mut indices = vec![0u32; src_idx.len()];
    let mut data = vec![0f32; src_idx.len()];
    for row in 0..nrows {
        for k in indptr_src[row] as usize..indptr_src[row + 1] as usize {
            let c = src_idx[k] as usize;
            let pos = cursor[c] as usize;
            cursor[c] += 1;
            indices[pos] = row as u32;
            data[pos] = src_val[k];
        }
    }
    indptr.shrink_to_fit();
    // The counting sort produces a valid CSR matrix: sprs's check costs O(nnz) on
    // top of the O(nnz) just spent, and guards against a bug here.
    CsrMatrix::try_new((ncols, nrows), indptr, indices, data)
        .map_err(|(_, _, _, e)| e)
        .expect("a counting-sort transpose is a valid CSR matrix")
}

/// Prefix sums of the column counts: the row pointers of the transpose.
fn column_pointers(indices: &[u32], ncols: usize) -> Vec<u64> {
    let mut ptr = vec![0u64; ncols + 1];
    for &c in indices {
        ptr[c as usize + 1] += 1;
    }
    for j in 0..ncols {
        ptr[j + 1] += ptr[j];
    }
    ptr
}

/// Write `mᵀ` in CSR to `path`, atomically.
///
/// A counting pass over the column indices gives the output layout; the output is
/// then preallocated as a temporary file, mapped, and filled by one scatter pass
/// over `m`. Memory beyond the output's page cache is O(ncols) (column pointers
/// and cursors); nothing of size nnz is allocated.
pub fn write_transpose(path: &Path, m: CsrView<'_>) -> Result<MatrixSummary, SparseError> {
    ensure_little_endian(path)?;
    let (nrows, ncols) = m.shape();
    if nrows as u64 > u64::from(u32::MAX) {
        return Err(SparseError::TooLarge {
            path: path.to_path_buf(),
            message: format!("{nrows} rows: the transpose's column indices would not fit in u32"),
        });
    }
    let indptr_src = m.proper_indptr();
    let (src_idx, src_val) = (m.indices(), m.data());
    let nnz = src_idx.len() as u64;
    let indptr_t = column_pointers(src_idx, ncols);
    let header = Header::layout(ncols as u64, nrows as u64, nnz);

    let dir = parent_dir(path);
    let tmp = crate::atomic_temp_builder(".topicmill-tmp-")
        .tempfile_in(dir)
        .map_err(|e| SparseError::io(dir, "cannot create a temporary file in", e))?;
    tmp.as_file()
        .set_len(header.file_len)
        .map_err(|e| SparseError::io(path, "cannot allocate", e))?;
    // Pre-fault the pages (one sequential pass) so the scatter below writes to
    // resident memory instead of taking a page fault at each new page it hits.
    // SAFETY: the temporary file was just created by us under a random name and is
    // mapped only here; nothing else writes to it while the map lives.
    let mut map = unsafe { MmapOptions::new().populate().map_mut(tmp.as_file()) }
        .map_err(|e| SparseError::io(path, "cannot map", e))?;

    // set_len filled the file with zeros: the padding between sections is zero.
    map[..crate::format::HEADER_LEN as usize].copy_from_slice(&header.encode());
    {
        let (front, back) = map.split_at_mut(header.data.offset as usize);
        let indices: &mut [u32] = bytemuck::cast_slice_mut(&mut front[header.indices.range()]);
        let data_end =
            (header.data.offset + header.data.len) as usize - header.data.offset as usize;
        let (data_bytes, rest) = back.split_at_mut(data_end);
        let data: &mut [f32] = bytemuck::cast_slice_mut(data_bytes);
        let ptr_start = (header.indptr.offset - header.data.offset) as usize - data_end;
        let ptr_bytes = &mut rest[ptr_start..ptr_start + header.indptr.len as usize];
        bytemuck::cast_slice_mut::<u8, u64>(ptr_bytes).copy_from_slice(&indptr_t);

        let mut cursor: Vec<u64> = indptr_t[..ncols].to_vec();
        for row in 0..nrows {
            for k in indptr_src[row] as usize..indptr_src[row + 1] as usize {
                let c = src_idx[k] as usize;
                let pos = cursor[c] as usize;
                cursor[c] += 1;
                indices[pos] = row as u32;
                data[pos] = src_val[k];
            }
        }
    }
    let footer = header.footer_offset() as usize;
    let crc = crc32_parallel(&map[..footer]);
    map[footer..footer + FOOTER_LEN as usize].copy_from_slice(&encode_footer(crc));
    map.flush()
        .map_err(|e| SparseError::io(path, "cannot write", e))?;
    drop(map);
    persist(tmp, path)?;
    Ok(MatrixSummary {
        nrows: ncols as u64,
        ncols: nrows as u64,
        nnz,
        file_len: header.file_len,
    })
}
