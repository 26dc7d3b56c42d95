//! Per-iteration timing on a random sparse matrix with a text-like
//! (skewed) term distribution.
//!
//! `cargo run --release -p topicmill-nmf --example speed -- ROWS COLS NNZ K ITERS SOLVER`
//! with SOLVER one of `mu`, `hals`, `kl`.

use std::ops::ControlFlow;
use std::time::Instant;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use topicmill_nmf::{Init, Loss, Nmf, Solver};
use topicmill_sparse::CsrMatrix;

fn random_text_like(n: usize, m: usize, nnz: usize, seed: u64) -> CsrMatrix {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let per_row = nnz / n;
    let mut indptr = vec![0u64];
    let mut indices: Vec<u32> = Vec::with_capacity(nnz);
    let mut data = Vec::with_capacity(nnz);
    let mut row = Vec::new();
    for _ in 0..n {
        // Row lengths vary from 0.2× to 1.8× the mean.
        let len = ((per_row as f64) * (0.2 + 1.6 * rng.random::<f64>())) as usize;
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

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let arg = |i: usize, d: usize| a.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (n, m, nnz, k, iters) = (
        arg(1, 18846),
        arg(2, 51840),
        arg(3, 1_150_000),
        arg(4, 20),
        arg(5, 50),
    );
    let solver = a.get(6).map(String::as_str).unwrap_or("mu");
    let x = random_text_like(n, m, nnz, 1);
    let xt = x.transpose_view().to_csr();
    let (solver, loss) = match solver {
        "hals" => (Solver::Hals, Loss::Frobenius),
        "kl" => (Solver::Mu, Loss::KullbackLeibler),
        _ => (Solver::Mu, Loss::Frobenius),
    };
    let params = Nmf::params(k)
        .solver(solver)
        .loss(loss)
        .init(Init::Random)
        .max_iter(iters)
        .tol(0.0);
    let mut first = None;
    let mut last = None;
    let t0 = Instant::now();
    let model = params
        .fit_with(&x.view(), Some(&xt.view()), |p| {
            if p.iteration == 1 {
                first = Some(p.elapsed);
            }
            last = Some(p.elapsed);
            ControlFlow::Continue(())
        })
        .unwrap();
    let total = t0.elapsed();
    let (first, last) = (first.unwrap(), last.unwrap());
    let per_it = (last - first).as_secs_f64() * 1e3 / (iters - 1).max(1) as f64;
    println!(
        "{n}x{m} nnz={} k={k} {solver:?}/{loss:?} threads={}: {per_it:.3} ms/iteration (iterations 2..={iters}), fit total {:.1} ms (init + loop + final W), err {:.6}",
        x.nnz(),
        rayon::current_num_threads(),
        total.as_secs_f64() * 1e3,
        model.reconstruction_err()
    );
}
