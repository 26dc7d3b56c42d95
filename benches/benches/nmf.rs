//! NMF kernel benchmarks on a random sparse matrix with a text-like,
//! skewed term distribution and the shapes of the targets:
//! all of 20 Newsgroups (18846 × 51840, ~1.15M non-zeros) and the seed's
//! 4-category matrix (2034 × 26576, ~133k non-zeros); then, when the
//! 20 Newsgroups tarball is in the data directory (`$TOPICMILL_DATA`), the
//! same targets on the real TF-IDF matrices (group `real_20news`): the seed's
//! whole fit (k = 4, NNDSVDa, 200 MU iterations, initialization included) and
//! one iteration of each solver at k = 20 on all 18846 documents, from the
//! NNDSVDa start.
//!
//! `cargo bench -p topicmill-benches --bench nmf`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use topicmill_nmf::bench_api::{Gram, Iterations, Spmm};
use topicmill_nmf::{Init, Loss, Nmf, Solver};
use topicmill_sparse::CsrMatrix;
use topicmill_text::ReferenceMatrix;

/// Rows of 0.2×–1.8× the mean length; column j drawn as `m·u³` (a few very
/// frequent terms, a long tail), values in [0.05, 0.35).
fn text_like(n: usize, m: usize, nnz: usize, seed: u64) -> CsrMatrix {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let per_row = nnz as f64 / n as f64;
    let mut indptr = vec![0u64];
    let mut indices: Vec<u32> = Vec::with_capacity(nnz);
    let mut data = Vec::with_capacity(nnz);
    let mut row = Vec::new();
    for _ in 0..n {
        let len = (per_row * (0.2 + 1.6 * rng.random::<f64>())) as usize;
        row.clear();
        for _ in 0..len {
            let u: f64 = rng.random();
            row.push(((m as f64) * u * u * u) as u32);
        }
        row.sort_unstable();
        row.dedup();
        for &j in &row {
            indices.push(j);
            data.push(0.05 + rng.random::<f32>() * 0.3);
        }
        indptr.push(indices.len() as u64);
    }
    CsrMatrix::new((n, m), indptr, indices, data)
}

fn factor(rows: usize, k: usize, seed: u64) -> Vec<f32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..rows * k)
        .map(|_| 0.01 + rng.random::<f32>() * 0.1)
        .collect()
}

fn kernels(c: &mut Criterion) {
    let x = text_like(18846, 51840, 1_150_000, 1);
    let xt = x.transpose_view().to_csr();
    let (xv, xtv) = (x.view(), xt.view());
    let (n, m) = (x.rows(), x.cols());

    let mut g = c.benchmark_group("spmm_20news");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    for k in [4, 20, 100] {
        let (w, ht) = (factor(n, k, 2), factor(m, k, 3));
        let (fw, fh) = (Spmm::new(&xv, k), Spmm::new(&xtv, k));
        let (mut nw, mut nh) = (vec![0f32; n * k], vec![0f32; m * k]);
        g.bench_with_input(BenchmarkId::new("X_times_Ht", k), &k, |b, _| {
            b.iter(|| fw.run(black_box(&ht), &mut nw))
        });
        g.bench_with_input(BenchmarkId::new("Xt_times_W", k), &k, |b, _| {
            b.iter(|| fh.run(black_box(&w), &mut nh))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("gram_20news");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    for k in [4, 20, 100] {
        let ht = factor(m, k, 3);
        let mut gram = Gram::new(m, k);
        g.bench_with_input(BenchmarkId::new("HtT_Ht", k), &k, |b, _| {
            b.iter(|| black_box(gram.run(black_box(&ht))[0]))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("iteration_20news_k20");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    let k = 20;
    for (name, solver, loss) in [
        ("mu", Solver::Mu, Loss::Frobenius),
        ("hals", Solver::Hals, Loss::Frobenius),
        ("kl_mu", Solver::Mu, Loss::KullbackLeibler),
    ] {
        let params = Nmf::params(k).solver(solver).loss(loss);
        let mut it = Iterations::new(&xv, &xtv, factor(n, k, 2), factor(m, k, 3), &params);
        g.bench_function(name, |b| b.iter(|| black_box(it.step())));
    }
    g.finish();

    let seed = text_like(2034, 26576, 133_634, 4);
    let seed_t = seed.transpose_view().to_csr();
    let (sv, stv) = (seed.view(), seed_t.view());
    let mut g = c.benchmark_group("seed_k4");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    let params = Nmf::params(4).solver(Solver::Mu);
    let mut it = Iterations::new(&sv, &stv, factor(2034, 4, 5), factor(26576, 4, 6), &params);
    g.bench_function("mu_iteration", |b| b.iter(|| black_box(it.step())));
    g.finish();
}

/// The seed's 4-category matrix (`all = false`) or all 18846 documents with
/// min_df = 2, as `topicmill demo` and the figures build them.
fn newsgroups(all: bool) -> Option<CsrMatrix> {
    let tarball = topicmill_testdata::require("20news-bydate/20news-bydate.tar.gz")?;
    let which = if all {
        ReferenceMatrix::All
    } else {
        ReferenceMatrix::Seed
    };
    which.build(&tarball).ok()
}

fn real(c: &mut Criterion) {
    let (Some(seed), Some(full)) = (newsgroups(false), newsgroups(true)) else {
        return;
    };
    let mut g = c.benchmark_group("real_20news");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    let seed_t = topicmill_sparse::transpose(seed.view());
    let p = Nmf::params(4)
        .solver(Solver::Mu)
        .init(Init::Nndsvda)
        .max_iter(200)
        .tol(0.0);
    g.bench_function("seed_k4_mu_200_fit", |b| {
        b.iter(|| {
            black_box(
                p.fit_with(&seed.view(), Some(&seed_t.view()), |_| {
                    std::ops::ControlFlow::Continue(())
                })
                .expect("fit"),
            )
        })
    });
    let full_t = topicmill_sparse::transpose(full.view());
    let (xv, xtv) = (full.view(), full_t.view());
    // The NNDSVDa start: a one-iteration fit's factors are close enough, and
    // come through the public API.
    let start = Nmf::params(20)
        .solver(Solver::Mu)
        .max_iter(1)
        .fit_with(&xv, Some(&xtv), |_| std::ops::ControlFlow::Continue(()))
        .expect("fit");
    for (name, solver, loss) in [
        ("full_k20_mu_iteration", Solver::Mu, Loss::Frobenius),
        ("full_k20_hals_iteration", Solver::Hals, Loss::Frobenius),
        (
            "full_k20_kl_mu_iteration",
            Solver::Mu,
            Loss::KullbackLeibler,
        ),
    ] {
        let params = Nmf::params(20).solver(solver).loss(loss);
        let mut it = Iterations::new(&xv, &xtv, start.w().to_vec(), start.ht().to_vec(), &params);
        g.bench_function(name, |b| b.iter(|| black_box(it.step())));
    }
    g.finish();
}

criterion_group!(benches, kernels, real);
criterion_main!(benches);
