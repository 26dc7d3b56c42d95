//! Output files and tables shared by the subcommands: atomic writes, `.npy`
//! arrays for Python users, CSV, and the topic table of the seed experiment.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use anyhow::{bail, Context, Result};
use tempfile::NamedTempFile;
use topicmill_nmf::NmfModel;
use topicmill_sparse::{CorpusWriter, CsrView};

/// An output file in the making: a temporary file in the target's directory,
/// renamed over the target by [`Staged::commit`] and removed if dropped
/// before, or by [`remove_staged`] when the process is interrupted.
pub struct Staged {
    path: PathBuf,
    /// `None` once committed.
    tmp: Option<NamedTempFile>,
}

/// The temporary files of the outputs this process is writing, for
/// [`remove_staged`]. Its lock is held while [`commit_all`] renames a
/// command's outputs into place, so that an interrupt leaves all of them or
/// none.
static STAGED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn staged_list() -> MutexGuard<'static, Vec<PathBuf>> {
    STAGED.lock().unwrap_or_else(PoisonError::into_inner)
}

fn unlist(list: &mut Vec<PathBuf>, path: &Path) {
    if let Some(i) = list.iter().position(|p| p == path) {
        list.swap_remove(i);
    }
}

/// Removes the temporary file of every output this process is still
/// writing. For a process on its way out on a signal (SIGINT, SIGTERM),
/// where no destructor runs: it waits for a [`commit_all`] under way, and
/// from then on every output of this process blocks.
pub fn remove_staged() {
    let list = staged_list();
    for path in list.iter() {
        let _ = std::fs::remove_file(path);
    }
    // Held to the end: no output is committed after this.
    std::mem::forget(list);
}

/// Checks that `path` can name an output file: not a directory (nor a path
/// ending in a separator, which only a directory can be), and, if it exists,
/// a regular file. An output is renamed into place, which would replace a
/// device, a FIFO or a symbolic link with a regular file (`-o /dev/null`
/// run as root would delete the device).
fn check_target(path: &Path) -> Result<()> {
    let what = names_a_directory(path).or_else(|| match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Some(
            "it is a symbolic link, which the output (renamed into place) would replace; \
             give the path it points to",
        ),
        Ok(meta) if !meta.is_file() => Some(
            "it is not a regular file (a device, a FIFO or a socket), which the output \
             (renamed into place) would replace",
        ),
        _ => None,
    });
    match what {
        Some(what) => bail!("cannot write {}: {what}", path.display()),
        None => Ok(()),
    }
}

/// Why `path` names a directory, if it does: its last component, as
/// spelled, is empty (a trailing separator), `.` or `..`, or it is a
/// directory (or a link to one).
fn names_a_directory(path: &Path) -> Option<&'static str> {
    let spelled = path.as_os_str().as_encoded_bytes();
    let last = spelled
        .rsplit(|&b| std::path::is_separator(b as char))
        .next()
        .unwrap_or_default();
    if matches!(last, b"" | b"." | b"..") {
        Some("it names a directory")
    } else if path.is_dir() {
        Some("it is a directory")
    } else {
        None
    }
}

impl Staged {
    /// The temporary file of the output `path` (see [`check_target`] for
    /// the paths refused).
    pub fn create(path: &Path) -> Result<Self> {
        check_target(path)?;
        crate::interrupt::remove_unfinished_outputs_on_signal();
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = topicmill_sparse::atomic_temp_builder(".topicmill-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .with_context(|| format!("cannot create {}", path.display()))?;
        staged_list().push(tmp.path().to_path_buf());
        Ok(Staged {
            path: path.to_path_buf(),
            tmp: Some(tmp),
        })
    }

    fn tmp(&self) -> &NamedTempFile {
        self.tmp.as_ref().expect("held until committed")
    }

    /// Writes the file's whole content with `body`, and syncs it.
    pub fn write<F>(&mut self, body: F) -> Result<()>
    where
        F: FnOnce(&mut BufWriter<&File>) -> io::Result<()>,
    {
        {
            let mut out = BufWriter::new(self.tmp().as_file());
            body(&mut out)
                .and_then(|()| out.flush())
                .with_context(|| format!("cannot write {}", self.path.display()))?;
        }
        self.tmp()
            .as_file()
            .sync_all()
            .with_context(|| format!("cannot sync {}", self.path.display()))
    }

    /// Renames the written file over the target.
    pub fn commit(self) -> Result<()> {
        self.commit_listed(&mut staged_list())
    }

    /// [`Staged::commit`] with the list of [`STAGED`] held.
    fn commit_listed(mut self, list: &mut Vec<PathBuf>) -> Result<()> {
        let tmp = self.tmp.take().expect("committed once");
        let staged = tmp.path().to_path_buf();
        // On failure the temporary file drops with the error: removed.
        let renamed = tmp.persist(&self.path);
        unlist(list, &staged);
        renamed
            .map_err(|e| e.error)
            .with_context(|| format!("cannot move the new file into {}", self.path.display()))?;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let staged = tmp.path().to_path_buf();
            // Removed first: a clean-up running meanwhile still sees it.
            drop(tmp);
            unlist(&mut staged_list(), &staged);
        }
    }
}

/// Puts back, or names on stderr, the corpora that a replace of the corpus
/// directory `dir` moved aside and was killed before finishing
/// ([`CorpusWriter::recover_set_aside`]): what every command that writes a
/// corpus (or caches one) does first.
pub fn recover_set_aside(dir: &Path) -> Result<()> {
    for set_aside in CorpusWriter::recover_set_aside(dir)? {
        eprintln!("warning: {set_aside}");
    }
    Ok(())
}

/// Checks, before a command does its work, that its outputs are apart
/// ([`check_apart`]), that each can name a file (not a directory, a device
/// or a link: [`check_target`]) and that each can be created (a temporary
/// file is made in its directory and removed): a wrong path fails
/// at once, not after a long fit, and an input is never overwritten by an
/// output.
pub fn check_outputs(paths: &[Option<&Path>], inputs: &[&Path]) -> Result<()> {
    // Directories first: a directory is never an output, an input or not;
    // then the inputs, which a link may name.
    for a in paths.iter().flatten() {
        if let Some(what) = names_a_directory(a) {
            bail!("cannot write {}: {what}", a.display());
        }
    }
    check_apart(paths, inputs)?;
    // `Staged::create` checks the rest (links, devices: `check_target`).
    for a in paths.iter().flatten() {
        drop(Staged::create(a)?);
    }
    Ok(())
}

/// Checks that no two outputs name the same file and that none is one of the
/// command's `inputs` (model files, corpus directories) or lies inside an
/// input directory.
///
/// Paths are compared resolved (see [`topicmill_sparse::resolve_path`]):
/// `./s/../s/matrix.csr` or a symbolic link to an input is that input. An
/// input that cannot be resolved (it does not exist) is skipped: opening it
/// fails with its own error.
pub fn check_apart(paths: &[Option<&Path>], inputs: &[&Path]) -> Result<()> {
    let named: Vec<&Path> = paths.iter().flatten().copied().collect();
    let inputs: Vec<(&Path, PathBuf)> = inputs
        .iter()
        .filter_map(|&input| Some((input, std::fs::canonicalize(input).ok()?)))
        .collect();
    let resolved = named
        .iter()
        .map(|a| topicmill_sparse::resolve_path(a))
        .collect::<Result<Vec<PathBuf>, _>>()?;
    for (i, a) in named.iter().enumerate() {
        if let Some(j) = resolved[..i].iter().position(|b| *b == resolved[i]) {
            let spelled = if named[j] == *a {
                String::new()
            } else {
                format!(" (as {})", named[j].display())
            };
            bail!(
                "two outputs are both {}{spelled}: give each its own file",
                a.display()
            );
        }
        for (input, canonical) in &inputs {
            if resolved[i] == *canonical {
                bail!(
                    "cannot write {}: it is the input {}; give the output another path",
                    a.display(),
                    input.display()
                );
            }
            if canonical.is_dir() && resolved[i].starts_with(canonical) {
                bail!(
                    "cannot write {}: it lies inside the input directory {}; give the output \
                     a path outside it",
                    a.display(),
                    input.display()
                );
            }
        }
    }
    Ok(())
}

/// Stages the output files of one command (see [`Staged`]) once its work is
/// done; they are written, then moved into place by [`commit_all`].
pub fn stage_all<const N: usize>(paths: [Option<&Path>; N]) -> Result<[Option<Staged>; N]> {
    let mut staged = paths.map(|_| None);
    for (slot, path) in staged.iter_mut().zip(paths) {
        *slot = path.map(Staged::create).transpose()?;
    }
    Ok(staged)
}

/// Prints a command's `report` on stdout: pretty JSON with `json`, else as
/// `text` writes it. The JSON is serialized before it is written, so that an
/// io::Error from the pipe stays an io::Error (a closed pipe is not an
/// error), not a serde_json one.
pub fn print_report<R: serde::Serialize>(
    report: &R,
    json: bool,
    text: impl FnOnce(&mut io::StdoutLock<'static>, &R) -> io::Result<()>,
) -> Result<()> {
    let mut out = io::stdout().lock();
    if json {
        let encoded = serde_json::to_string_pretty(report)?;
        writeln!(out, "{encoded}")?;
    } else {
        text(&mut out, report)?;
    }
    out.flush()?;
    Ok(())
}

/// Renames written files into place. Called once all of a command's outputs
/// are written, so that a failure to write one leaves none of them; an
/// interrupt ([`remove_staged`]) waits until all are in place.
pub fn commit_all(files: impl IntoIterator<Item = Option<Staged>>) -> Result<()> {
    let files: Vec<Staged> = files.into_iter().flatten().collect();
    let mut list = staged_list();
    let mut files = files.into_iter();
    let committed = files.try_for_each(|file| file.commit_listed(&mut list));
    // The files left after a failure are removed as they drop, which takes
    // the lock: released first.
    drop(list);
    drop(files);
    committed
}

/// Writes `path` atomically: `body` writes into a temporary file in the same
/// directory, which is synced and renamed over `path` only when `body`
/// succeeds. On any error the temporary file is removed and `path` untouched.
pub fn write_atomic<F>(path: &Path, body: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<&File>) -> io::Result<()>,
{
    let mut file = Staged::create(path)?;
    file.write(body)?;
    file.commit()
}

/// A row-major `rows × cols` f32 matrix as a NumPy `.npy` file (format 1.0,
/// little-endian `<f4`, C order).
pub fn npy<W: Write>(out: &mut W, data: &[f32], rows: usize, cols: usize) -> io::Result<()> {
    assert_eq!(data.len(), rows * cols, "npy shape does not match the data");
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // magic (6) + version (2) + header length (2) + header + '\n' is a multiple of 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    out.write_all(b"\x93NUMPY\x01\x00")?;
    let len = u16::try_from(header.len()).expect("npy header is short");
    out.write_all(&len.to_le_bytes())?;
    out.write_all(header.as_bytes())?;
    for value in data {
        out.write_all(&value.to_le_bytes())?;
    }
    Ok(())
}

/// Quotes a CSV field when it needs it (RFC 4180).
pub fn csv_field(field: &str) -> std::borrow::Cow<'_, str> {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\"")).into()
    } else {
        field.into()
    }
}

/// Prints topics as columns, the layout of the seed experiment's table:
///
/// ```text
/// Topic #01   Topic #02   …
/// god         graphics
/// people      thanks
/// ```
pub fn write_topic_table<W: Write>(
    out: &mut W,
    headers: &[String],
    columns: &[Vec<String>],
) -> io::Result<()> {
    let widths: Vec<usize> = headers
        .iter()
        .zip(columns)
        .map(|(h, col)| {
            col.iter()
                .map(|w| w.chars().count())
                .chain([h.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let depth = columns.iter().map(Vec::len).max().unwrap_or(0);
    let row = |out: &mut W, cells: &mut dyn Iterator<Item = &str>| -> io::Result<()> {
        let line: Vec<String> = cells
            .zip(&widths)
            .map(|(cell, &w)| format!("{cell:<w$}"))
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end())
    };
    row(out, &mut headers.iter().map(String::as_str))?;
    row(
        out,
        &mut widths
            .iter()
            .map(|&w| "-".repeat(w))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str),
    )?;
    for i in 0..depth {
        row(
            out,
            &mut columns
                .iter()
                .map(|col| col.get(i).map_or("", String::as_str)),
        )?;
    }
    Ok(())
}

/// Indices of the `n` largest values of `scores`, largest first; ties keep the
/// lower index first, so the order is deterministic.
pub fn top_indices(scores: impl Iterator<Item = f32>, n: usize) -> Vec<usize> {
    let mut indexed: Vec<(usize, f32)> = scores.enumerate().collect();
    let n = n.min(indexed.len());
    let by_score = |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if n < indexed.len() {
        indexed.select_nth_unstable_by(n, by_score);
        indexed.truncate(n);
    }
    indexed.sort_by(by_score);
    indexed.into_iter().map(|(i, _)| i).collect()
}

/// Loads a model, naming the file in any error.
pub fn load_model(path: &Path) -> Result<NmfModel> {
    open_model(path, NmfModel::load)
}

/// [`load_model`] without W (`NmfModel::load_without_w`), for the commands
/// that use H, the vocabulary or the vectorizer record alone: W is most of
/// a large fit's file.
pub fn load_model_without_w(path: &Path) -> Result<NmfModel> {
    open_model(path, NmfModel::load_without_w)
}

/// The model file `path` read by `load`, naming the file in any error.
fn open_model(
    path: &Path,
    load: fn(io::BufReader<File>) -> topicmill_nmf::Result<NmfModel>,
) -> Result<NmfModel> {
    let file = File::open(path).with_context(|| format!("cannot open model {}", path.display()))?;
    load(io::BufReader::new(file)).with_context(|| format!("cannot read model {}", path.display()))
}

/// The top `n` words of every topic of `model`, topic by topic, with weights.
/// Only words of positive weight count: a topic whose H row is all zero has
/// no words (as in `evaluate`), not `n` arbitrary ones at weight 0.
pub fn topic_words(model: &NmfModel, vocabulary: &[String], n: usize) -> Vec<Vec<(String, f32)>> {
    let (k, ht) = (model.k(), model.ht());
    (0..k)
        .map(|t| {
            let column = ht.iter().skip(t).step_by(k).copied();
            top_indices(column, n)
                .into_iter()
                .map(|j| (j, ht[j * k + t]))
                .filter(|&(_, weight)| weight > 0.0)
                .map(|(j, weight)| (vocabulary[j].clone(), weight))
                .collect()
        })
        .collect()
}

/// Prints topics as the seed's table: `Topic #01` … as columns, top words down.
pub fn print_topics<W: Write>(out: &mut W, topics: &[Vec<(String, f32)>]) -> io::Result<()> {
    let headers: Vec<String> = (1..=topics.len())
        .map(|t| format!("Topic #{t:02}"))
        .collect();
    let columns: Vec<Vec<String>> = topics
        .iter()
        .map(|words| words.iter().map(|(w, _)| w.clone()).collect())
        .collect();
    write_topic_table(out, &headers, &columns)
}

/// Per-document CSV: id, dominant topic (1-based, empty for a document with no
/// weight at all), then the k weights.
pub fn doc_topics<W: Write>(
    out: &mut W,
    doc_ids: &[String],
    w: &[f32],
    k: usize,
) -> io::Result<()> {
    write!(out, "doc_id,dominant_topic")?;
    for t in 1..=k {
        write!(out, ",topic_{t:02}")?;
    }
    writeln!(out)?;
    for (id, row) in doc_ids.iter().zip(w.chunks_exact(k)) {
        write!(out, "{}", csv_field(id))?;
        match top_indices(row.iter().copied(), 1).first() {
            Some(&t) if row[t] > 0.0 => write!(out, ",{}", t + 1)?,
            _ => write!(out, ",")?,
        }
        for v in row {
            write!(out, ",{v}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// ‖X‖_F, accumulated in f64.
pub fn frobenius_norm(x: &CsrView<'_>) -> f64 {
    x.data()
        .iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum::<f64>()
        .sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_header_is_aligned_and_parsable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.npy");
        write_atomic(&path, |out| npy(out, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3)).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
        assert!(header.contains("'shape': (2, 3)"), "{header}");
        assert!(header.ends_with('\n'));
        let data = &bytes[10 + header_len..];
        assert_eq!(data.len(), 6 * 4);
        assert_eq!(f32::from_le_bytes(data[20..24].try_into().unwrap()), 6.0);
    }

    #[test]
    fn failed_atomic_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        let err = write_atomic(&path, |out| {
            out.write_all(b"half")?;
            Err(io::Error::other("disk on fire"))
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("disk on fire"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn top_indices_breaks_ties_by_index() {
        let scores = [0.5f32, 2.0, 0.5, 3.0, 2.0];
        assert_eq!(top_indices(scores.into_iter(), 3), vec![3, 1, 4]);
        assert_eq!(top_indices(scores.into_iter(), 10), vec![3, 1, 4, 0, 2]);
    }

    #[test]
    fn topic_table_lays_out_columns() {
        let mut out = Vec::new();
        let headers = vec!["Topic #01".to_owned(), "Topic #02".to_owned()];
        let columns = vec![
            vec!["god".to_owned(), "people".to_owned()],
            vec!["graphics".to_owned(), "thanks".to_owned()],
        ];
        write_topic_table(&mut out, &headers, &columns).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "Topic #01  Topic #02\n---------  ---------\ngod        graphics\npeople     thanks\n"
        );
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
