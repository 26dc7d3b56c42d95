//! `topicmill`: sparse NMF topic modelling from the command line.
//!
//! Exit codes: 0 on success, 1 on a user error (one line on stderr), 2 on a usage
//! error (clap's own). A closed stdout pipe (`topicmill … | head`) is not an error.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod align;
mod bench;
mod demo;
mod distributed;
mod evaluate;
mod fetch;
mod fit;
mod fitted;
mod generate;
mod import;
mod inspect;
mod interrupt;
mod lsi;
mod naming;
mod nmf_args;
mod output;
mod report;
mod svg;
mod sweep;
mod topics;
mod transform;
mod vectorize;
mod warm;

/// Counts heap bytes so that `topicmill bench` reports a fit's exact footprint.
#[global_allocator]
static ALLOCATOR: bench::counting_alloc::Counting = bench::counting_alloc::Counting;

/// Sparse non-negative matrix factorization for topic modelling.
#[derive(Debug, Parser)]
#[command(name = "topicmill", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Import a MatrixMarket or UCI bag-of-words file as a corpus directory.
    Import(import::Args),
    /// Show shape, density and non-zero statistics of a corpus (--verify: full check).
    Inspect(inspect::Args),
    /// Turn a corpus into a TF-IDF matrix (scikit-learn's TfidfVectorizer).
    Vectorize(vectorize::Args),
    /// Factorize a corpus: X ≈ W·H (MU, HALS or KL-MU), write the model.
    Fit(fit::Args),
    /// Print a model's top words per topic (table, JSON or CSV).
    Topics(topics::Args),
    /// Solve for the topic weights of a corpus's documents with a model's H fixed.
    Transform(transform::Args),
    /// Latent semantic indexing: signed top words of a truncated SVD, beside NMF's topics.
    Lsi(lsi::Args),
    /// Score a model: NPMI coherence, diversity, reconstruction error, clustering vs labels.
    Evaluate(evaluate::Args),
    /// Write a self-contained HTML report of a model.
    Report(report::Args),
    /// Fit a range of k with several seeds, score them, and recommend a k.
    Sweep(sweep::Args),
    /// The seed experiment: 20 Newsgroups, 4 categories, TF-IDF, NMF k=4, topic table.
    Demo(demo::Args),
    /// Write a synthetic corpus (planted topics, Zipf term frequencies) of any shape.
    Generate(generate::Args),
    /// Time NMF iterations on a workload: GFLOP/s, GB/s, fraction of the machine's limit.
    Bench(bench::Args),
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Import(args) => import::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Vectorize(args) => vectorize::run(args),
        Command::Fit(args) => fit::run(args),
        Command::Topics(args) => topics::run(args),
        Command::Transform(args) => transform::run(args),
        Command::Lsi(args) => lsi::run(args),
        Command::Evaluate(args) => evaluate::run(args),
        Command::Report(args) => report::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Bench(args) => bench::run(args),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", message(&err));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes on one line. Library errors often repeat their
/// source in their own message (so that they read well alone): a cause already
/// spelled out by the message before it is not printed twice.
pub(crate) fn message(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.is_empty() {
            line = text;
        } else if !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}

/// `topicmill topics model | head` closes our stdout early: that is the reader's
/// choice, not a failure.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
