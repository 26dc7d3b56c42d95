//! `topicmill fit`: factorize a corpus directory and save the model.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use topicmill_nmf::NmfModel;
use topicmill_sparse::Corpus;

use crate::nmf_args::{FitProgress, NmfArgs};
use crate::output::{check_outputs, commit_all, doc_topics, frobenius_norm, npy, stage_all};

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
    args.warm.check()?;
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
    let change_report = args.warm.change_report.as_deref();
    let mut inputs = vec![args.corpus.as_path()];
    inputs.extend(args.warm.warm_start.as_deref());
    args.outputs
        .check_against(Some(&args.output), change_report, &inputs)?;
    corpus
        .check_values()
        .with_context(|| format!("cannot fit {}", args.corpus.display()))?;
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
        model.set_vectorizer(crate::fitted::record_for_fit(&corpus, &args.corpus));
        (model, similarity)
    };
    let seconds = start.elapsed().as_secs_f64();
    let report = match &previous {
        Some(previous) => Some(crate::warm::report(
            &args.warm,
            previous,
            &model,
            corpus.vocabulary(),
            &similarity,
            &args.output,
        )?),
        None => None,
    };
    let report = change_report.zip(report.as_deref());
    // Before the files: a command that fails leaves none.
    let error = fit_error(&model, &corpus.matrix())?;
    args.outputs
        .write(Some(&args.output), &model, corpus.doc_ids(), report)?;

    writeln!(
        std::io::stdout().lock(),
        "{}",
        summary(&model, &error, seconds, &args.output, None)
    )?;
    if let Some(note) = final_w_note(&model) {
        eprintln!("warning: {note}");
    }
    Ok(())
}

/// What to say when the model's error is above the last one the iterations
/// recorded by more than 1 %: the model's W is solved again from H alone (as
/// `transform` solves it, so that the two agree), and that solve stopped
/// short of the iterate (KL's slow W-only solves on near-exact fits).
pub(crate) fn final_w_note(model: &NmfModel) -> Option<String> {
    let &(iteration, last) = model.loss_history().last()?;
    let err = model.reconstruction_err();
    let p = model.params();
    (err > 1.01 * last).then(|| {
        format!(
            "the model's W, solved again with H fixed as `transform` solves it \
             (at most {} sweeps, tolerance {}), has the error {err:.6e}, above \
             iteration {iteration}'s {last:.6e}: raise --transform-max-iter or \
             lower --transform-tol to close the gap",
            p.get_transform_max_iter(),
            p.get_transform_tol()
        )
    })
}

/// The error `fit` prints: `‖X − WH‖_F / ‖X‖_F`, the relative error
/// `evaluate` reports; for a KL fit also its own measure, √(2·D_KL(X‖WH))
/// (the model's recorded error), which is not a part of ‖X‖_F.
fn fit_error(model: &NmfModel, x: &topicmill_sparse::CsrView<'_>) -> Result<String> {
    match model.params().get_loss() {
        topicmill_nmf::Loss::Frobenius => Ok(format!(
            "relative error {:.6}",
            model.reconstruction_err() / frobenius_norm(x)
        )),
        _ => {
            let factors = topicmill_eval::Factors::new(model.w(), model.ht(), model.k())?;
            let relative = topicmill_eval::reconstruction_error(x.view(), &factors)?.relative;
            Ok(format!(
                "relative error {relative:.6}, KL error √(2·D_KL) {}",
                kl_error(model)
            ))
        }
    }
}

/// The line the distributed `fit` prints at the end (its error part as
/// [`fit_error`]'s, a KL fit's √(2·D_KL) alone); `distributed` is
/// `Some((ranks, resumed_from))` (`resumed_from` 0 when not resumed).
#[cfg(feature = "mpi")]
pub(crate) fn fit_summary(
    model: &NmfModel,
    x_norm: f64,
    seconds: f64,
    output: &Path,
    distributed: Option<(i32, usize)>,
) -> String {
    let error = match model.params().get_loss() {
        topicmill_nmf::Loss::Frobenius => {
            format!("relative error {:.6}", model.reconstruction_err() / x_norm)
        }
        // √(2·D_KL(X‖WH)): not a part of ‖X‖_F.
        _ => format!("KL error √(2·D_KL) {}", kl_error(model)),
    };
    summary(model, &error, seconds, output, distributed)
}

/// A KL fit's recorded error, √(2·D_KL(X‖WH)), for the summary line (its
/// scale is the data's: 2.354872e15 rather than 16 digits).
fn kl_error(model: &NmfModel) -> String {
    let e = model.reconstruction_err();
    if e >= 1e6 {
        format!("{e:.6e}")
    } else {
        format!("{e:.6}")
    }
}

/// The line `fit` prints at the end, with its `error` part.
fn summary(
    model: &NmfModel,
    error: &str,
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
        "fitted k={} on {} documents × {} terms{over}: {} iterations ({:?}{resumed}), {error}, {seconds:.3} s; model in {}",
        model.k(),
        model.n_docs(),
        model.n_features(),
        model.iterations(),
        model.stop_reason(),
        output.display()
    )
}

impl FitOutputs {
    /// The files of a fit: the model's (`demo` writes none), the change report
    /// of a warm start, then every output asked for.
    fn paths<'a>(
        &'a self,
        model: Option<&'a Path>,
        change_report: Option<&'a Path>,
    ) -> [Option<&'a Path>; 6] {
        [
            model,
            change_report,
            self.loss_history.as_deref(),
            self.doc_topics.as_deref(),
            self.w_npy.as_deref(),
            self.h_npy.as_deref(),
        ]
    }

    /// Checks before the fit that every file can be written (see
    /// [`check_outputs`]).
    pub fn check(&self, model: Option<&Path>, change_report: Option<&Path>) -> Result<()> {
        self.check_against(model, change_report, &[])
    }

    /// [`check`](Self::check), and that no file is one of the fit's
    /// `inputs` (its corpus directory, the model it starts from) or lies
    /// inside an input directory.
    pub fn check_against(
        &self,
        model: Option<&Path>,
        change_report: Option<&Path>,
        inputs: &[&Path],
    ) -> Result<()> {
        check_outputs(&self.paths(model, change_report), inputs)
    }

    /// Writes the model (to `model_file`), the change report (path and text)
    /// and every output asked for, then moves them all into place: when one
    /// cannot be written, none is left behind.
    pub fn write(
        &self,
        model_file: Option<&Path>,
        model: &NmfModel,
        doc_ids: &[String],
        change_report: Option<(&Path, &str)>,
    ) -> Result<()> {
        let [mut file, mut report, mut loss, mut docs, mut w, mut h] =
            stage_all(self.paths(model_file, change_report.map(|(path, _)| path)))?;
        if let Some(f) = &mut file {
            f.write(|out| model.save(out).map_err(io::Error::other))?;
        }
        if let (Some(f), Some((_, text))) = (&mut report, change_report) {
            f.write(|out| writeln!(out, "{text}"))?;
        }
        if let Some(f) = &mut loss {
            let json = self
                .loss_history
                .as_deref()
                .and_then(Path::extension)
                .is_some_and(|e| e.eq_ignore_ascii_case("json"));
            f.write(|out| loss_history(out, model.loss_history(), json))?;
        }
        if let Some(f) = &mut docs {
            f.write(|out| doc_topics(out, doc_ids, model.w(), model.k()))?;
        }
        if let Some(f) = &mut w {
            f.write(|out| npy(out, model.w(), model.n_docs(), model.k()))?;
        }
        if let Some(f) = &mut h {
            f.write(|out| npy(out, &model.h(), model.k(), model.n_features()))?;
        }
        commit_all([file, report, loss, docs, w, h])
    }
}

/// The loss history: CSV (`iteration,loss`), or JSON.
fn loss_history<W: Write>(out: &mut W, history: &[(usize, f64)], json: bool) -> io::Result<()> {
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
}
