//! `topicmill inspect`: shape, density and per-row/column statistics of a corpus
//! directory or a single matrix file; what a model file holds.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;
use topicmill_nmf::{NmfError, NmfModel};
use topicmill_sparse::{Corpus, MappedMatrix};

use crate::output::print_report;

/// Describe a corpus directory (or a bare .csr matrix file): shape, non-zeros,
/// density, bytes on disk, per-row and per-column non-zero statistics, empty rows
/// and columns. Opening checks the header and structure; --verify adds the full
/// check (checksums, values, and that the stored transpose matches). For a
/// model file (from `topicmill fit`): its shape, parameters, how its fit
/// ended, and whether it records its vocabulary and its vectorizer.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Corpus directory, matrix file or model file.
    #[arg(value_name = "PATH")]
    path: PathBuf,

    /// Also run the full verification (reads every byte).
    #[arg(long)]
    verify: bool,

    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Non-zeros per row (or column).
#[derive(Debug, Serialize, PartialEq)]
struct Stats {
    min: u64,
    median: f64,
    mean: f64,
    max: u64,
    empty: u64,
}

impl Stats {
    fn of(mut counts: Vec<u64>) -> Stats {
        let n = counts.len();
        if n == 0 {
            return Stats {
                min: 0,
                median: 0.0,
                mean: 0.0,
                max: 0,
                empty: 0,
            };
        }
        let empty = counts.iter().filter(|&&c| c == 0).count() as u64;
        let total: u64 = counts.iter().sum();
        let min = *counts.iter().min().expect("non-empty");
        let max = *counts.iter().max().expect("non-empty");
        let (_, &mut upper, _) = counts.select_nth_unstable(n / 2);
        let median = if n % 2 == 1 {
            upper as f64
        } else {
            // The lower middle is the largest of the elements left of n/2.
            let lower = *counts[..n / 2].iter().max().expect("n >= 2");
            (lower as f64 + upper as f64) / 2.0
        };
        Stats {
            min,
            median,
            mean: total as f64 / n as f64,
            max,
            empty,
        }
    }
}

#[derive(Debug, Serialize)]
struct Report {
    path: String,
    kind: &'static str,
    rows: u64,
    cols: u64,
    nnz: u64,
    density: f64,
    bytes_on_disk: u64,
    row_nnz: Stats,
    col_nnz: Stats,
    verified: bool,
    /// A corpus whose manifest records no checksums of its text files (one
    /// written before they were): `verify` could not check those.
    text_files_unchecked: bool,
}

/// What a model file holds.
#[derive(Debug, Serialize)]
struct ModelReport {
    path: String,
    kind: &'static str,
    k: usize,
    documents: usize,
    terms: usize,
    params: serde_json::Value,
    iterations: usize,
    stop_reason: String,
    /// `‖X − WH‖` (or its KL counterpart) of the fitted documents.
    reconstruction_err: f64,
    vocabulary: bool,
    /// The recorded vectorizer's options (`vectorize --vectorizer-from MODEL`).
    vectorizer: Option<serde_json::Value>,
    bytes_on_disk: u64,
}

/// The model at `path`, or `None` when the file is not a model.
fn model_report(path: &Path) -> anyhow::Result<Option<ModelReport>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let bytes_on_disk = file.metadata()?.len();
    let model = match NmfModel::load_without_w(std::io::BufReader::new(file)) {
        Ok(model) => model,
        Err(NmfError::NotAModel) => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read model {}", path.display())),
    };
    let vectorizer = match model.vectorizer() {
        Some(record) => Some(
            serde_json::from_str(&record.options)
                .with_context(|| format!("model {}: the recorded options", path.display()))?,
        ),
        None => None,
    };
    Ok(Some(ModelReport {
        path: path.display().to_string(),
        kind: "model",
        k: model.k(),
        documents: model.n_docs(),
        terms: model.n_features(),
        params: serde_json::to_value(model.params())?,
        iterations: model.iterations(),
        stop_reason: format!("{:?}", model.stop_reason()),
        reconstruction_err: model.reconstruction_err(),
        vocabulary: model.vocabulary().is_some(),
        vectorizer,
        bytes_on_disk,
    }))
}

fn print_model(out: &mut impl Write, r: &ModelReport) -> std::io::Result<()> {
    let yes = |b: bool| if b { "recorded" } else { "not recorded" };
    writeln!(out, "{:<10} {}", r.kind, r.path)?;
    writeln!(out, "topics     {}", r.k)?;
    writeln!(
        out,
        "fitted on  {} documents x {} terms",
        r.documents, r.terms
    )?;
    writeln!(out, "params     {}", r.params)?;
    writeln!(
        out,
        "fit        {} iterations ({}), reconstruction error {}",
        r.iterations, r.stop_reason, r.reconstruction_err
    )?;
    writeln!(out, "vocabulary {}", yes(r.vocabulary))?;
    match &r.vectorizer {
        Some(options) => writeln!(out, "vectorizer recorded: {options}")?,
        None => writeln!(out, "vectorizer {}", yes(false))?,
    }
    writeln!(
        out,
        "bytes      {} ({:.1} MiB on disk)",
        r.bytes_on_disk,
        r.bytes_on_disk as f64 / (1024.0 * 1024.0)
    )
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let path = &args.path;
    if !path.is_dir() {
        if let Some(model) = model_report(path)? {
            if args.verify {
                anyhow::bail!(
                    "--verify checks corpora and matrix files; {} is a model (loading it \
                     checked it)",
                    path.display()
                );
            }
            return print_report(&model, args.json, print_model);
        }
    }
    let report = if path.is_dir() {
        let corpus = Corpus::open(path).context("cannot open the corpus")?;
        if args.verify {
            corpus.verify().context("verification failed")?;
        }
        let x = corpus.matrix();
        Report {
            path: path.display().to_string(),
            kind: "corpus",
            rows: x.rows() as u64,
            cols: x.cols() as u64,
            nnz: x.nnz() as u64,
            density: density(x.nnz(), x.rows(), x.cols()),
            bytes_on_disk: dir_size(path)?,
            row_nnz: Stats::of(lengths(&x.proper_indptr())),
            col_nnz: Stats::of(lengths(&corpus.transpose().proper_indptr())),
            verified: args.verify,
            text_files_unchecked: args.verify && corpus.manifest().text_crc32.is_empty(),
        }
    } else {
        let m = MappedMatrix::open(path).context("cannot open the matrix")?;
        if args.verify {
            m.verify().context("verification failed")?;
        }
        let x = m.view();
        let mut per_col = vec![0u64; x.cols()];
        for &c in x.indices() {
            per_col[c as usize] += 1;
        }
        Report {
            path: path.display().to_string(),
            kind: "matrix",
            rows: x.rows() as u64,
            cols: x.cols() as u64,
            nnz: x.nnz() as u64,
            density: density(x.nnz(), x.rows(), x.cols()),
            bytes_on_disk: m.file_len(),
            row_nnz: Stats::of(lengths(&x.proper_indptr())),
            col_nnz: Stats::of(per_col),
            verified: args.verify,
            text_files_unchecked: false,
        }
    };
    print_report(&report, args.json, print_text)
}

fn print_text(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    writeln!(out, "{:<9} {}", r.kind, r.path)?;
    writeln!(out, "shape     {} x {}", r.rows, r.cols)?;
    writeln!(out, "nnz       {}", r.nnz)?;
    writeln!(
        out,
        "density   {:.6} ({:.4}%)",
        r.density,
        100.0 * r.density
    )?;
    writeln!(
        out,
        "bytes     {} ({:.1} MiB on disk)",
        r.bytes_on_disk,
        r.bytes_on_disk as f64 / (1024.0 * 1024.0)
    )?;
    for (name, s) in [("row nnz", &r.row_nnz), ("col nnz", &r.col_nnz)] {
        writeln!(
            out,
            "{name:<9} min {}  median {}  mean {:.2}  max {}  empty {}",
            s.min, s.median, s.mean, s.max, s.empty
        )?;
    }
    if r.verified {
        writeln!(out, "verified  checksums, values and structure OK")?;
    }
    if r.text_files_unchecked {
        writeln!(
            out,
            "unchecked the text files (vocabulary, ids, labels): the manifest, written by an \
             older topicmill, records no checksums of them"
        )?;
    }
    Ok(())
}

fn density(nnz: usize, rows: usize, cols: usize) -> f64 {
    let cells = rows as f64 * cols as f64;
    if cells == 0.0 {
        0.0
    } else {
        nnz as f64 / cells
    }
}

fn lengths(indptr: &[u64]) -> Vec<u64> {
    indptr.windows(2).map(|w| w[1] - w[0]).collect()
}

fn dir_size(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let meta = entry?.metadata()?;
        if meta.is_file() {
            total += meta.len();
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::Stats;

    #[test]
    fn stats_against_hand_computed_values() {
        let s = Stats::of(vec![5, 0, 3, 9]);
        assert_eq!(
            s,
            Stats {
                min: 0,
                median: 4.0,
                mean: 4.25,
                max: 9,
                empty: 1
            }
        );
        let s = Stats::of(vec![7, 1, 2]);
        assert_eq!(s.median, 2.0);
        assert_eq!(Stats::of(vec![]).max, 0);
    }
}
