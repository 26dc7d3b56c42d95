//! `topicmill vectorize`: a corpus in, a TF-IDF matrix out.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use clap::ValueEnum;
use topicmill_sparse::{CorpusWriter, CsrMatrix, MadeDirs, SparseError};
use topicmill_text::{
    DocFreq, Documents, JsonlFields, NewsgroupsOptions, Norm, Remove, StopWords, Subset,
    TfidfModel, TfidfParams, Utf8,
};

use crate::align::Alignment;
use crate::naming::PathContext;
use crate::output::{commit_all, stage_all, Staged};

/// Kinds of input corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputKind {
    /// `20news-bydate.tar.gz`, or a folder holding its extracted splits.
    #[value(name = "20news")]
    #[serde(rename = "20news")]
    Newsgroups,
    /// A folder of text files; each sub-folder's name is its files' label.
    Folder,
    /// JSON lines: one object per line with a text field.
    Jsonl,
    /// Plain text, one document per line.
    Lines,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SubsetArg {
    Train,
    Test,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RemoveArg {
    Headers,
    Footers,
    Quotes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NormArg {
    L2,
    L1,
    None,
}

/// Turn a corpus into a TF-IDF matrix, exactly as scikit-learn's
/// `TfidfVectorizer` (defaults are scikit-learn's).
#[derive(Debug, clap::Args, serde::Serialize)]
pub struct Args {
    /// The kind of input.
    #[arg(long, value_enum)]
    pub input: InputKind,
    /// The corpus: a file or folder, depending on `--input`.
    pub path: PathBuf,
    /// Write the corpus directory (matrix, transpose, vocabulary, ids, labels,
    /// manifest recording every option) here.
    #[arg(long, short, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace an existing corpus directory at `--out` (only a corpus
    /// directory: anything else there is refused, and so is an `--out` that
    /// is, holds or lies inside an input), and a previous export at
    /// `--export` (its files only; a directory holding anything else is
    /// refused).
    #[arg(long)]
    pub overwrite: bool,
    /// Keep the column numbers of a previous corpus directory or model: its
    /// terms first, in its order, then this corpus's new terms (for
    /// `topicmill fit --warm-start`). Values are those of an ordinary fit.
    #[arg(long, value_name = "CORPUS_OR_MODEL")]
    pub vocabulary_from: Option<PathBuf>,
    /// With --vocabulary-from: keep only its terms, in its order, and drop
    /// this corpus's others, as scikit-learn's `TfidfVectorizer(vocabulary=…)`
    /// does (--min-df, --max-df and --max-features then do not apply; idf and
    /// row norms come from this corpus, over those terms). The corpus then
    /// has exactly that vocabulary: what `topicmill transform` needs to score
    /// new documents with a model.
    #[arg(long, requires = "vocabulary_from")]
    pub no_new_terms: bool,
    /// Vectorize with the fitted vectorizer of a corpus directory made by
    /// `topicmill vectorize`, or of a model fitted on one (which records
    /// it): its vocabulary in its column order, its idf and its TF-IDF
    /// options, as scikit-learn's `fitted.transform(docs)` (unknown terms are
    /// dropped). The corpus then has exactly that vocabulary: what
    /// `topicmill transform` needs to score new documents with a model
    /// fitted on that corpus.
    #[arg(long, value_name = "CORPUS_OR_MODEL", conflicts_with_all = [
        "vocabulary_from", "stop_words", "min_df", "max_df", "max_features",
        "norm", "no_idf", "no_smooth_idf", "sublinear_tf", "no_lowercase",
    ])]
    pub vectorizer_from: Option<PathBuf>,
    /// Stream (lines and jsonl inputs): two passes over chunks of documents,
    /// memory bounded by the term table and one chunk, straight to `--out`
    /// (with --vectorizer-from, one pass, bounded by that vectorizer; with
    /// --vocabulary-from, the second pass goes through the first pass's
    /// vectorizer aligned on that vocabulary).
    #[arg(long)]
    pub streaming: bool,
    /// Documents per chunk with `--streaming` (at least 1).
    #[arg(long, default_value_t = 50_000, value_parser = parse_chunk_docs)]
    pub chunk_docs: usize,
    /// Also write the matrix, vocabulary, ids, labels and a manifest as text
    /// (MatrixMarket `matrix.mtx`, `vocab.txt`, `ids.txt`, `labels.txt`,
    /// `manifest.json`) into this folder: a new or empty one, or a previous
    /// export with --overwrite (never a corpus directory, nor one that is,
    /// holds or lies inside an input or `--out`).
    #[arg(long, value_name = "DIR")]
    pub export: Option<PathBuf>,

    /// 20news: the split.
    #[arg(long, value_enum, default_value = "train")]
    pub subset: SubsetArg,
    /// 20news: categories to keep, comma-separated (default all).
    #[arg(long, value_delimiter = ',')]
    pub categories: Option<Vec<String>>,
    /// 20news: what to strip, comma-separated (headers,footers,quotes).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub remove: Vec<RemoveArg>,

    /// jsonl: the text field.
    #[arg(long, default_value = "text")]
    pub text_field: String,
    /// jsonl: the id field, unique per document (default: line numbers).
    #[arg(long)]
    pub id_field: Option<String>,
    /// jsonl: the label field (default: no labels).
    #[arg(long)]
    pub label_field: Option<String>,
    /// folder, jsonl, lines: replace invalid UTF-8 with U+FFFD instead of failing.
    #[arg(long)]
    pub lossy: bool,

    /// Stop words: `english` (scikit-learn's list) or none.
    #[arg(long, value_parser = ["english", "none"], default_value = "none")]
    pub stop_words: String,
    /// Minimum document frequency: a count (`2`) or a proportion (`0.01`).
    #[arg(long, default_value = "1")]
    pub min_df: DocFreq,
    /// Maximum document frequency: a count (`500`) or a proportion (`1.0`).
    #[arg(long, default_value = "1.0")]
    pub max_df: DocFreq,
    /// Keep only this many terms, the most frequent.
    #[arg(long)]
    pub max_features: Option<usize>,
    /// Row normalization.
    #[arg(long, value_enum, default_value = "l2")]
    pub norm: NormArg,
    /// No idf weighting.
    #[arg(long)]
    pub no_idf: bool,
    /// No idf smoothing.
    #[arg(long)]
    pub no_smooth_idf: bool,
    /// 1 + ln(tf) instead of tf.
    #[arg(long)]
    pub sublinear_tf: bool,
    /// Keep case.
    #[arg(long)]
    pub no_lowercase: bool,
}

impl Args {
    fn params(&self) -> TfidfParams {
        // A fixed vocabulary takes no document-frequency limits (scikit-learn
        // ignores them when given a vocabulary).
        let (min_df, max_df, max_features) = if self.no_new_terms {
            (DocFreq::Count(1), DocFreq::Proportion(1.0), None)
        } else {
            (self.min_df, self.max_df, self.max_features)
        };
        TfidfParams::default()
            .lowercase(!self.no_lowercase)
            .stop_words((self.stop_words == "english").then_some(StopWords::English))
            .min_df(min_df)
            .max_df(max_df)
            .max_features(max_features)
            .norm(match self.norm {
                NormArg::L2 => Norm::L2,
                NormArg::L1 => Norm::L1,
                NormArg::None => Norm::None,
            })
            .use_idf(!self.no_idf)
            .smooth_idf(!self.no_smooth_idf)
            .sublinear_tf(self.sublinear_tf)
    }

    fn newsgroups(&self) -> NewsgroupsOptions {
        NewsgroupsOptions {
            subset: match self.subset {
                SubsetArg::Train => Subset::Train,
                SubsetArg::Test => Subset::Test,
                SubsetArg::All => Subset::All,
            },
            categories: self.categories.clone(),
            remove: Remove {
                headers: self.remove.contains(&RemoveArg::Headers),
                footers: self.remove.contains(&RemoveArg::Footers),
                quotes: self.remove.contains(&RemoveArg::Quotes),
            },
        }
    }

    fn utf8(&self) -> Utf8 {
        if self.lossy {
            Utf8::Lossy
        } else {
            Utf8::Strict
        }
    }
}

fn read(args: &Args) -> anyhow::Result<Documents> {
    let path = &args.path;
    let docs = match args.input {
        InputKind::Newsgroups => topicmill_text::load_20newsgroups(path, &args.newsgroups())?,
        InputKind::Folder => topicmill_text::read_folder(path, args.utf8())?,
        InputKind::Lines => topicmill_text::read_lines(path, args.utf8())?,
        InputKind::Jsonl => {
            let fields = JsonlFields {
                text: args.text_field.clone(),
                id: args.id_field.clone(),
                label: args.label_field.clone(),
            };
            topicmill_text::read_jsonl(path, &fields, args.utf8())?
        }
    };
    Ok(docs)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.out.is_none() && args.export.is_none() {
        bail!("nothing to write: give --out DIR (and/or --export DIR)");
    }
    let params = args.params();
    if args.vectorizer_from.is_none() {
        params.validate()?;
    }
    if let Some(out) = &args.out {
        check_out(&args, out)?;
        crate::interrupt::remove_unfinished_outputs_on_signal();
    }
    if let Some(export) = &args.export {
        check_export(&args, export)?;
    }
    if let Some(dir) = &args.vectorizer_from {
        let fitted = crate::fitted::vectorizer(dir)?;
        return vectorize_with(&args, dir, &fitted);
    }
    let started = Instant::now();
    let progress = indicatif::ProgressBar::new_spinner();
    progress.enable_steady_tick(std::time::Duration::from_millis(120));
    // The vocabulary the corpus is aligned on (--vocabulary-from).
    let previous = match &args.vocabulary_from {
        Some(path) => Some((path, crate::align::previous_vocabulary(path)?)),
        None => None,
    };
    if args.streaming {
        let onto = previous.as_ref().map(|(path, vocabulary)| Onto {
            path,
            vocabulary,
            no_new_terms: args.no_new_terms,
        });
        return stream(
            &args,
            Streamed::Fit(&params, onto),
            manifest(&args, &params, 0, 0, 0),
            &progress,
        );
    }
    // With --no-new-terms the fit is on the previous vocabulary itself, as
    // scikit-learn's `TfidfVectorizer(vocabulary=…)`.
    let fixed = match &previous {
        Some((_, vocabulary)) if args.no_new_terms => Some(vocabulary.as_slice()),
        _ => None,
    };
    let (docs, model, matrix, matched, read_secs) = if args.input == InputKind::Newsgroups {
        // Reading and vectorizing overlap: blocks are counted as they inflate.
        progress.set_message(format!("reading and vectorizing {}", args.path.display()));
        let options = args.newsgroups();
        let fitted = match &fixed {
            Some(vocabulary) => params
                .fit_transform_20newsgroups_with_vocabulary(vocabulary, &args.path, &options)
                .map(|(docs, model, matrix, matched)| (docs, model, matrix, Some(matched))),
            None => params
                .fit_transform_20newsgroups_without_texts(&args.path, &options)
                .map(|(docs, model, matrix)| (docs, model, matrix, None)),
        };
        let (docs, model, matrix, matched) = fitted.path_context(&args.path, || {
            format!("reading and vectorizing {}", args.path.display())
        })?;
        (docs, model, matrix, matched, None)
    } else {
        let (docs, read_secs) = read_checked(&args, &progress)?;
        progress.set_message(format!("vectorizing {} documents", docs.len()));
        let fitted = match &fixed {
            Some(vocabulary) => params
                .fit_transform_with_vocabulary(vocabulary, &docs.texts)
                .map(|(model, matrix, matched)| (model, matrix, Some(matched))),
            None => params
                .fit_transform(&docs.texts)
                .map(|(model, matrix)| (model, matrix, None)),
        };
        let (model, matrix, matched) = fitted.path_context(&args.path, || {
            format!("vectorizing {}", args.path.display())
        })?;
        (docs, model, matrix, matched, Some(read_secs))
    };
    let aligned = match (&previous, matched) {
        (Some((path, vocabulary)), Some(matched)) => {
            Alignment::restricted(matched).report(path, vocabulary.len(), &progress);
            None
        }
        (Some((path, vocabulary)), None) => {
            let aligned =
                crate::align::extend_vocabulary(vocabulary, model.vocabulary(), matrix.view())?;
            let alignment = Alignment::Extended {
                unused: aligned.unused_previous_terms,
                new_terms: aligned.new_terms,
            };
            alignment.report(path, vocabulary.len(), &progress);
            Some(aligned)
        }
        (None, _) => None,
    };
    let (vocabulary, matrix) = match &aligned {
        Some(a) => (a.vocabulary.as_slice(), &a.matrix),
        None => (model.vocabulary(), &matrix),
    };
    let timing = match read_secs {
        Some(read_secs) => format!(
            "read {read_secs:.3} s, vectorize {:.3} s",
            started.elapsed().as_secs_f64() - read_secs
        ),
        None => format!(
            "read+vectorize {:.3} s, pipelined",
            started.elapsed().as_secs_f64()
        ),
    };
    let manifest = manifest(&args, &params, matrix.rows(), matrix.cols(), matrix.nnz());
    let write_secs = write_outputs(&args, vocabulary, matrix, &docs, &manifest, &progress)?;
    report(matrix, &timing, write_secs, started);
    Ok(())
}

/// Before any work: `out` is apart from the inputs and from `--export`, and
/// free (or a corpus to replace, with `--overwrite`).
fn check_out(args: &Args, out: &Path) -> anyhow::Result<()> {
    CorpusWriter::check_apart(out, &inputs(args))?;
    if let Some(export) = &args.export {
        match CorpusWriter::check_apart(out, &[export]) {
            Err(SparseError::OutputOverlapsInput { relation, .. }) => {
                let how = match relation {
                    "is" => "are the same path",
                    "contains" => "overlap (the corpus directory holds the export)",
                    _ => "overlap (the export holds the corpus directory)",
                };
                bail!(
                    "--out {} and --export {} {how}: give them separate directories",
                    out.display(),
                    export.display()
                );
            }
            other => other?,
        }
    }
    // A corpus an interrupted replace left aside is put back or named.
    crate::output::recover_set_aside(out)?;
    CorpusWriter::check_target(out, args.overwrite)?;
    Ok(())
}

/// The inputs a run reads: the corpus, `--vocabulary-from`,
/// `--vectorizer-from`.
fn inputs(args: &Args) -> Vec<&Path> {
    [
        Some(&args.path),
        args.vocabulary_from.as_ref(),
        args.vectorizer_from.as_ref(),
    ]
    .into_iter()
    .flatten()
    .map(PathBuf::as_path)
    .collect()
}

/// Before any work: `export` is apart from the inputs and can take an
/// export (see [`check_export_target`]). Apart from `--out`: [`check_out`].
fn check_export(args: &Args, export: &Path) -> anyhow::Result<()> {
    match CorpusWriter::check_apart(export, &inputs(args)) {
        Err(SparseError::OutputOverlapsInput {
            input, relation, ..
        }) => bail!(
            "--export {} {relation} the input {}: refusing to write there",
            export.display(),
            input.display()
        ),
        other => other?,
    }
    check_export_target(export, args.overwrite)
}

/// What an export directory may already be: nothing, an empty directory,
/// or (with `overwrite`) a previous export, whose files the export replaces
/// (its other entries are left alone). Anything else is refused, even with
/// `overwrite`; so is a corpus directory, whose `manifest.json` the export
/// would replace.
fn check_export_target(dir: &Path, overwrite: bool) -> anyhow::Result<()> {
    let metadata = match std::fs::metadata(dir) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => Err(e).with_context(|| format!("--export {}: cannot inspect", dir.display()))?,
    };
    if !metadata.is_dir() {
        bail!(
            "--export {}: exists and is not a directory: refusing to replace it",
            dir.display()
        );
    }
    let mut entries = std::fs::read_dir(dir)
        .with_context(|| format!("--export {}: cannot read the directory", dir.display()))?;
    if entries.next().is_none() {
        return Ok(());
    }
    let manifest = dir.join("manifest.json");
    let format = std::fs::symlink_metadata(&manifest)
        .is_ok_and(|m| m.is_file())
        .then(|| std::fs::read(&manifest).ok())
        .flatten()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok());
    let field = |name: &str| {
        format
            .as_ref()
            .and_then(|m| m.get(name))
            .and_then(serde_json::Value::as_str)
    };
    if field("format") == Some(topicmill_sparse::CORPUS_FORMAT) {
        bail!(
            "--export {}: is a corpus directory: refusing to export into it",
            dir.display()
        );
    }
    let previous_export = field("format").is_none()
        && field("created_by").is_some_and(|by| by.starts_with("topicmill vectorize"));
    match (previous_export, overwrite) {
        (true, true) => Ok(()),
        (true, false) => bail!(
            "--export {}: holds a previous export: give --overwrite to replace its files",
            dir.display()
        ),
        (false, _) => bail!(
            "--export {}: exists, is not empty and is not a previous export: refusing to write into it",
            dir.display()
        ),
    }
}

/// Reads a folder, lines or jsonl corpus, with the one-id-per-line check a
/// corpus directory needs. Returns the documents and the seconds it took.
fn read_checked(
    args: &Args,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<(Documents, f64)> {
    let started = Instant::now();
    progress.set_message(format!("reading {}", args.path.display()));
    let docs =
        read(args).path_context(&args.path, || format!("reading {}", args.path.display()))?;
    if args.out.is_some() {
        // Said before the vectorizing; the corpus writer would say it after.
        if let Err(e) = docs.check_one_per_line(0) {
            bail!(
                "reading {}: {e} (--export alone escapes it)",
                args.path.display()
            );
        }
    }
    Ok((docs, started.elapsed().as_secs_f64()))
}

/// The export, then the corpus directory (see [`Export`]).
fn write_outputs(
    args: &Args,
    vocabulary: &[String],
    matrix: &CsrMatrix,
    docs: &Documents,
    manifest: &serde_json::Value,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    // The export is written first and moved into place after the corpus
    // directory: when either cannot be written, neither is left.
    let export = match &args.export {
        Some(dir) => Some(
            Export::write(dir, vocabulary, matrix, docs, manifest, args.overwrite)
                .path_context(dir, || format!("writing {}", dir.display()))?,
        ),
        None => None,
    };
    if let Some(dir) = &args.out {
        progress.set_message(format!("writing {}", dir.display()));
        let mut writer = CorpusWriter::create(dir, matrix.cols())
            .path_context(dir, || format!("writing {}", dir.display()))?
            .overwrite(args.overwrite);
        for row in matrix.outer_iterator() {
            writer.push_row(row.indices(), row.data())?;
        }
        writer
            .finish(
                vocabulary,
                &docs.ids,
                docs.labels.as_deref(),
                manifest.clone(),
            )
            .path_context(dir, || format!("writing {}", dir.display()))?;
    }
    if let (Some(export), Some(dir)) = (export, &args.export) {
        export
            .commit()
            .path_context(dir, || format!("writing {}", dir.display()))?;
    }
    progress.finish_and_clear();
    Ok(started.elapsed().as_secs_f64())
}

/// The closing line: shape, and where the time went.
fn report(matrix: &CsrMatrix, timing: &str, write_secs: f64, started: Instant) {
    eprintln!(
        "{} documents x {} terms, {} non-zeros ({timing}, write {write_secs:.3} s, total {:.3} s)",
        matrix.rows(),
        matrix.cols(),
        matrix.nnz(),
        started.elapsed().as_secs_f64()
    );
}

/// `--vectorizer-from`: the documents through `fitted`, the vectorizer of
/// corpus or model `from`.
fn vectorize_with(args: &Args, from: &Path, fitted: &TfidfModel) -> anyhow::Result<()> {
    let started = Instant::now();
    eprintln!(
        "vectorizer of {}: {} terms ({} known to its fit), idf of {} documents",
        from.display(),
        fitted.vocabulary().len(),
        fitted.known_terms(),
        fitted.n_docs()
    );
    let progress = indicatif::ProgressBar::new_spinner();
    progress.enable_steady_tick(std::time::Duration::from_millis(120));
    let manifest_of = |rows: usize, nnz: usize| {
        let cols = fitted.vocabulary().len();
        let mut manifest = manifest(args, fitted.params(), rows, cols, nnz);
        if let Some(object) = manifest.as_object_mut() {
            object.insert(
                "vectorizer_from".into(),
                serde_json::Value::String(from.display().to_string()),
            );
        }
        manifest
    };
    if args.streaming {
        return stream(
            args,
            Streamed::Through(fitted),
            manifest_of(0, 0),
            &progress,
        );
    }
    let (docs, matrix, timing) = if args.input == InputKind::Newsgroups {
        // Reading and vectorizing overlap: blocks are transformed as they inflate.
        progress.set_message(format!("reading and vectorizing {}", args.path.display()));
        let (docs, matrix) = fitted
            .transform_20newsgroups(&args.path, &args.newsgroups())
            .path_context(&args.path, || {
                format!("reading and vectorizing {}", args.path.display())
            })?;
        let timing = format!(
            "read+vectorize {:.3} s, pipelined",
            started.elapsed().as_secs_f64()
        );
        (docs, matrix, timing)
    } else {
        let (docs, read_secs) = read_checked(args, &progress)?;
        progress.set_message(format!("vectorizing {} documents", docs.len()));
        let matrix = fitted.transform(&docs.texts);
        let timing = format!(
            "read {read_secs:.3} s, vectorize {:.3} s",
            started.elapsed().as_secs_f64() - read_secs
        );
        (docs, matrix, timing)
    };
    let manifest = manifest_of(matrix.rows(), matrix.nnz());
    let write_secs = write_outputs(
        args,
        fitted.vocabulary(),
        &matrix,
        &docs,
        &manifest,
        &progress,
    )?;
    report(&matrix, &timing, write_secs, started);
    Ok(())
}

/// The options of the run, recorded in the corpus manifest.
fn manifest(
    args: &Args,
    params: &TfidfParams,
    rows: usize,
    cols: usize,
    nnz: usize,
) -> serde_json::Value {
    let mut manifest = serde_json::json!({
        "input": args.input,
        "path": args.path,
        "newsgroups": (args.input == InputKind::Newsgroups).then(|| args.newsgroups()),
        "utf8": args.utf8(),
        "jsonl_fields": (args.input == InputKind::Jsonl).then(|| serde_json::json!({
            "text": args.text_field, "id": args.id_field, "label": args.label_field,
        })),
        "tfidf": params,
        "token_pattern": r"(?u)\b\w\w+\b",
        "unicode_version": topicmill_text::UNICODE_VERSION,
        "streaming": args.streaming.then_some(args.chunk_docs),
        "n_docs": rows,
        "n_terms": cols,
        "nnz": nnz,
        "created_by": format!("topicmill vectorize {}", env!("CARGO_PKG_VERSION")),
    });
    if let (Some(previous), Some(object)) = (&args.vocabulary_from, manifest.as_object_mut()) {
        object.insert(
            "vocabulary_from".into(),
            serde_json::Value::String(previous.display().to_string()),
        );
        object.insert("no_new_terms".into(), args.no_new_terms.into());
    }
    manifest
}

fn stream(
    args: &Args,
    how: Streamed<'_>,
    extra: serde_json::Value,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<()> {
    let dir = stream_checks(args)?;
    let started = Instant::now();
    let extra = without_shape(extra);
    let (chunks, overwrite) = (args.chunk_docs, args.overwrite);
    let written = with_source(args, dir, |source| match how {
        Streamed::Fit(params, onto) => {
            let mut said = |n| progress.set_message(format!("{n} documents processed (2 passes)"));
            topicmill_text::stream_to_corpus(
                params,
                source,
                chunks,
                dir,
                overwrite,
                extra,
                &mut said,
                |fitted, df| match &onto {
                    None => Ok(fitted),
                    Some(onto) => {
                        let (model, alignment) = crate::align::streamed_vectorizer(
                            onto.vocabulary,
                            onto.no_new_terms,
                            fitted,
                            &df,
                        )
                        .map_err(|e| topicmill_text::TextError::Rebuild(format!("{e:#}")))?;
                        alignment.report(onto.path, onto.vocabulary.len(), progress);
                        Ok(model)
                    }
                },
            )
            .map(|(_, written)| written)
        }
        Streamed::Through(fitted) => {
            let mut said = |n| progress.set_message(format!("{n} documents processed"));
            topicmill_text::stream_transform_to_corpus(
                fitted, source, chunks, dir, overwrite, extra, &mut said,
            )
        }
    })?;
    progress.finish_and_clear();
    eprintln!(
        "{} documents x {} terms, {} non-zeros (streamed, total {:.3} s)",
        written.nrows,
        written.ncols,
        written.nnz,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// What a streamed run does with its chunks.
enum Streamed<'a> {
    /// Fits a vectorizer (two passes), aligned on a previous vocabulary or
    /// not.
    Fit(&'a TfidfParams, Option<Onto<'a>>),
    /// Goes through a fitted one (`--vectorizer-from`, one pass).
    Through(&'a TfidfModel),
}

/// `--vocabulary-from`: the previous vocabulary a corpus is aligned on.
struct Onto<'a> {
    path: &'a Path,
    vocabulary: &'a [String],
    no_new_terms: bool,
}

/// What `--streaming` needs: `--out` (returned), no `--export`.
fn stream_checks(args: &Args) -> anyhow::Result<&Path> {
    let Some(dir) = &args.out else {
        bail!("--streaming writes a corpus directory: give --out DIR");
    };
    if args.export.is_some() {
        bail!("--streaming does not hold the matrix in memory: --export is not available");
    }
    Ok(dir)
}

/// A streamed manifest's extra fields: the shape is known only at the end,
/// and the corpus manifest records it.
fn without_shape(mut extra: serde_json::Value) -> serde_json::Value {
    if let Some(fields) = extra.as_object_mut() {
        for shape in ["n_docs", "n_terms", "nnz"] {
            fields.remove(shape);
        }
    }
    extra
}

/// Calls `f` with the streaming source of a lines or jsonl input, written
/// into `dir`.
fn with_source<T>(
    args: &Args,
    dir: &Path,
    f: impl FnOnce(&dyn topicmill_text::DocumentSource) -> Result<T, topicmill_text::TextError>,
) -> anyhow::Result<T> {
    let fields = JsonlFields {
        text: args.text_field.clone(),
        id: args.id_field.clone(),
        label: args.label_field.clone(),
    };
    let lines = topicmill_text::LinesSource {
        path: &args.path,
        utf8: args.utf8(),
    };
    let jsonl = topicmill_text::JsonlSource {
        path: &args.path,
        fields,
        utf8: args.utf8(),
    };
    let source: &dyn topicmill_text::DocumentSource = match args.input {
        InputKind::Lines => &lines,
        InputKind::Jsonl => &jsonl,
        _ => bail!("--streaming reads --input lines or jsonl"),
    };
    f(source).path_context(&args.path, || {
        format!("streaming {} into {}", args.path.display(), dir.display())
    })
}

/// `--export`: the matrix, vocabulary, ids, labels and manifest as text
/// files in a directory, written by [`Export::write`] and moved into place
/// together by [`Export::commit`]. Dropped before, it leaves nothing behind
/// (not even the directories it made).
struct Export {
    /// matrix.mtx, vocab.txt, ids.txt, labels.txt (when there are labels),
    /// manifest.json.
    files: [Option<Staged>; 5],
    labels_txt: PathBuf,
    /// Last: dropped after the staged files, which its directories hold.
    made: MadeDirs,
}

impl Export {
    fn write(
        dir: &Path,
        vocabulary: &[String],
        matrix: &CsrMatrix,
        docs: &Documents,
        manifest: &serde_json::Value,
        overwrite: bool,
    ) -> anyhow::Result<Self> {
        // Checked before the work, again now that the work is done.
        check_export_target(dir, overwrite)?;
        let made = MadeDirs::create(dir)?;
        let labels = docs.labels.as_deref();
        let [matrix_mtx, vocab_txt, ids_txt, labels_txt, manifest_json] = [
            "matrix.mtx",
            "vocab.txt",
            "ids.txt",
            "labels.txt",
            "manifest.json",
        ]
        .map(|n| dir.join(n));
        // Declared after `made`, the staged files drop before it on an error.
        let mut files = stage_all([
            Some(matrix_mtx.as_path()),
            Some(&vocab_txt),
            Some(&ids_txt),
            labels.map(|_| labels_txt.as_path()),
            Some(&manifest_json),
        ])?;
        let [mtx, vocab, ids, label_file, json] = &mut files;
        let lines = |out: &mut BufWriter<&File>, items: &[String]| -> std::io::Result<()> {
            for item in items {
                // Ids and labels from JSON may hold line breaks: escaped.
                let escaped = item
                    .replace('\\', "\\\\")
                    .replace('\n', "\\n")
                    .replace('\r', "\\r");
                writeln!(out, "{escaped}")?;
            }
            Ok(())
        };
        for (file, items) in [
            (vocab, Some(vocabulary)),
            (ids, Some(&docs.ids[..])),
            (label_file, labels),
        ] {
            if let (Some(file), Some(items)) = (file, items) {
                file.write(|out| lines(out, items))?;
            }
        }
        if let Some(file) = mtx {
            file.write(|out| topicmill_sparse::write_mtx_to(out, matrix.view()))?;
        }
        let text = serde_json::to_string_pretty(manifest)? + "\n";
        if let Some(file) = json {
            file.write(|out| out.write_all(text.as_bytes()))?;
        }
        Ok(Export {
            files,
            labels_txt,
            made,
        })
    }

    fn commit(self) -> anyhow::Result<()> {
        let Export {
            files,
            labels_txt,
            made,
        } = self;
        let has_labels = matches!(files, [_, _, _, Some(_), _]);
        commit_all(files)?;
        made.keep();
        if !has_labels {
            // A previous export's labels would not belong to these documents.
            match std::fs::remove_file(&labels_txt) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e)?,
                _ => {}
            }
        }
        Ok(())
    }
}

/// `--chunk-docs`: a positive number of documents.
fn parse_chunk_docs(text: &str) -> Result<usize, String> {
    crate::topics::parse_at_least(text, 1, "documents", "a chunk holds at least 1 document")
}
