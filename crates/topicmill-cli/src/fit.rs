//! `topicmill fit`: factorize a corpus directory and save the model.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use topicmill_nmf::NmfModel;
use topicmill_sparse::Corpus;

use crate::nmf_args::{FitProgress, NmfArgs};
use crate::output::{frobenius_norm, save_model, write_atomic, write_doc_topics, write_npy};

/// Fit NMF topics on a corpus directory and save the model.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Corpus directory (from `topicmill import` or `topicmill vectorize`).
    pub corpus: PathBuf,
    #[command(flatten)]
    pub nmf: NmfArgs,
    /// Where to write the model.
    #[arg(short, long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub outputs: FitOutputs,
    #[command(flatten)]
    pub warm: crate::warm::WarmArgs,
    #[command(flatten)]
    pub dist: crate::distributed::DistArgs,
}

/// Optional per-fit outputs, shared with `demo`.
#[derive(Debug, Default, clap::Args)]
pub struct FitOutputs {
    /// Write the loss history: CSV (`iteration,loss`), or JSON when the name ends in `.json`.
    #[arg(long, value_name = "FILE")]
    pub loss_history: Option<PathBuf>,
    /// Write each document's dominant topic and topic weights as CSV.
    #[arg(long, value_name = "FILE")]
    pub doc_topics: Option<PathBuf>,
    /// Write W (documents × topics) as a NumPy .npy file.
    #[arg(long, value_name = "FILE")]
    pub w_npy: Option<PathBuf>,
    /// Write H (topics × terms) as a NumPy .npy file.
    #[arg(long, value_name = "FILE")]
    pub h_npy: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    if args.dist.distributed {
        return crate::distributed::run(args);
    }
    let corpus = Corpus::open(&args.corpus)
        .with_context(|| format!("cannot open corpus {}", args.corpus.display()))?;
    let params = args.nmf.params();
    let previous = match &args.warm.warm_start {
        Some(path) => Some(crate::warm::load_previous(path, &corpus, args.nmf.k)?),
        None => None,
    };
    let start = Instant::now();
    let (model, similarity) = {
        let progress = FitProgress::new(args.nmf.max_iter);
        let (mut model, similarity) = match &previous {
            Some(previous) => crate::warm::fit(&params, &corpus, previous, progress.callback())?,
            None => (
                params
                    .fit_with(
                        &corpus.matrix(),
                        Some(&corpus.transpose()),
                        progress.callback(),
                    )
                    .with_context(|| format!("cannot fit {}", args.corpus.display()))?,
                Vec::new(),
            ),
        };
        model.set_vocabulary(Some(corpus.vocabulary().to_vec()));
        (model, similarity)
    };
    let seconds = start.elapsed().as_secs_f64();
    save_model(&args.output, &model)?;
    if let Some(previous) = &previous {
        crate::warm::report(
            &args.warm,
            previous,
            &model,
            corpus.vocabulary(),
            &similarity,
            &args.output,
        )?;
    }
    args.outputs.write(&model, corpus.doc_ids())?;

    let norm = frobenius_norm(&corpus.matrix());
    writeln!(
        std::io::stdout().lock(),
        "{}",
        fit_summary(&model, norm, seconds, &args.output, None)
    )?;
    Ok(())
}

/// The line `fit` prints at the end; `distributed` is `Some((ranks,
/// resumed_from))` for a distributed fit (`resumed_from` 0 when not resumed).
pub(crate) fn fit_summary(
    model: &NmfModel,
    x_norm: f64,
    seconds: f64,
    output: &Path,
    distributed: Option<(i32, usize)>,
) -> String {
    let (over, resumed) = match distributed {
        Some((ranks, 0)) => (format!(" over {ranks} MPI ranks"), String::new()),
        Some((ranks, from)) => (
            format!(" over {ranks} MPI ranks"),
            format!(", resumed from iteration {from}"),
        ),
        None => (String::new(), String::new()),
    };
    format!(
        "fitted k={} on {} documents × {} terms{over}: {} iterations ({:?}{resumed}), relative error {:.6}, {seconds:.3} s; model in {}",
        model.k(),
        model.n_docs(),
        model.n_features(),
        model.iterations(),
        model.stop_reason(),
        model.reconstruction_err() / x_norm,
        output.display()
    )
}

impl FitOutputs {
    /// Writes every output that was asked for.
    pub fn write(&self, model: &NmfModel, doc_ids: &[String]) -> Result<()> {
        if let Some(path) = &self.loss_history {
            write_loss_history(path, model.loss_history())?;
        }
        if let Some(path) = &self.doc_topics {
            write_doc_topics(path, doc_ids, model.w(), model.k())?;
        }
        if let Some(path) = &self.w_npy {
            write_npy(path, model.w(), model.n_docs(), model.k())?;
        }
        if let Some(path) = &self.h_npy {
            write_npy(path, &model.h(), model.k(), model.n_features())?;
        }
        Ok(())
    }
}

fn write_loss_history(path: &Path, history: &[(usize, f64)]) -> Result<()> {
    let json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    write_atomic(path, |out| {
        if json {
            let rows: Vec<_> = history
                .iter()
                .map(|&(iteration, loss)| serde_json::json!({"iteration": iteration, "loss": loss}))
                .collect();
            serde_json::to_writer_pretty(&mut *out, &rows)?;
            writeln!(out)
        } else {
            writeln!(out, "iteration,loss")?;
            history
                .iter()
                .try_for_each(|(iteration, loss)| writeln!(out, "{iteration},{loss}"))
        }
    })
}
