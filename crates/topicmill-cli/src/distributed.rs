//! `topicmill fit --distributed`: the fit over MPI ranks, launched as
//! `mpirun -np P topicmill fit --distributed …`. Needs a build with the cargo
//! feature `mpi` (`cargo build --release --features mpi -p topicmill-cli`);
//! the default build has the flags but explains how to get the feature.

use std::path::PathBuf;

use anyhow::Result;

use crate::fit;

/// The flags of a distributed fit (part of `topicmill fit`).
#[derive(Debug, Default, clap::Args)]
pub struct DistArgs {
    /// Fit over MPI ranks: `mpirun -np P topicmill fit --distributed …` (needs a
    /// build with `--features mpi`). Rank 0 writes the model and the outputs.
    #[arg(long, conflicts_with = "warm_start")]
    pub distributed: bool,
    /// With --distributed: write a resumable checkpoint every N iterations.
    #[arg(long, value_name = "N", default_value_t = 0, requires = "distributed")]
    pub checkpoint_every: usize,
    /// The checkpoint file [default: the model path with ".ckpt" appended].
    #[arg(long, value_name = "FILE", requires = "distributed")]
    pub checkpoint: Option<PathBuf>,
    /// Start from the checkpoint instead of the initialization.
    #[arg(long, requires = "distributed")]
    pub resume: bool,
}

/// Runs `topicmill fit --distributed`.
#[cfg(not(feature = "mpi"))]
pub fn run(_args: fit::Args) -> Result<()> {
    anyhow::bail!(
        "--distributed: this topicmill was built without MPI support; rebuild with --features mpi \
         (cargo build --release --features mpi -p topicmill-cli)"
    )
}

/// Runs `topicmill fit --distributed`. Errors are printed here (the rank that
/// failed names the cause; of the ranks that stop because another one failed,
/// only rank 0 says so), then the process exits 1 once MPI is finalized.
///
/// Every rank prints before `MPI_Finalize`, which waits for all ranks: a rank
/// that printed after it could be killed first by `mpirun`, which aborts the
/// job as soon as one process (rank 0, say) has exited non-zero, and its
/// message would be lost.
#[cfg(feature = "mpi")]
pub fn run(args: fit::Args) -> Result<()> {
    use topicmill_mpi::mpi::{self, traits::Communicator};

    let Some((universe, _)) = mpi::initialize_with_threading(mpi::Threading::Funneled) else {
        anyhow::bail!("MPI was already initialized");
    };
    let world = universe.world();
    let rank = world.rank();
    let result = mpi_fit::run(&world, args);
    let failed = result.is_err();
    if let Err(err) = result {
        let echo = err
            .downcast_ref::<topicmill_mpi::DistError>()
            .is_some_and(|e| e.is_peer_failure());
        if !echo || rank == 0 {
            // One write of the whole line: `mpirun` merges the ranks' stderr
            // into one stream, and `eprintln!` writes a line piece by piece
            // (stderr is unbuffered), so another rank's line could land in
            // the middle of it (seen in CI: rank 0's line inside rank 1's).
            use std::io::Write;
            let line = format!("error: {}\n", crate::message(&err));
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
    }
    drop(universe); // MPI_Finalize, before any exit
    if failed {
        std::process::exit(1);
    }
    Ok(())
}

#[cfg(feature = "mpi")]
mod mpi_fit {
    use std::io::Write;

    use anyhow::{Context, Result};
    use topicmill_mpi::mpi::topology::SimpleCommunicator;
    use topicmill_mpi::mpi::traits::Communicator;
    use topicmill_mpi::{agree, fit_distributed, DistOptions};
    use topicmill_sparse::Corpus;

    use crate::fit;
    use crate::nmf_args::FitProgress;
    use crate::output::frobenius_norm;

    pub fn run(world: &SimpleCommunicator, args: fit::Args) -> Result<()> {
        let rank = world.rank();
        let params = args.nmf.params();
        let checkpoint = args.dist.checkpoint.clone().unwrap_or_else(|| {
            let mut p = args.output.clone().into_os_string();
            p.push(".ckpt");
            p.into()
        });
        let opts = DistOptions {
            checkpoint: Some(checkpoint.clone()),
            checkpoint_every: args.dist.checkpoint_every,
            resume: args.dist.resume,
        };
        // Rank 0 alone writes the outputs: it checks them before the fit
        // (none is the corpus or inside it, the checkpoint is not the model;
        // whether the checkpoint can be written is the fit's own check), and
        // every rank learns the verdict, so that all stop at once rather
        // than some waiting in the fit's collectives.
        let check = if rank == 0 {
            let inputs: &[&std::path::Path] = &[&args.corpus];
            args.outputs
                .check_against(Some(&args.output), None, inputs)
                .and_then(|()| {
                    crate::output::check_apart(&[Some(&args.output), Some(&checkpoint)], inputs)
                })
        } else {
            Ok(())
        };
        agree(world, check)?;
        let start = std::time::Instant::now();
        let outcome = {
            // Progress and logs from rank 0 only.
            let bar = (rank == 0).then(|| FitProgress::new(args.nmf.max_iter));
            let mut callback = bar.as_ref().map(|b| b.callback());
            fit_distributed(world, &args.corpus, &params, &opts, |p| {
                if let Some(cb) = callback.as_mut() {
                    let _ = cb(p);
                }
            })
            .with_context(|| format!("cannot fit {} over MPI", args.corpus.display()))?
        };
        let seconds = start.elapsed().as_secs_f64();
        let Some(mut model) = outcome.model else {
            return Ok(());
        };
        let corpus = Corpus::open(&args.corpus)
            .with_context(|| format!("cannot open corpus {}", args.corpus.display()))?;
        model.set_vocabulary(Some(corpus.vocabulary().to_vec()));
        model.set_vectorizer(crate::fitted::record_for_fit(&corpus, &args.corpus));
        args.outputs
            .write(Some(&args.output), &model, corpus.doc_ids(), None)?;
        if opts.checkpoint_every > 0 || opts.resume {
            // The model supersedes the checkpoint.
            let _ = std::fs::remove_file(&checkpoint);
        }
        let norm = frobenius_norm(&corpus.matrix());
        writeln!(
            std::io::stdout().lock(),
            "{}",
            crate::fit::fit_summary(
                &model,
                norm,
                seconds,
                &args.output,
                Some((world.size(), outcome.resumed_from)),
            )
        )?;
        if let Some(note) = crate::fit::final_w_note(&model) {
            eprintln!("warning: {note}");
        }
        Ok(())
    }
}
