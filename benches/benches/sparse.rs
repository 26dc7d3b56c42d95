//! topicmill-sparse: opening a mapped matrix, verifying it, transposing it, and
//! importing the UCI KOS / NIPS docword files (throughput in bytes of
//! decompressed text).
//!
//! ```text
//! TOPICMILL_DATA=../shared/datasets cargo bench -p topicmill-benches --bench sparse
//! ```
//! The 50 M-non-zero open/RSS figures come from the `sparse_figures` binary.

use std::hint::black_box;
use std::io::Read;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use topicmill_sparse::{read_docword, transpose, write_transpose, MappedMatrix, MatrixWriter};

/// A deterministic 20 000 × 50 000 matrix with 100 entries per row (2 M nnz).
fn generated(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("gen.csr");
    let (nrows, ncols, per_row) = (20_000u64, 50_000u64, 100u64);
    let band = ncols / per_row;
    let mut w = MatrixWriter::create(&path, ncols as usize).unwrap();
    let mut state = 1u64;
    let mut idx = vec![0u32; per_row as usize];
    let mut val = vec![0f32; per_row as usize];
    for _ in 0..nrows {
        for k in 0..per_row as usize {
            // xorshift64
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            idx[k] = (k as u64 * band + state % band) as u32;
            val[k] = (state >> 40) as f32 / 1e4 + 0.1;
        }
        w.push_row(&idx, &val).unwrap();
    }
    w.finish().unwrap();
    path
}

fn open_verify_transpose(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = generated(dir.path());
    let nnz = MappedMatrix::open(&path).unwrap().nnz() as u64;
    let bytes = std::fs::metadata(&path).unwrap().len();
    let mut g = c.benchmark_group("sparse/2M-nnz");
    g.throughput(Throughput::Elements(nnz));
    g.bench_function("open", |b| {
        b.iter(|| black_box(MappedMatrix::open(&path).unwrap()))
    });
    let m = MappedMatrix::open(&path).unwrap();
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("verify", |b| b.iter(|| m.verify().unwrap()));
    g.throughput(Throughput::Elements(nnz));
    g.bench_function("transpose (memory)", |b| {
        b.iter(|| black_box(transpose(m.view())))
    });
    let out = dir.path().join("t.csr");
    g.bench_function("write_transpose (file)", |b| {
        b.iter(|| write_transpose(&out, m.view()).unwrap())
    });
    g.finish();
}

fn import(c: &mut Criterion) {
    let mut g = c.benchmark_group("sparse/import-docword");
    g.sample_size(10);
    let tmp = tempfile::tempdir().unwrap();
    for name in ["kos", "nips"] {
        let Some(path) = topicmill_testdata::require(&format!("uci-bow/docword.{name}.txt.gz"))
        else {
            continue;
        };
        let mut raw = Vec::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(&path).unwrap())
            .read_to_end(&mut raw)
            .unwrap();
        let plain = tmp.path().join(format!("docword.{name}.txt"));
        std::fs::write(&plain, &raw).unwrap();
        g.throughput(Throughput::Bytes(raw.len() as u64));
        g.bench_with_input(BenchmarkId::new("plain", name), &plain, |b, p| {
            b.iter(|| black_box(read_docword(p).unwrap()))
        });
        g.bench_with_input(BenchmarkId::new("gzip", name), &path, |b, p| {
            b.iter(|| black_box(read_docword(p).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, open_verify_transpose, import);
criterion_main!(benches);
