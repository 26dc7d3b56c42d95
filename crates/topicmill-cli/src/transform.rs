//! `topicmill transform`: topic weights of new documents under a saved model.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use topicmill_sparse::Corpus;

use crate::output::{check_outputs, commit_all, doc_topics, load_model_without_w, npy, stage_all};

/// Topic weights of a corpus's documents under a fitted model (H fixed).
///
/// The corpus must use the model's vocabulary (vectorize new text with
/// `topicmill vectorize --vectorizer-from MODEL`, or `--vocabulary-from MODEL
/// --no-new-terms`): its columns are the model's terms.
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
    let model = load_model_without_w(&args.model)?;
    let corpus = Corpus::open(&args.corpus)
        .with_context(|| format!("cannot open corpus {}", args.corpus.display()))?;
    if let Some(vocabulary) = model.vocabulary() {
        let ours = corpus.vocabulary();
        if vocabulary != ours {
            let through = match model.vectorizer() {
                Some(_) => format!(
                    "the vectorizer the model records (`topicmill vectorize … \
                     --vectorizer-from {}`)",
                    args.model.display()
                ),
                None => "the vectorizer of the corpus the model was fitted on (`topicmill \
                         vectorize … --vectorizer-from CORPUS`)"
                    .to_string(),
            };
            let how = format!(
                "vectorize the documents with {through}, or onto the model's vocabulary alone \
                 (`topicmill vectorize … --vocabulary-from {} --no-new-terms`)",
                args.model.display()
            );
            match vocabulary.iter().zip(ours).position(|(a, b)| a != b) {
                Some(j) if vocabulary.len() == ours.len() => bail!(
                    "corpus {} has {} terms, as many as the model, but its column {} is {:?} \
                     where the model has {:?}; {how}",
                    args.corpus.display(),
                    ours.len(),
                    j + 1,
                    ours[j],
                    vocabulary[j]
                ),
                _ => bail!(
                    "corpus {} has a vocabulary of {} terms, the model {}; {how}",
                    args.corpus.display(),
                    ours.len(),
                    vocabulary.len()
                ),
            }
        }
    }
    let outputs = [Some(args.output.as_path()), args.w_npy.as_deref()];
    check_outputs(&outputs, &[&args.model, &args.corpus])?;
    corpus
        .check_values()
        .with_context(|| format!("cannot transform {}", args.corpus.display()))?;
    let w = model
        .transform(&corpus.matrix())
        .with_context(|| format!("cannot transform {}", args.corpus.display()))?;
    let [mut csv, mut w_npy] = stage_all(outputs)?;
    let (ids, k) = (corpus.doc_ids(), model.k());
    if let Some(file) = &mut csv {
        file.write(|out| doc_topics(out, ids, &w, k))?;
    }
    if let Some(file) = &mut w_npy {
        file.write(|out| npy(out, &w, ids.len(), k))?;
    }
    commit_all([csv, w_npy])?;
    writeln!(
        std::io::stdout().lock(),
        "{} documents → {}",
        corpus.doc_ids().len(),
        args.output.display()
    )?;
    Ok(())
}
