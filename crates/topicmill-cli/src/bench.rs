//! `topicmill bench WORKLOAD`: per-iteration time of a fit, the rates it
//! achieves (counted as in ARCHITECTURE.md) and the fraction of this machine's
//! limit, which the command measures itself.
//!
//! Counting, per iteration (W-step then H-step), for n documents, m terms, nnz
//! non-zeros and k topics:
//! - flops: `4·nnz·k + 4·(n+m)·k²` for MU and HALS (the two sparse products and
//!   the dense Gram/product terms); KL-MU evaluates WH at the non-zeros as well,
//!   so it is counted `8·nnz·k + 4·(n+m)·k`;
//! - bytes: the two CSR streams (`8·nnz + 8·(rows+1)` each: u32 index + f32
//!   value per entry, u64 row pointers) plus each factor read and written once,
//!   `2·4·(n+m)·k`. Everything else (cache misses on the gathered factor rows)
//!   is the kernel's business: these are the bytes a perfect kernel moves.
//!
//! The limit: a dense f32 matrix product (faer, one 1024² product per thread on
//! every core at once) for flops, a parallel read of a 256 MiB buffer for
//! bytes; the roofline time of an iteration is the larger of flops/peak and
//! bytes/bandwidth, and the fraction reported is roofline time / measured time.
//!
//! Memory: the binary's global allocator counts live heap bytes, so the fit's
//! footprint is exact: the matrix and transpose bytes plus the peak of heap
//! bytes allocated during the fit (mapped files count once, for their size; the
//! page cache is set aside). The peak resident set (file pages included) is
//! the kernel's high-water mark, `VmHWM`, reset before each fit through
//! `/proc/self/clear_refs`; where that reset is not allowed, a thread reads
//! `VmRSS` every millisecond instead (and takes time from the fit: on two
//! cores it added 4–7 ms to the seed fit's 62–68 ms).

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use clap::ValueEnum;
use serde::Serialize;
use topicmill_nmf::{Init, Loss, Nmf, Solver};
use topicmill_sparse::{read_docword, transpose, Corpus, CsrMatrix, CsrView, GenerateParams};
use topicmill_text::{
    DocFreq, NewsgroupsOptions, Remove, StopWords, Subset, TfidfParams, SEED_CATEGORIES,
};

use crate::fetch::{data_dirs, load_checked, locate_or_download, Remote};
use crate::generate::parse_shape;
use crate::nmf_args::InitArg;

/// Time NMF iterations on a workload; rates against this machine's measured limit.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// seed4 (20 Newsgroups, 4 categories, k=4), ng20 (all 18846, min_df=2, k=20),
    /// kos, nips (UCI bag of words, counts, k=20), generated:DOCSxTERMSxNNZxK
    /// (e.g. generated:300kx102660x70Mx100), or a corpus directory.
    pub workload: String,
    /// Topics [default: the workload's].
    #[arg(short = 'k', long)]
    pub k: Option<usize>,
    /// Solvers to time, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "mu,hals,kl")]
    pub solvers: Vec<BenchSolver>,
    /// Iterations per fit (the first, which includes the initialization, is not timed).
    #[arg(long, default_value_t = 20)]
    pub iters: usize,
    /// Fits per solver; the fastest is kept (the machine is shared: noise only adds time).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Rayon threads for the fit [default: all cores]. The limit always uses all cores.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Directory holding the datasets [default: $TOPICMILL_DATA, then ./datasets].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where generated corpora are written and reused [default: the system temp dir].
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Skip measuring the machine's limit (no fractions reported).
    #[arg(long)]
    pub no_limit: bool,
    /// Iteration cap of the fit's final W solve (not part of the per-iteration time).
    #[arg(long, default_value_t = 500)]
    pub final_w_iters: usize,
    /// Initialization.
    #[arg(long, value_enum, default_value = "random")]
    pub init: InitArg,
    /// Stop each fit once the relative error ‖X−WH‖/‖X‖ is at or below this
    /// (Frobenius solvers), and report the time it took, initialization
    /// included; --iters is then the cap.
    #[arg(long, value_name = "REL", allow_negative_numbers = true)]
    pub until_error: Option<f64>,
    /// Random seed of the initialization and of generated corpora.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BenchSolver {
    /// Frobenius multiplicative updates.
    Mu,
    /// Frobenius HALS.
    Hals,
    /// Kullback–Leibler multiplicative updates.
    Kl,
}

/// The matrices of a workload, in memory or mapped.
enum Matrices {
    Owned(CsrMatrix, CsrMatrix),
    Mapped(Box<Corpus>),
}

impl Matrices {
    fn views(&self) -> (CsrView<'_>, CsrView<'_>) {
        match self {
            Matrices::Owned(x, xt) => (x.view(), xt.view()),
            Matrices::Mapped(c) => (c.matrix(), c.transpose()),
        }
    }
}

#[derive(Debug, Serialize)]
struct Prepared {
    /// What was done to get X (load, vectorize, import, generate, open).
    steps: Vec<(String, f64)>,
    /// Input text bytes, for vectorizer throughput.
    text_bytes: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct Limit {
    threads: usize,
    /// Dense f32 matrix product, GFLOP/s, all cores.
    gemm_gflops: f64,
    /// Parallel read bandwidth, GB/s (1e9 bytes), all cores.
    read_gbps: f64,
}

#[derive(Debug, Serialize)]
struct Row {
    solver: BenchSolver,
    k: usize,
    threads: usize,
    iters_timed: usize,
    /// Best over repeats of the mean time per iteration, seconds.
    sec_per_iter: f64,
    /// All repeats' means.
    sec_per_iter_runs: Vec<f64>,
    flops_per_iter: f64,
    bytes_per_iter: f64,
    gflops: f64,
    gbps: f64,
    /// Achieved / measured limit (None with --no-limit).
    frac_flops: Option<f64>,
    frac_bandwidth: Option<f64>,
    /// Roofline time / measured time.
    frac_roofline: Option<f64>,
    /// Relative error ‖X−WH‖/‖X‖ (Frobenius) or the KL divergence, at the end.
    final_loss: f64,
    /// matrix + transpose + factors (W and Hᵀ, f32), bytes.
    reference_bytes: u64,
    /// matrix + transpose + peak heap allocated during the fit, bytes (max over repeats).
    footprint_bytes: u64,
    footprint_ratio: f64,
    /// Peak resident set (VmRSS, file pages included) during the fit.
    peak_rss_bytes: u64,
    /// Whole fit (initialization, iterations, final W) of the fastest run, seconds.
    fit_seconds: f64,
    /// With --until-error: the fastest time to reach it (initialization
    /// included, final W solve excluded) and the iterations it took; None if
    /// no run reached it.
    until_error: Option<f64>,
    seconds_to_error: Option<f64>,
    iterations_to_error: Option<usize>,
}

#[derive(Debug, Serialize)]
struct Report {
    workload: String,
    docs: usize,
    terms: usize,
    nnz: usize,
    /// On-disk / in-memory size of X and of Xᵀ, bytes.
    matrix_bytes: u64,
    prepared: Prepared,
    limit: Option<Limit>,
    cpu: String,
    results: Vec<Row>,
}

pub fn run(args: Args) -> Result<()> {
    if let Some(t) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build_global()
            .context("cannot set the thread count")?;
    }
    if args.iters < 2 {
        bail!("--iters must be at least 2 (the first iteration is not timed)");
    }
    if let Some(rel) = args.until_error {
        ensure!(
            rel.is_finite() && rel >= 0.0,
            "--until-error must be a relative error ≥ 0, got {rel}"
        );
    }
    let (matrices, default_k, prepared) = load(&args)?;
    let (x, xt) = matrices.views();
    let k = args.k.unwrap_or(default_k);
    let (n, m, nnz) = (x.rows(), x.cols(), x.nnz());
    let csr_bytes = |rows: usize| 8 * nnz as u64 + 8 * (rows as u64 + 1);
    let matrix_bytes = csr_bytes(n) + csr_bytes(m);
    let limit = if args.no_limit {
        None
    } else {
        Some(measure_limit())
    };
    let threads = rayon::current_num_threads();

    let mut results = Vec::new();
    for &solver in &args.solvers {
        let (s, loss) = match solver {
            BenchSolver::Mu => (Solver::Mu, Loss::Frobenius),
            BenchSolver::Hals => (Solver::Hals, Loss::Frobenius),
            BenchSolver::Kl => (Solver::Mu, Loss::KullbackLeibler),
        };
        let params = Nmf::params(k)
            .solver(s)
            .loss(loss)
            .init(match args.init {
                InitArg::Random => Init::Random,
                InitArg::Nndsvd => Init::Nndsvd,
                InitArg::Nndsvda => Init::Nndsvda,
                InitArg::Nndsvdar => Init::Nndsvdar,
            })
            .max_iter(args.iters)
            .tol(0.0)
            .seed(args.seed)
            .transform_max_iter(args.final_w_iters.max(1));
        let mut runs = Vec::new();
        let mut best: Option<(f64, f64, f64, usize)> = None;
        let norm = frobenius(&x);
        let mut reached: Option<(f64, usize)> = None;
        let (mut footprint, mut peak_rss) = (0u64, 0u64);
        for _ in 0..args.repeat.max(1) {
            let heap_start = counting_alloc::reset_peak();
            let sampler = PeakRss::start();
            let start = Instant::now();
            let mut stamps: Vec<Duration> = Vec::with_capacity(args.iters);
            let mut hit: Option<(f64, usize)> = None;
            let model = params
                .fit_with(&x, Some(&xt), |p| {
                    stamps.push(p.elapsed);
                    match (args.until_error, p.loss) {
                        (Some(target), Some(l)) if l / norm <= target => {
                            hit = Some((p.elapsed.as_secs_f64(), p.iteration));
                            ControlFlow::Break(())
                        }
                        _ => ControlFlow::Continue(()),
                    }
                })
                .with_context(|| format!("cannot fit {}", args.workload))?;
            let fit_seconds = start.elapsed().as_secs_f64();
            let mem = sampler.stop();
            let heap_growth = counting_alloc::peak().saturating_sub(heap_start);
            if let Some((t, it)) = hit {
                if reached.is_none_or(|(b, _)| t < b) {
                    reached = Some((t, it));
                }
            }
            let timed = (stamps.len() - 1).max(1);
            let last = stamps.len() - 1;
            let per_iter = if last == 0 {
                stamps[0].as_secs_f64()
            } else {
                (stamps[last] - stamps[0]).as_secs_f64() / timed as f64
            };
            runs.push(per_iter);
            let loss = match loss {
                Loss::Frobenius => model.reconstruction_err() / norm,
                _ => model.reconstruction_err(),
            };
            if best.is_none_or(|(b, _, _, _)| per_iter < b) {
                best = Some((per_iter, loss, fit_seconds, last));
            }
            // Owned matrices were allocated before the fit: only growth counts.
            footprint = footprint.max(matrix_bytes + heap_growth as u64);
            peak_rss = peak_rss.max(mem.peak_rss);
        }
        let (sec, final_loss, fit_seconds, iters_timed) = best.expect("at least one run");
        let flops = match solver {
            BenchSolver::Kl => 8.0 * (nnz * k) as f64 + 4.0 * ((n + m) * k) as f64,
            _ => 4.0 * (nnz * k) as f64 + 4.0 * ((n + m) * k * k) as f64,
        };
        let bytes = matrix_bytes as f64 + 8.0 * ((n + m) * k) as f64;
        let (gflops, gbps) = (flops / sec / 1e9, bytes / sec / 1e9);
        let reference = matrix_bytes + 4 * ((n + m) * k) as u64;
        let (frac_flops, frac_bandwidth, frac_roofline) = match &limit {
            Some(l) => {
                let roof = (flops / (l.gemm_gflops * 1e9)).max(bytes / (l.read_gbps * 1e9));
                (
                    Some(gflops / l.gemm_gflops),
                    Some(gbps / l.read_gbps),
                    Some(roof / sec),
                )
            }
            None => (None, None, None),
        };
        results.push(Row {
            solver,
            k,
            threads,
            iters_timed,
            sec_per_iter: sec,
            sec_per_iter_runs: runs,
            flops_per_iter: flops,
            bytes_per_iter: bytes,
            gflops,
            gbps,
            frac_flops,
            frac_bandwidth,
            frac_roofline,
            final_loss,
            reference_bytes: reference,
            footprint_bytes: footprint,
            footprint_ratio: footprint as f64 / reference as f64,
            peak_rss_bytes: peak_rss,
            fit_seconds,
            until_error: args.until_error,
            seconds_to_error: reached.map(|r| r.0),
            iterations_to_error: reached.map(|r| r.1),
        });
    }
    let report = Report {
        workload: args.workload.clone(),
        docs: n,
        terms: m,
        nnz,
        matrix_bytes,
        prepared,
        limit,
        cpu: cpu_model(),
        results,
    };
    crate::output::print_report(&report, args.json, print_table)
}

fn frobenius(x: &CsrView<'_>) -> f64 {
    x.data()
        .iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum::<f64>()
        .sqrt()
}

fn load(args: &Args) -> Result<(Matrices, usize, Prepared)> {
    let dirs = data_dirs(args.data_dir.as_deref());
    let mut steps = Vec::new();
    let mut timed = |name: &str, start: Instant| {
        steps.push((name.to_string(), start.elapsed().as_secs_f64()));
    };
    let w = args.workload.as_str();
    let text = |subset: Subset, categories: Option<Vec<String>>, min_df: u64| {
        let archive = locate_or_download(&dirs, &Remote::from_env())?;
        let start = Instant::now();
        let docs = load_checked(
            &archive,
            &NewsgroupsOptions {
                subset,
                categories,
                remove: Remove::ALL,
            },
        )?;
        let load = start.elapsed().as_secs_f64();
        let bytes: u64 = docs.texts.iter().map(|t| t.len() as u64).sum();
        let start = Instant::now();
        let (_, x) = TfidfParams::default()
            .stop_words(Some(StopWords::English))
            .min_df(DocFreq::Count(min_df))
            .fit_transform(&docs.texts)
            .context("cannot vectorize")?;
        let vectorize = start.elapsed().as_secs_f64();
        let xt = transpose(x.view());
        anyhow::Ok((x, xt, load, vectorize, bytes))
    };
    let (matrices, k, text_bytes) = match w {
        "seed4" | "ng20" => {
            let (x, xt, load, vec, bytes) = if w == "seed4" {
                let cats = SEED_CATEGORIES.iter().map(|c| c.to_string()).collect();
                text(Subset::Train, Some(cats), 1)?
            } else {
                text(Subset::All, None, 2)?
            };
            steps.push(("load 20news".into(), load));
            steps.push(("vectorize".into(), vec));
            let k = if w == "seed4" { 4 } else { 20 };
            (Matrices::Owned(x, xt), k, Some(bytes))
        }
        "kos" | "nips" => {
            let name = format!("docword.{w}.txt.gz");
            let path = dirs
                .iter()
                .flat_map(|d| [d.join("uci-bow").join(&name), d.join(&name)])
                .find(|p| p.is_file())
                .with_context(|| {
                    format!("{name} not found in uci-bow/ under the data directory (--data-dir or TOPICMILL_DATA)")
                })?;
            let start = Instant::now();
            let x = read_docword(&path)?;
            timed("import", start);
            let xt = transpose(x.view());
            (Matrices::Owned(x, xt), 20, None)
        }
        _ if w.starts_with("generated:") => {
            let (docs, terms, nnz, k) = parse_shape(&w["generated:".len()..])?;
            let k = k.unwrap_or(20);
            let work = args.work_dir.clone().unwrap_or_else(std::env::temp_dir);
            let dir = work.join(format!(
                "topicmill-gen-{docs}x{terms}x{nnz}x{k}-seed{}",
                args.seed
            ));
            let params = GenerateParams::new(docs, terms, nnz, k).seed(args.seed);
            // A regeneration killed while it replaced the cached corpus may
            // have left the old one aside: put back, or named, as the
            // writing commands do.
            crate::output::recover_set_aside(&dir)?;
            if Corpus::open(&dir).is_err() {
                let start = Instant::now();
                // The writer's errors start with the path: no context repeats it.
                params
                    .write(&dir, true)
                    .context("cannot generate the workload's corpus")?;
                timed("generate", start);
            }
            let start = Instant::now();
            let corpus = Corpus::open(&dir)?;
            timed("open", start);
            (Matrices::Mapped(Box::new(corpus)), k, None)
        }
        _ if Path::new(w).is_dir() => {
            let start = Instant::now();
            let corpus =
                Corpus::open(w).with_context(|| format!("cannot open corpus {w}"))?;
            timed("open", start);
            corpus
                .check_values()
                .with_context(|| format!("cannot bench on corpus {w}"))?;
            (Matrices::Mapped(Box::new(corpus)), 20, None)
        }
        _ => bail!(
            "unknown workload {w:?}: seed4, ng20, kos, nips, generated:DOCSxTERMSxNNZxK, or a corpus directory"
        ),
    };
    Ok((matrices, k, Prepared { steps, text_bytes }))
}

/// The machine's limit, on all cores.
pub fn measure_limit() -> Limit {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    Limit {
        threads,
        gemm_gflops: gemm_rate(threads),
        read_gbps: read_rate(threads),
    }
}

/// Best of 5: every thread multiplies its own pair of 1024² f32 matrices at once.
fn gemm_rate(threads: usize) -> f64 {
    use faer::{linalg::matmul::matmul, Accum, Mat, Par};
    const N: usize = 1024;
    let mut best = f64::INFINITY;
    let mut mats: Vec<(Mat<f32>, Mat<f32>, Mat<f32>)> = (0..threads)
        .map(|t| {
            let a = Mat::from_fn(N, N, |i, j| ((i * 7 + j * 3 + t) % 13) as f32 * 0.1);
            let b = Mat::from_fn(N, N, |i, j| ((i * 5 + j * 11 + t) % 17) as f32 * 0.1);
            (a, b, Mat::zeros(N, N))
        })
        .collect();
    for _ in 0..5 {
        let start = Instant::now();
        std::thread::scope(|s| {
            for (a, b, c) in mats.iter_mut() {
                s.spawn(move || {
                    matmul(
                        c.as_mut(),
                        Accum::Replace,
                        a.as_ref(),
                        b.as_ref(),
                        1.0f32,
                        Par::Seq,
                    )
                });
            }
        });
        best = best.min(start.elapsed().as_secs_f64());
    }
    std::hint::black_box(&mats);
    threads as f64 * 2.0 * (N * N * N) as f64 / best / 1e9
}

/// Best of 5: every thread sums its own share of a 256 MiB buffer at once.
fn read_rate(threads: usize) -> f64 {
    const BYTES: usize = 256 << 20;
    let buf: Vec<f32> = (0..BYTES / 4).map(|i| (i % 7) as f32).collect();
    let chunk = buf.len().div_ceil(threads);
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let start = Instant::now();
        let total: f32 = std::thread::scope(|s| {
            let handles: Vec<_> = buf
                .chunks(chunk)
                .map(|part| s.spawn(move || sum8(part)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("no panic"))
                .sum()
        });
        std::hint::black_box(total);
        best = best.min(start.elapsed().as_secs_f64());
    }
    BYTES as f64 / best / 1e9
}

/// A sum with eight independent accumulators, so the loop is bound by loads.
fn sum8(xs: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let mut chunks = xs.chunks_exact(8);
    for c in &mut chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    acc.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

/// Live heap bytes and their peak, counted by the binary's global allocator.
pub mod counting_alloc {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicUsize, Ordering};

    static LIVE: AtomicUsize = AtomicUsize::new(0);
    static PEAK: AtomicUsize = AtomicUsize::new(0);

    /// The system allocator, counting.
    pub struct Counting;

    fn grow(by: usize) {
        let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
        PEAK.fetch_max(now, Ordering::Relaxed);
    }

    // SAFETY: every call is forwarded unchanged to `System`; the counters are
    // bookkeeping only.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: the caller's contract for `alloc` is passed on as is.
            let p = unsafe { System.alloc(layout) };
            if !p.is_null() {
                grow(layout.size());
            }
            p
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: as for `alloc`.
            let p = unsafe { System.alloc_zeroed(layout) };
            if !p.is_null() {
                grow(layout.size());
            }
            p
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: `ptr` came from this allocator, i.e. from `System`, with `layout`.
            unsafe { System.dealloc(ptr, layout) };
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: as for `dealloc`; `new_size` is the caller's, unchanged.
            let p = unsafe { System.realloc(ptr, layout, new_size) };
            if !p.is_null() {
                LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
                grow(new_size);
            }
            p
        }
    }

    /// Starts a new peak at the current live bytes, and returns them.
    pub fn reset_peak() -> usize {
        let now = LIVE.load(Ordering::Relaxed);
        PEAK.store(now, Ordering::Relaxed);
        now
    }

    /// The peak of live heap bytes since the last [`reset_peak`].
    pub fn peak() -> usize {
        PEAK.load(Ordering::Relaxed)
    }
}

struct MemoryPeaks {
    peak_rss: u64,
}

/// The peak resident set of a span: the kernel's high-water mark when it can
/// be reset, else a polling thread.
enum PeakRss {
    HighWater,
    Sampler(MemorySampler),
}

impl PeakRss {
    fn start() -> Self {
        // "5" resets VmHWM to the current resident set (Linux ≥ 4.0).
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        if reset && status_bytes("VmHWM:").is_some() {
            PeakRss::HighWater
        } else {
            PeakRss::Sampler(MemorySampler::start())
        }
    }

    fn stop(self) -> MemoryPeaks {
        match self {
            PeakRss::HighWater => MemoryPeaks {
                peak_rss: status_bytes("VmHWM:").unwrap_or(0),
            },
            PeakRss::Sampler(sampler) => sampler.stop(),
        }
    }
}

/// Polls `/proc/self/status` every millisecond on its own thread.
struct MemorySampler {
    stop: Arc<AtomicBool>,
    peak_rss: Arc<AtomicU64>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl MemorySampler {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak_rss = Arc::new(AtomicU64::new(status_rss()));
        let handle = {
            let (stop, peak_rss) = (stop.clone(), peak_rss.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    peak_rss.fetch_max(status_rss(), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        };
        MemorySampler {
            stop,
            peak_rss,
            handle: Some(handle),
        }
    }

    fn stop(mut self) -> MemoryPeaks {
        self.peak_rss.fetch_max(status_rss(), Ordering::Relaxed);
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        MemoryPeaks {
            peak_rss: self.peak_rss.load(Ordering::Relaxed),
        }
    }
}

/// VmRSS in bytes; 0 where /proc is unavailable.
fn status_rss() -> u64 {
    status_bytes("VmRSS:").unwrap_or(0)
}

/// A `kB` field of `/proc/self/status` (`field` with its colon), in bytes.
fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

/// The CPU's model name, with its family and model numbers where
/// /proc/cpuinfo gives them (virtual machines of one vendor often share a
/// model name: "Intel(R) Xeon(R) Processor" has been two different CPUs).
fn cpu_model() -> String {
    let Ok(info) = std::fs::read_to_string("/proc/cpuinfo") else {
        return "unknown".to_string();
    };
    let field = |name: &str| {
        info.lines().find_map(|l| {
            let (key, value) = l.split_once(':')?;
            (key.trim() == name).then(|| value.trim().to_string())
        })
    };
    match (field("model name"), field("cpu family"), field("model")) {
        (Some(name), Some(family), Some(model)) => {
            format!("{name} (family {family}, model {model})")
        }
        (Some(name), ..) => name,
        _ => "unknown".to_string(),
    }
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

fn print_table(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    writeln!(
        out,
        "workload {}: {} documents × {} terms, {} non-zeros; X + Xᵀ {:.1} MiB",
        r.workload,
        r.docs,
        r.terms,
        r.nnz,
        mib(r.matrix_bytes)
    )?;
    for (step, s) in &r.prepared.steps {
        write!(out, "  {step} {s:.3} s")?;
        if step == "vectorize" {
            if let Some(b) = r.prepared.text_bytes {
                write!(out, " ({:.1} MB/s of text)", b as f64 / s / 1e6)?;
            }
        }
        writeln!(out)?;
    }
    match &r.limit {
        Some(l) => writeln!(
            out,
            "machine: {}; {} threads: dense f32 product {:.1} GFLOP/s, read bandwidth {:.1} GB/s",
            r.cpu, l.threads, l.gemm_gflops, l.read_gbps
        )?,
        None => writeln!(out, "machine: {}; limit not measured", r.cpu)?,
    }
    writeln!(
        out,
        "{:<6} {:>4} {:>3} {:>10} {:>8} {:>7} {:>7} {:>7} {:>7} {:>10} {:>9} {:>9} {:>6} {:>9}",
        "solver",
        "k",
        "thr",
        "ms/iter",
        "GFLOP/s",
        "GB/s",
        "%flops",
        "%bw",
        "%roof",
        "loss",
        "peak MiB",
        "ref MiB",
        "ratio",
        "RSS MiB"
    )?;
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.1}", 100.0 * v));
    for row in &r.results {
        writeln!(
            out,
            "{:<6} {:>4} {:>3} {:>10.3} {:>8.2} {:>7.2} {:>7} {:>7} {:>7} {:>10.6} {:>9.1} {:>9.1} {:>6.2} {:>9.1}",
            format!("{:?}", row.solver).to_lowercase(),
            row.k,
            row.threads,
            row.sec_per_iter * 1e3,
            row.gflops,
            row.gbps,
            pct(row.frac_flops),
            pct(row.frac_bandwidth),
            pct(row.frac_roofline),
            row.final_loss,
            mib(row.footprint_bytes),
            mib(row.reference_bytes),
            row.footprint_ratio,
            mib(row.peak_rss_bytes)
        )?;
        if let Some(target) = row.until_error {
            match (row.seconds_to_error, row.iterations_to_error) {
                (Some(s), Some(it)) => writeln!(
                    out,
                    "       relative error ≤ {target} after {it} iterations, {s:.3} s (initialization included)"
                )?,
                _ => writeln!(out, "       relative error {target} not reached")?,
            }
        }
    }
    writeln!(
        out,
        "ms/iter: best of the repeats' means over {} iterations (the first, with the initialization, excluded); \
         peak = X + Xᵀ + peak heap allocated by the fit; ref = X + Xᵀ + W + Hᵀ; \
         RSS: peak resident set during the fit, mapped pages and everything else in the process included",
        r.results.first().map_or(0, |row| row.iters_timed)
    )
}
