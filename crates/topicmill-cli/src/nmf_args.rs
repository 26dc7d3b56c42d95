//! The NMF options shared by `fit` and `demo`, and the progress bar that shows a
//! fit's iterations.

use std::ops::ControlFlow;
use std::time::Duration;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use topicmill_nmf::{Init, Loss, Nmf, NmfParams, Progress, Solver};

/// `--solver`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SolverArg {
    /// Lee & Seung multiplicative updates (the seed's algorithm; the only one for KL).
    Mu,
    /// Hierarchical ALS / coordinate descent: far fewer iterations.
    Hals,
}

/// `--init`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum InitArg {
    Random,
    Nndsvd,
    Nndsvda,
    Nndsvdar,
}

/// `--loss`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LossArg {
    Frobenius,
    Kl,
}

/// The estimator's parameters, as flags. Defaults are the library's unless a
/// command overrides them.
#[derive(Debug, Clone, Args)]
pub struct NmfArgs {
    /// Number of topics.
    #[arg(short = 'k', long)]
    pub k: usize,
    /// Update rule [default: hals, or mu with --loss kl].
    #[arg(long, value_enum)]
    pub solver: Option<SolverArg>,
    /// Initialization.
    #[arg(long, value_enum, default_value = "nndsvda")]
    pub init: InitArg,
    /// Objective.
    #[arg(long, value_enum, default_value = "frobenius")]
    pub loss: LossArg,
    /// Iteration cap.
    #[arg(long, default_value_t = 200)]
    pub max_iter: usize,
    /// Relative tolerance on the loss decrease, checked every 10 iterations
    /// (0 runs all iterations).
    #[arg(long, default_value_t = 1e-4, allow_negative_numbers = true)]
    pub tol: f64,
    /// Random seed (random init, NNDSVDar, the randomized SVD).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Regularization of W (scikit-learn's alpha_W).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub alpha_w: f64,
    /// Regularization of H (scikit-learn's alpha_H) [default: same as --alpha-w].
    #[arg(long, allow_negative_numbers = true)]
    pub alpha_h: Option<f64>,
    /// Mix of L1 in the regularization, 0 (L2) to 1 (L1).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub l1_ratio: f64,
    /// Stop after this many seconds (checked after each iteration; at least
    /// 1e-9, the clock's resolution).
    #[arg(
        long,
        value_name = "SECONDS",
        allow_negative_numbers = true,
        value_parser = parse_time_budget
    )]
    pub time_budget: Option<Duration>,
    /// Sweep cap of the W-only solve (H fixed) that gives the model's W, and
    /// `transform`'s for new documents: after the iterations, fit solves W
    /// again from H alone, so that `transform` of the fitted documents gives
    /// the fit's W. Raise it (or lower --transform-tol) when fit reports
    /// that solve's error above the last iteration's (slow KL solves of
    /// near-exact fits).
    #[arg(long, default_value_t = 500)]
    pub transform_max_iter: usize,
    /// Per-document tolerance of that solve: a document stops when no entry
    /// of its row moved by more than this times the row's largest (0 runs
    /// all sweeps).
    #[arg(long, default_value_t = 1e-4, allow_negative_numbers = true)]
    pub transform_tol: f64,
}

impl From<SolverArg> for Solver {
    fn from(arg: SolverArg) -> Self {
        match arg {
            SolverArg::Mu => Solver::Mu,
            SolverArg::Hals => Solver::Hals,
        }
    }
}

impl From<InitArg> for Init {
    fn from(arg: InitArg) -> Self {
        match arg {
            InitArg::Random => Init::Random,
            InitArg::Nndsvd => Init::Nndsvd,
            InitArg::Nndsvda => Init::Nndsvda,
            InitArg::Nndsvdar => Init::Nndsvdar,
        }
    }
}

impl NmfArgs {
    /// The library parameters these flags describe (validated by `fit`).
    pub fn params(&self) -> NmfParams {
        let loss = match self.loss {
            LossArg::Frobenius => Loss::Frobenius,
            LossArg::Kl => Loss::KullbackLeibler,
        };
        let solver = match (self.solver, loss) {
            (Some(SolverArg::Mu), _) | (None, Loss::KullbackLeibler) => Solver::Mu,
            (Some(SolverArg::Hals), _) | (None, _) => Solver::Hals,
        };
        Nmf::params(self.k)
            .solver(solver)
            .init(self.init.into())
            .loss(loss)
            .max_iter(self.max_iter)
            .tol(self.tol)
            .seed(self.seed)
            .alpha_w(self.alpha_w)
            .alpha_h(self.alpha_h)
            .l1_ratio(self.l1_ratio)
            .time_budget(self.time_budget)
            .transform_max_iter(self.transform_max_iter)
            .transform_tol(self.transform_tol)
    }
}

/// `--time-budget SECONDS` as a [`Duration`], one message per way it can be
/// wrong: not a number, not positive, below the nanosecond the clock (and
/// `Duration`) counts in, or beyond the largest `Duration`.
fn parse_time_budget(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    let text = text.trim();
    if seconds.is_nan() {
        return Err("NaN is not a number of seconds".to_owned());
    }
    if seconds <= 0.0 {
        return Err(format!("the time budget must be positive, got {text}"));
    }
    let budget = Duration::try_from_secs_f64(seconds).map_err(|_| {
        format!(
            "{text} seconds is too long to represent (at most {} seconds, about 584 \
             billion years)",
            Duration::MAX.as_secs()
        )
    })?;
    if budget.is_zero() {
        return Err(format!(
            "{text} seconds is below the clock's resolution of 1 nanosecond (1e-9 s)"
        ));
    }
    Ok(budget)
}

/// A progress bar over a fit's iterations, on stderr; indicatif hides it when
/// stderr is not a terminal.
pub struct FitProgress {
    bar: ProgressBar,
}

impl FitProgress {
    pub fn new(max_iter: usize) -> Self {
        let bar = ProgressBar::new(max_iter as u64).with_style(
            ProgressStyle::with_template("fit {bar:40} {pos}/{len} iterations {msg} [{elapsed}]")
                .expect("static template"),
        );
        FitProgress { bar }
    }

    /// The callback to hand to `fit_with`.
    pub fn callback(&self) -> impl FnMut(&Progress) -> ControlFlow<()> + '_ {
        |p: &Progress| {
            self.bar.set_position(p.iteration as u64);
            if let Some(loss) = p.loss {
                self.bar.set_message(format!("error {loss:.6}"));
            }
            ControlFlow::Continue(())
        }
    }
}

impl Drop for FitProgress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
