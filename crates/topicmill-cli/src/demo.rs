//! `topicmill demo`: the seed experiment in one command. The four categories of
//! 20 Newsgroups (train split, headers, footers and quotes removed), TF-IDF with
//! English stop words, NMF with k = 4, and the topic table, with the time each
//! stage took.
//!
//! The defaults are the seed's: multiplicative updates from NNDSVDa, 200
//! iterations, no early stop.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use topicmill_nmf::{Init, Nmf};
use topicmill_text::{NewsgroupsOptions, StopWords, TfidfParams, SEED_CATEGORIES};

use crate::fetch::{data_dirs_with_origins, load_checked, locate_or_download, Remote};
use crate::fit::FitOutputs;
use crate::nmf_args::{FitProgress, SolverArg};
use crate::output::{frobenius_norm, print_topics, topic_words};

/// Run the seed experiment: 20 Newsgroups (4 categories) → TF-IDF → NMF → topics.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory searched first for 20news-bydate.tar.gz (then $TOPICMILL_DATA, then ./datasets), and
    /// where it is downloaded when none has it [default: $TOPICMILL_DATA if set, else ./datasets].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Number of topics.
    #[arg(short = 'k', long, default_value_t = 4)]
    pub k: usize,
    /// Update rule.
    #[arg(long, value_enum, default_value = "mu")]
    pub solver: SolverArg,
    /// Iterations (no early stop).
    #[arg(long, default_value_t = 200)]
    pub max_iter: usize,
    /// Random seed (only the SVD sketch of the initialization uses it).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Words per topic.
    #[arg(short = 'n', long, default_value_t = 8)]
    pub top: usize,
    #[command(flatten)]
    pub outputs: FitOutputs,
}

pub fn run(args: Args) -> Result<()> {
    args.outputs.check(None, None)?;
    let stage = Instant::now();
    let (dirs, origins): (Vec<_>, Vec<_>) = data_dirs_with_origins(args.data_dir.as_deref())
        .into_iter()
        .unzip();
    let found = locate_or_download(&dirs, &Remote::from_env())?;
    let locate = stage.elapsed();
    // Which copy is read, on stderr: stdout keeps the table.
    eprintln!("{}", found.describe(origins[found.dir]));

    let stage = Instant::now();
    let docs = load_checked(&found, &NewsgroupsOptions::seed())?;
    let load = stage.elapsed();

    let stage = Instant::now();
    let (tfidf, x) = TfidfParams::default()
        .stop_words(Some(StopWords::English))
        .fit_transform(&docs.texts)
        .context("cannot vectorize the documents")?;
    let xt = topicmill_sparse::transpose(x.view());
    let vectorize = stage.elapsed();

    let stage = Instant::now();
    let solver: topicmill_nmf::Solver = args.solver.into();
    let params = Nmf::params(args.k)
        .solver(solver)
        .init(Init::Nndsvda)
        .max_iter(args.max_iter)
        .tol(0.0)
        .seed(args.seed);
    let mut model = {
        let progress = FitProgress::new(args.max_iter);
        params
            .fit_with(&x.view(), Some(&xt.view()), progress.callback())
            .context("cannot fit the model")?
    };
    let fit = stage.elapsed();
    model.set_vocabulary(Some(tfidf.vocabulary().to_vec()));
    model.set_vectorizer(Some(crate::fitted::record(
        tfidf.params(),
        false,
        xt.view(),
    )));
    args.outputs.write(None, &model, &docs.ids, None)?;

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "20 Newsgroups, train split, {} categories, headers/footers/quotes removed: {} documents × {} terms, {} non-zeros",
        SEED_CATEGORIES.len(),
        x.rows(),
        x.cols(),
        x.nnz()
    )?;
    writeln!(
        out,
        "NMF k={} ({}, NNDSVDa, {} iterations): relative error {:.6}\n",
        model.k(),
        solver,
        model.iterations(),
        model.reconstruction_err() / frobenius_norm(&x.view())
    )?;
    print_topics(&mut out, &topic_words(&model, tfidf.vocabulary(), args.top))?;
    writeln!(
        out,
        "\ntime: locate {:.3} s, read {:.3} s, vectorize {:.3} s, fit {:.3} s",
        locate.as_secs_f64(),
        load.as_secs_f64(),
        vectorize.as_secs_f64(),
        fit.as_secs_f64()
    )?;
    out.flush()?;
    Ok(())
}
