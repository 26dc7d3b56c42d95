//! `topicmill evaluate`: topic quality of a model on a corpus — NPMI
//! coherence, diversity, relative error and, with labels, NMI/ARI/purity.
//!
//! The factors come from a topicmill model, or from `.npy` files (W n × k,
//! H k × m, as scikit-learn's `W` and `components_`: `scripts/score_sklearn.py`)
//! so that two libraries' models are scored by the same code.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use serde::Serialize;
use topicmill_eval::{evaluate, EvalOptions, Evaluation, Factors, Reconstruction};
use topicmill_nmf::NmfModel;
use topicmill_sparse::Corpus;

use crate::output::{load_model, load_model_without_w};

/// Score a model's topics on a corpus: NPMI coherence, diversity, relative
/// error, and NMI/ARI/purity of the dominant topics when the corpus has labels.
#[derive(Debug, clap::Args)]
// `allow_missing_positional`: with one path alone, it is CORPUS (MODEL is
// optional before it), so that `evaluate --w-npy … --h-npy … CORPUS` parses,
// and `evaluate MODEL` alone is a usage error naming the missing argument.
#[command(
    override_usage = "topicmill evaluate [OPTIONS] MODEL CORPUS\n       \
                      topicmill evaluate [OPTIONS] --w-npy W.npy --h-npy H.npy CORPUS",
    allow_missing_positional = true
)]
pub struct Args {
    /// The model file (`topicmill fit -o`); not with --w-npy/--h-npy.
    #[arg(
        value_name = "MODEL",
        required_unless_present = "w_npy",
        conflicts_with_all = ["w_npy", "h_npy"]
    )]
    pub model: Option<PathBuf>,
    /// The corpus directory the factors are scored on.
    #[arg(value_name = "CORPUS")]
    pub corpus: PathBuf,
    /// W (documents × topics) as .npy (f4 or f8, C order), instead of a model.
    #[arg(long, value_name = "FILE", requires = "h_npy")]
    pub w_npy: Option<PathBuf>,
    /// H (topics × terms) as .npy (f4 or f8, C order), instead of a model.
    #[arg(long, value_name = "FILE", requires = "w_npy")]
    pub h_npy: Option<PathBuf>,
    /// Compute W for CORPUS's documents with the model's H fixed, instead of
    /// using the W of the documents the model was fitted on (for a corpus
    /// other than the fitted one, over the same vocabulary).
    #[arg(long, conflicts_with = "w_npy")]
    pub transform: bool,
    /// Top words per topic for NPMI coherence (at least 2: it scores pairs).
    #[arg(long, default_value_t = 10, value_parser = crate::topics::parse_pair_words)]
    pub coherence_words: usize,
    /// Top words per topic for diversity.
    #[arg(long, default_value_t = 25, value_parser = crate::topics::parse_top)]
    pub diversity_words: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The factors being scored, owned, and where they came from.
pub struct LoadedFactors {
    /// What was loaded, for the report header.
    pub source: String,
    /// W, n × k row-major.
    pub w: Vec<f32>,
    /// Hᵀ, m × k row-major.
    pub ht: Vec<f32>,
    /// Number of topics.
    pub k: usize,
    /// The error ‖X − WH‖_F the fit recorded, when W is the model's own
    /// and its loss Frobenius: [`score`] checks that the corpus gives it.
    pub fitted_error: Option<f64>,
}

pub fn run(args: Args) -> Result<()> {
    let corpus_path = &args.corpus;
    let corpus = open_corpus(corpus_path)?;
    check_values(&corpus)?;
    let factors = match (&args.model, &args.w_npy, &args.h_npy) {
        (Some(path), _, _) => {
            let model = load_model_for_factors(path, args.transform)?;
            model_factors(&model, path, &corpus, args.transform)?
        }
        (None, Some(w), Some(h)) => npy_factors(w, h)?,
        (None, _, _) => unreachable!("clap requires MODEL, or --w-npy and --h-npy together"),
    };
    let options = EvalOptions {
        coherence_words: args.coherence_words,
        diversity_words: args.diversity_words,
    };
    let evaluation = score(&corpus, &factors, &options)?;
    let vocabulary = corpus.vocabulary();
    let mut out = std::io::stdout().lock();
    if args.json {
        let report = JsonReport::new(&factors, corpus_path, &corpus, &evaluation, &options);
        // Serialized first: an io::Error from the pipe then stays an io::Error
        // (a closed pipe is not an error), not a serde_json one.
        let text = serde_json::to_string_pretty(&report)?;
        writeln!(out, "{text}")?;
    } else {
        print_text(
            &mut out,
            &factors,
            corpus_path,
            &evaluation,
            vocabulary,
            &options,
        )?;
    }
    Ok(())
}

pub fn open_corpus(path: &Path) -> Result<Corpus> {
    Corpus::open(path).with_context(|| format!("cannot open corpus {}", path.display()))
}

/// Checks that every value of the corpus's two matrix files is finite and
/// non-negative (see [`Corpus::check_values`]) before scoring with them.
pub fn check_values(corpus: &Corpus) -> Result<()> {
    corpus
        .check_values()
        .with_context(|| format!("cannot score on corpus {}", corpus.dir().display()))
}

/// The model whose factors [`model_factors`] takes: without W when
/// `transform` computes W anew.
pub fn load_model_for_factors(path: &Path, transform: bool) -> Result<NmfModel> {
    if transform {
        load_model_without_w(path)
    } else {
        load_model(path)
    }
}

/// W and Hᵀ of a topicmill model, checked against the corpus.
pub fn model_factors(
    model: &NmfModel,
    path: &Path,
    corpus: &Corpus,
    transform: bool,
) -> Result<LoadedFactors> {
    check_vocabulary(model, path, corpus)?;
    let x = corpus.matrix();
    let w = if transform {
        model
            .transform(&x)
            .with_context(|| format!("cannot transform corpus {}", corpus.dir().display()))?
    } else {
        ensure!(
            model.n_docs() == x.rows(),
            "model {} was fitted on {} documents but corpus {} has {}: pass --transform to compute W for this corpus",
            path.display(),
            model.n_docs(),
            corpus.dir().display(),
            x.rows()
        );
        model.w().to_vec()
    };
    // A KL model records √(2·D_KL), not checked.
    let frobenius = model.params().get_loss() == topicmill_nmf::Loss::Frobenius;
    Ok(LoadedFactors {
        source: path.display().to_string(),
        w,
        ht: model.ht().to_vec(),
        k: model.k(),
        fitted_error: (!transform && frobenius).then(|| model.reconstruction_err()),
    })
}

/// Checks that `model` (read from `path`) was fitted on `corpus`'s terms:
/// as many, and the same words in the same order when the model records its
/// vocabulary.
pub fn check_vocabulary(model: &NmfModel, path: &Path, corpus: &Corpus) -> Result<()> {
    ensure!(
        model.n_features() == corpus.vocabulary().len(),
        "model {} has {} terms but corpus {} has {}: use a model fitted on this corpus's vocabulary",
        path.display(),
        model.n_features(),
        corpus.dir().display(),
        corpus.vocabulary().len()
    );
    if let Some(vocabulary) = model.vocabulary() {
        if let Some(j) = (0..vocabulary.len()).find(|&j| vocabulary[j] != corpus.vocabulary()[j]) {
            bail!(
                "model {} and corpus {} differ in term {}: {:?} vs {:?}",
                path.display(),
                corpus.dir().display(),
                j + 1,
                vocabulary[j],
                corpus.vocabulary()[j]
            );
        }
    }
    Ok(())
}

/// W (n × k) and H (k × m) from .npy files, H transposed to Hᵀ.
pub fn npy_factors(w_path: &Path, h_path: &Path) -> Result<LoadedFactors> {
    let (w, n, k) = read_npy(w_path)?;
    let (h, k_h, m) = read_npy(h_path)?;
    ensure!(
        k == k_h,
        "W in {} has {k} columns (topics) but H in {} has {k_h} rows",
        w_path.display(),
        h_path.display()
    );
    let _ = n;
    let mut ht = vec![0.0f32; m * k];
    for t in 0..k {
        for j in 0..m {
            ht[j * k + t] = h[t * m + j];
        }
    }
    Ok(LoadedFactors {
        source: format!("{} + {}", w_path.display(), h_path.display()),
        w,
        ht,
        k,
        fitted_error: None,
    })
}

/// All the scores of `factors` on `corpus` (labels when it has them).
pub fn score(
    corpus: &Corpus,
    factors: &LoadedFactors,
    options: &EvalOptions,
) -> Result<Evaluation> {
    let checked = Factors::new(&factors.w, &factors.ht, factors.k)
        .with_context(|| format!("bad factors in {}", factors.source))?;
    let evaluation = evaluate(
        corpus.matrix(),
        corpus.transpose(),
        &checked,
        corpus.labels(),
        options,
    )
    .with_context(|| {
        format!(
            "cannot score {} on corpus {}",
            factors.source,
            corpus.dir().display()
        )
    })?;
    if let Some(recorded) = factors.fitted_error {
        check_fitted_on(&evaluation.reconstruction, recorded, factors, corpus)?;
    }
    Ok(evaluation)
}

/// Checks that the documents of `corpus` are those a model's own W was
/// fitted on, as far as W and the error the fit recorded (`recorded`) tell:
/// the relative error of the factors on the corpus (`here`, from the
/// scores) is the recorded one, within 0.005 (f32 rounding leaves them
/// about 3·10⁻⁴ apart at worst, on near-exact fits). Another corpus of as
/// many documents and the same terms would be scored with W rows that are
/// not its documents'.
fn check_fitted_on(
    here: &Reconstruction,
    recorded: f64,
    factors: &LoadedFactors,
    corpus: &Corpus,
) -> Result<()> {
    let recorded = recorded / here.x_norm;
    ensure!(
        here.x_norm > 0.0 && (here.relative - recorded).abs() <= 0.005,
        "model {}'s W gives corpus {} the relative error {:.6}, and the fit recorded \
         {recorded:.6}: these are not the documents it was fitted on; pass --transform to \
         compute W for this corpus",
        factors.source,
        corpus.dir().display(),
        here.relative
    );
    Ok(())
}

fn print_text<W: Write>(
    out: &mut W,
    factors: &LoadedFactors,
    corpus_path: &Path,
    e: &Evaluation,
    vocabulary: &[String],
    options: &EvalOptions,
) -> Result<()> {
    let n = factors.w.len() / factors.k;
    let m = factors.ht.len() / factors.k;
    writeln!(out, "model            {}", factors.source)?;
    writeln!(
        out,
        "corpus           {} ({n} documents × {m} terms)",
        corpus_path.display()
    )?;
    writeln!(out, "topics           {}", factors.k)?;
    writeln!(
        out,
        "coherence        {:.4}  (mean NPMI of the top {} words; pairs that never co-occur score -1)",
        e.coherence, options.coherence_words
    )?;
    writeln!(
        out,
        "diversity        {:.4}  (unique fraction of the top {} words)",
        e.diversity, options.diversity_words
    )?;
    writeln!(
        out,
        "relative error   {:.6}  (‖X − WH‖_F / ‖X‖_F)",
        e.reconstruction.relative
    )?;
    if let Some(c) = &e.clustering {
        writeln!(
            out,
            "NMI              {:.4}  (dominant topic vs {} labels)",
            c.nmi, c.classes
        )?;
        writeln!(out, "ARI              {:.4}", c.ari)?;
        writeln!(out, "purity           {:.4}", c.purity)?;
    }
    writeln!(
        out,
        "no topic         {} documents (all-zero W row; a cluster of their own)",
        e.unassigned_documents
    )?;
    writeln!(out)?;
    writeln!(out, "topic  coherence   share  top words")?;
    for (t, topic) in e.topics.iter().enumerate() {
        let words: Vec<&str> = topic
            .words
            .iter()
            .map(|&j| vocabulary[j as usize].as_str())
            .collect();
        writeln!(
            out,
            "{:>5}  {:>9.4}  {:>5.1}%  {}",
            t + 1,
            topic.coherence,
            100.0 * topic.share,
            words.join(" ")
        )?;
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonReport<'a> {
    model: &'a str,
    corpus: String,
    k: usize,
    documents: usize,
    terms: usize,
    coherence_words: usize,
    diversity_words: usize,
    coherence: f64,
    diversity: f64,
    relative_error: f64,
    reconstruction_error: f64,
    unassigned_documents: usize,
    clustering: Option<topicmill_eval::ClusterScores>,
    topics: Vec<JsonTopic<'a>>,
}

#[derive(Serialize)]
struct JsonTopic<'a> {
    topic: usize,
    coherence: f64,
    documents: usize,
    share: f64,
    words: Vec<&'a str>,
}

impl<'a> JsonReport<'a> {
    fn new(
        factors: &'a LoadedFactors,
        corpus_path: &Path,
        corpus: &'a Corpus,
        e: &Evaluation,
        options: &EvalOptions,
    ) -> Self {
        let vocabulary = corpus.vocabulary();
        JsonReport {
            model: &factors.source,
            corpus: corpus_path.display().to_string(),
            k: factors.k,
            documents: factors.w.len() / factors.k,
            terms: factors.ht.len() / factors.k,
            coherence_words: options.coherence_words,
            diversity_words: options.diversity_words,
            coherence: e.coherence,
            diversity: e.diversity,
            relative_error: e.reconstruction.relative,
            reconstruction_error: e.reconstruction.error,
            unassigned_documents: e.unassigned_documents,
            clustering: e.clustering,
            topics: e
                .topics
                .iter()
                .enumerate()
                .map(|(t, topic)| JsonTopic {
                    topic: t + 1,
                    coherence: topic.coherence,
                    documents: topic.documents,
                    share: topic.share,
                    words: topic
                        .words
                        .iter()
                        .map(|&j| vocabulary[j as usize].as_str())
                        .collect(),
                })
                .collect(),
        }
    }
}

/// Reads a 2-D NumPy array (.npy format 1.0–3.0, little-endian `<f4` or
/// `<f8`, C order) as f32, with its shape.
pub fn read_npy(path: &Path) -> Result<(Vec<f32>, usize, usize)> {
    let fail = |what: String| anyhow::anyhow!("{}: {what}", path.display());
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(fail("not a .npy file (bad magic at byte 0)".into()));
    }
    let (header_start, header_len) = match bytes[6] {
        1 => (10, usize::from(u16::from_le_bytes([bytes[8], bytes[9]]))),
        2 | 3 if bytes.len() >= 12 => (
            12,
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
        ),
        v => {
            return Err(fail(format!(
                "unsupported .npy format version {v} at byte 6"
            )))
        }
    };
    let data_start = header_start + header_len;
    let header = bytes
        .get(header_start..data_start)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| {
            fail(format!(
                "header truncated or not text (bytes {header_start}..{data_start})"
            ))
        })?;
    // A Python dict literal, padded with spaces and ended by a newline.
    let dict = header.trim_end();
    if !(dict.starts_with('{') && dict.ends_with('}')) {
        return Err(fail(format!(
            "header at byte {header_start} is not a dict literal {{…}}"
        )));
    }
    let field = |key: &str| -> Option<&str> {
        let at = header.find(&format!("'{key}'"))? + key.len() + 2;
        let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
        Some(rest)
    };
    let descr = field("descr")
        .and_then(|r| r.strip_prefix('\''))
        .and_then(|r| r.split('\'').next())
        .ok_or_else(|| fail("header has no 'descr'".into()))?;
    if !field("fortran_order").is_some_and(|r| r.starts_with("False")) {
        return Err(fail(
            "only C-order arrays are read (fortran_order must be False)".into(),
        ));
    }
    let shape: Vec<usize> = field("shape")
        .and_then(|r| r.strip_prefix('('))
        .and_then(|r| r.split(')').next())
        .map(|r| {
            r.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::parse)
                .collect::<Result<Vec<usize>, _>>()
        })
        .ok_or_else(|| fail("header has no 'shape'".into()))?
        .map_err(|e| fail(format!("bad shape in header: {e}")))?;
    let [rows, cols] = shape[..] else {
        return Err(fail(format!("expected a 2-D array, found shape {shape:?}")));
    };
    let body = &bytes[data_start..];
    let width = match descr {
        "<f4" => 4,
        "<f8" => 8,
        other => return Err(fail(format!("dtype {other:?} is not <f4 or <f8"))),
    };
    let Some(expected) = rows.checked_mul(cols).and_then(|v| v.checked_mul(width)) else {
        return Err(fail(format!(
            "shape ({rows}, {cols}) of {descr} in the header: more bytes than memory can \
             address"
        )));
    };
    if body.len() != expected {
        return Err(fail(format!(
            "data section is {} bytes at byte {data_start}, shape ({rows}, {cols}) of {descr} needs {expected}",
            body.len()
        )));
    }
    let values = if width == 4 {
        body.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    } else {
        body.chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
            .collect()
    };
    Ok((values, rows, cols))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{npy, write_atomic};

    #[test]
    fn npy_round_trip_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        write_atomic(&path, |out| npy(out, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3)).unwrap();
        assert_eq!(
            read_npy(&path).unwrap(),
            (vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3)
        );
        // f8, as numpy writes `np.save(p, np.array([[0.5], [2.0]]))`.
        let mut f8 = b"\x93NUMPY\x01\x00".to_vec();
        let mut header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 1), }".to_string();
        header.push_str(&" ".repeat(63 - (10 + header.len()) % 64));
        header.push('\n');
        f8.extend((header.len() as u16).to_le_bytes());
        f8.extend(header.as_bytes());
        f8.extend(0.5f64.to_le_bytes());
        f8.extend(2.0f64.to_le_bytes());
        std::fs::write(&path, &f8).unwrap();
        assert_eq!(read_npy(&path).unwrap(), (vec![0.5, 2.0], 2, 1));
        f8.pop();
        std::fs::write(&path, &f8).unwrap();
        let err = read_npy(&path).unwrap_err().to_string();
        assert!(err.contains("data section is 15 bytes"), "{err}");
        // A shape whose bytes overflow (3 · 2^62 · 4 wrapped to 0, the size
        // of this data section) is refused, not read as an empty array.
        let mut big = b"\x93NUMPY\x01\x00".to_vec();
        let header =
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4611686018427387904), }\n";
        big.extend((header.len() as u16).to_le_bytes());
        big.extend(header.as_bytes());
        std::fs::write(&path, &big).unwrap();
        let err = read_npy(&path).unwrap_err().to_string();
        assert!(
            err.ends_with(
                "shape (3, 4611686018427387904) of <f4 in the header: more bytes than memory can \
                 address"
            ),
            "{err}"
        );
        // A header that is not a dict literal (no closing brace).
        let mut open = b"\x93NUMPY\x01\x00".to_vec();
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 0), \n";
        open.extend((header.len() as u16).to_le_bytes());
        open.extend(header.as_bytes());
        std::fs::write(&path, &open).unwrap();
        let err = read_npy(&path).unwrap_err().to_string();
        assert!(
            err.ends_with("header at byte 10 is not a dict literal {…}"),
            "{err}"
        );
        std::fs::write(&path, b"PK\x03\x04 not numpy").unwrap();
        let err = read_npy(&path).unwrap_err().to_string();
        assert!(
            err.ends_with("not a .npy file (bad magic at byte 0)"),
            "{err}"
        );
    }
}
