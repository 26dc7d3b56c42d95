//! The gaps the other benches leave: opening a whole mapped corpus directory
//! (manifest, both matrices, vocabulary, ids), generating a synthetic corpus,
//! and the dense products of an update (F·S, n × k times k × k) at the ranks
//! of the kernel benches, through faer as the machine's reference.
//!
//! `cargo bench -p topicmill-benches --bench corpus`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use faer::{linalg::matmul::matmul, Accum, Mat, Par};
use topicmill_sparse::{Corpus, GenerateParams};

fn corpus(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    // The shape of all of 20 Newsgroups (min_df=2), 20 planted topics.
    let params = GenerateParams::new(18_846, 51_840, 1_147_174, 20);
    let mut g = c.benchmark_group("corpus_20news_shape");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(params.nnz));
    g.bench_function("generate", |b| {
        b.iter(|| params.write(dir.path().join("gen"), true).unwrap())
    });
    let path = dir.path().join("gen");
    g.bench_function("open", |b| {
        b.iter(|| black_box(Corpus::open(&path).unwrap()))
    });
    g.finish();
}

fn dense(c: &mut Criterion) {
    let n = 18_846;
    let mut g = c.benchmark_group("dense_f_times_s");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    for k in [4, 20, 100] {
        let f = Mat::<f32>::from_fn(n, k, |i, j| ((i + 3 * j) % 7) as f32 * 0.1);
        let s = Mat::<f32>::from_fn(k, k, |i, j| ((i * j) % 5) as f32 * 0.1);
        let mut out = Mat::<f32>::zeros(n, k);
        g.throughput(Throughput::Elements((2 * n * k * k) as u64));
        g.bench_with_input(BenchmarkId::new("faer_seq", k), &k, |b, _| {
            b.iter(|| {
                matmul(
                    out.as_mut(),
                    Accum::Replace,
                    f.as_ref(),
                    black_box(s.as_ref()),
                    1.0f32,
                    Par::Seq,
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, corpus, dense);
criterion_main!(benches);
