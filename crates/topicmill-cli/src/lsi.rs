//! `topicmill lsi`: latent semantic indexing (a truncated SVD of X), the
//! baseline the seed compares NMF with. Components are signed: a term can
//! count for or against a component, which is what makes LSI topics harder to
//! read than NMF's.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use topicmill_nmf::{randomized_svd, SvdOptions};
use topicmill_sparse::Corpus;

use crate::evaluate::check_vocabulary;
use crate::output::{load_model_without_w, top_indices, topic_words, write_topic_table};

/// Print LSI components (signed top words), beside an NMF model's topics.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Corpus directory.
    pub corpus: PathBuf,
    /// Number of components.
    #[arg(short = 'k', long)]
    pub k: usize,
    /// Words per component, by absolute loading.
    #[arg(short = 'n', long, default_value_t = 8, value_parser = crate::topics::parse_top)]
    pub top: usize,
    /// Seed of the randomized SVD's sketch.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// An NMF model of the same corpus whose topics to print beside LSI's.
    #[arg(long, value_name = "MODEL")]
    pub nmf: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let corpus = Corpus::open(&args.corpus)
        .with_context(|| format!("cannot open corpus {}", args.corpus.display()))?;
    // The NMF model is read and matched to the corpus before the SVD's work.
    let model = match &args.nmf {
        Some(path) => {
            let model = load_model_without_w(path)?;
            check_vocabulary(&model, path, &corpus)?;
            Some(model)
        }
        None => None,
    };
    corpus
        .check_values()
        .with_context(|| format!("cannot compute the SVD of {}", args.corpus.display()))?;
    let options = SvdOptions {
        seed: args.seed,
        ..SvdOptions::default()
    };
    let svd = randomized_svd(&corpus.matrix(), args.k, &options)
        .with_context(|| format!("cannot compute the SVD of {}", args.corpus.display()))?;
    let vocabulary = corpus.vocabulary();
    let m = vocabulary.len();

    let mut headers = Vec::new();
    let mut columns = Vec::new();
    for (c, component) in svd.vt.chunks_exact(m).enumerate() {
        headers.push(format!("LSI #{:02} (σ={:.2})", c + 1, svd.s[c]));
        let magnitudes = component.iter().map(|v| v.abs() as f32);
        columns.push(
            top_indices(magnitudes, args.top)
                .into_iter()
                .map(|j| {
                    let sign = if component[j] < 0.0 { '-' } else { '+' };
                    format!("{sign}{}", vocabulary[j])
                })
                .collect(),
        );
    }
    if let Some(model) = &model {
        for (t, words) in topic_words(model, vocabulary, args.top)
            .into_iter()
            .enumerate()
        {
            headers.push(format!("NMF #{:02}", t + 1));
            columns.push(words.into_iter().map(|(w, _)| w).collect());
        }
    }
    let mut out = std::io::stdout().lock();
    write_topic_table(&mut out, &headers, &columns)?;
    out.flush()?;
    Ok(())
}
