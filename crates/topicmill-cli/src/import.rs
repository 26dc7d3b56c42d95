//! `topicmill import`: a MatrixMarket or UCI bag-of-words file → a corpus directory.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use clap::ArgGroup;
use topicmill_sparse::{
    read_docword, read_mtx, read_vocab, CorpusWriter, CsrMatrix, DocwordReader, SparseError,
};

/// Import a sparse matrix file into a topicmill corpus directory (the matrix, its
/// transpose, vocabulary, document ids and manifest.json). Gzip input is detected
/// by its magic bytes, whatever the file name.
#[derive(Debug, clap::Args)]
#[command(group(ArgGroup::new("input").required(true).args(["mtx", "docword"])))]
pub struct Args {
    /// MatrixMarket coordinate file (real, integer or pattern; general). Rows are
    /// documents, columns terms.
    #[arg(long, value_name = "FILE")]
    mtx: Option<PathBuf>,

    /// UCI bag-of-words file (docword.NAME.txt[.gz]: D, W, NNZ, then
    /// 'docID wordID count' lines).
    #[arg(long, value_name = "FILE")]
    docword: Option<PathBuf>,

    /// Vocabulary, one term per line, in column order. Default: vocab.NAME.txt
    /// beside docword.NAME.txt[.gz] when it exists; otherwise terms are named by
    /// their 1-based column number.
    #[arg(long, value_name = "FILE")]
    vocab: Option<PathBuf>,

    /// Output corpus directory (must not exist or be empty, unless --force;
    /// never one of the inputs, nor holding or inside one).
    #[arg(short, long, value_name = "DIR")]
    output: PathBuf,

    /// Replace an existing corpus at the output directory (only a corpus
    /// directory: anything else there is refused).
    #[arg(long)]
    force: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    // Before any reading: the output must be apart from the inputs, and
    // free (or a corpus to replace, with --force).
    let sibling = args.docword.as_deref().and_then(sibling_vocab);
    let inputs: Vec<&Path> = [&args.mtx, &args.docword, &args.vocab, &sibling]
        .into_iter()
        .flatten()
        .map(PathBuf::as_path)
        .collect();
    CorpusWriter::check_apart(&args.output, &inputs)?;
    crate::output::recover_set_aside(&args.output)?;
    CorpusWriter::check_target(&args.output, args.force)?;
    crate::interrupt::remove_unfinished_outputs_on_signal();
    let corpus_context = || format!("cannot write the corpus {}", args.output.display());
    let manifest = match (&args.mtx, &args.docword) {
        (Some(path), _) => {
            let matrix = read_mtx(path).context("cannot import the MatrixMarket file")?;
            if matrix.nnz() == 0 {
                bail!(
                    "{}: empty corpus: the matrix has no entries",
                    path.display()
                );
            }
            // Stored zeros only: as empty to a fit, which refuses it.
            if matrix.data().iter().all(|&v| v == 0.0) {
                bail!(
                    "{}: empty corpus: every one of the matrix's {} entries is 0",
                    path.display(),
                    matrix.nnz()
                );
            }
            let (vocabulary, extra) = describe(&args, "matrix-market", path, matrix.cols())?;
            let mut writer = create(&args, matrix.cols()).with_context(corpus_context)?;
            push_all(&mut writer, &matrix)?;
            let ids = doc_ids(matrix.rows(), path)?;
            writer
                .finish(&vocabulary, &ids, None, extra)
                .with_context(corpus_context)?
        }
        (None, Some(path)) => {
            // UCI files come grouped by document: stream them row by row (memory:
            // one row); fall back to reading the whole file when they are not.
            let reader = DocwordReader::open(path).context("cannot import the docword file")?;
            let header = reader.header();
            let ncols = header.nwords as usize;
            let (vocabulary, extra) = describe(&args, "uci-docword", path, ncols)?;
            // Before the rows: a header declaring more documents than memory
            // holds is refused here, at once (their row pointers would grow
            // until the system killed the process).
            let ids = doc_ids(header.ndocs as usize, path)?;
            let mut writer = create(&args, ncols).with_context(corpus_context)?;
            match reader.stream_rows(|indices, values| writer.push_row(indices, values)) {
                Ok(()) => {}
                Err(SparseError::NotGrouped { .. }) => {
                    drop(writer);
                    let matrix = read_docword(path).context("cannot import the docword file")?;
                    writer = create(&args, ncols).with_context(corpus_context)?;
                    push_all(&mut writer, &matrix)?;
                }
                Err(err) => return Err(err).context("cannot import the docword file"),
            }
            writer
                .finish(&vocabulary, &ids, None, extra)
                .with_context(corpus_context)?
        }
        (None, None) => unreachable!("clap requires --mtx or --docword"),
    };
    eprintln!(
        "imported {} x {} with {} non-zeros into {} in {:.2} s",
        manifest.nrows,
        manifest.ncols,
        manifest.nnz,
        args.output.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn create(args: &Args, ncols: usize) -> Result<CorpusWriter, SparseError> {
    Ok(CorpusWriter::create(&args.output, ncols)?.overwrite(args.force))
}

fn push_all(writer: &mut CorpusWriter, matrix: &CsrMatrix) -> Result<(), SparseError> {
    for row in matrix.outer_iterator() {
        writer.push_row(row.indices(), row.data())?;
    }
    Ok(())
}

/// The documents' ids, "1" to "n", for the corpus read from `path`;
/// an error, not an abort, when memory cannot hold them.
fn doc_ids(n: usize, path: &Path) -> anyhow::Result<Vec<String>> {
    numbered(n, path, "documents", "ids")
}

/// "1" to "n", the names of `n` `items` (documents, columns) of the matrix
/// read from `path`, or an error, not an abort, when memory cannot hold
/// them: the list and the strings' own bytes (32 each, what the allocator
/// takes for a short string) are probed first, together.
fn numbered(n: usize, path: &Path, items: &str, names: &str) -> anyhow::Result<Vec<String>> {
    let too_many = || {
        anyhow::anyhow!(
            "{}: {n} {items}: too many {names} to hold in memory",
            path.display()
        )
    };
    let mut probe: Vec<u8> = Vec::new();
    probe
        .try_reserve_exact(
            n.checked_mul(std::mem::size_of::<String>() + 32)
                .ok_or_else(too_many)?,
        )
        .map_err(|_| too_many())?;
    drop(probe);
    let mut list = Vec::new();
    list.try_reserve_exact(n).map_err(|_| too_many())?;
    list.extend((1..=n).map(|i| i.to_string()));
    Ok(list)
}

/// The vocabulary (from --vocab, the UCI sibling file, or column numbers) and the
/// manifest's provenance record.
fn describe(
    args: &Args,
    format: &str,
    input: &Path,
    ncols: usize,
) -> anyhow::Result<(Vec<String>, serde_json::Value)> {
    let vocab_path = args
        .vocab
        .clone()
        .or_else(|| args.docword.as_deref().and_then(sibling_vocab));
    let vocabulary = match &vocab_path {
        Some(path) => {
            let words = read_vocab(path).context("cannot read the vocabulary")?;
            if words.len() != ncols {
                bail!(
                    "{}: the vocabulary has {} terms but {} has {} columns",
                    path.display(),
                    words.len(),
                    input.display(),
                    ncols
                );
            }
            words
        }
        None => numbered(ncols, input, "columns", "column names")?,
    };
    let extra = serde_json::json!({
        "source": {
            "format": format,
            "matrix": input.display().to_string(),
            "vocabulary": vocab_path.as_ref().map(|p| p.display().to_string()),
        }
    });
    Ok((vocabulary, extra))
}

/// `vocab.NAME.txt` beside `docword.NAME.txt[.gz]`, if it exists.
fn sibling_vocab(docword: &Path) -> Option<PathBuf> {
    let name = docword.file_name()?.to_str()?;
    let rest = name.strip_prefix("docword.")?;
    let stem = rest
        .strip_suffix(".txt.gz")
        .or_else(|| rest.strip_suffix(".txt"))?;
    let candidate = docword.with_file_name(format!("vocab.{stem}.txt"));
    candidate.is_file().then_some(candidate)
}
