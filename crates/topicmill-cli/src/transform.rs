//! `topicmill transform`: topic weights of new documents under a saved model.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use topicmill_sparse::Corpus;

use crate::output::{load_model, write_doc_topics, write_npy};

/// Topic weights of a corpus's documents under a fitted model (H fixed).
///
/// The corpus must use the model's vocabulary (vectorize new text with
/// `topicmill vectorize --vocabulary-from`): its columns are the model's terms.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model file written by `topicmill fit`.
    pub model: PathBuf,
    /// Corpus directory whose columns are the model's terms.
    pub corpus: PathBuf,
    /// Per-document CSV: id, dominant topic, topic weights.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Also write W (documents × topics) as a NumPy .npy file.
    #[arg(long, value_name = "FILE")]
    pub w_npy: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let model = load_model(&args.model)?;
    let corpus = Corpus::open(&args.corpus)
        .with_context(|| format!("cannot open corpus {}", args.corpus.display()))?;
    if let Some(vocabulary) = model.vocabulary() {
        if vocabulary != corpus.vocabulary() {
            bail!(
                "corpus {} has a vocabulary of {} terms that is not the model's ({} terms): \
                 vectorize it with the model's vocabulary",
                args.corpus.display(),
                corpus.vocabulary().len(),
                vocabulary.len()
            );
        }
    }
    let w = model
        .transform(&corpus.matrix())
        .with_context(|| format!("cannot transform {}", args.corpus.display()))?;
    write_doc_topics(&args.output, corpus.doc_ids(), &w, model.k())?;
    if let Some(path) = &args.w_npy {
        write_npy(path, &w, corpus.doc_ids().len(), model.k())?;
    }
    writeln!(
        std::io::stdout().lock(),
        "{} documents → {}",
        corpus.doc_ids().len(),
        args.output.display()
    )?;
    Ok(())
}
