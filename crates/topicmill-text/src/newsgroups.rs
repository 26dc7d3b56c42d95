//! The 20 Newsgroups "bydate" corpus, read straight from `20news-bydate.tar.gz`
//! or from its extracted folders, with scikit-learn's `fetch_20newsgroups`
//! selection and cleaning rules.
//!
//! Document order: by split (train, then test), then category name, then file
//! number (numerically). scikit-learn instead sorts file names as strings and
//! then shuffles; compare documents by id, not by position.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::pyunicode::strip;
use crate::{Documents, TextError};

/// Which split of the corpus to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Subset {
    /// `20news-bydate-train` (11,314 documents). scikit-learn's default.
    #[default]
    Train,
    /// `20news-bydate-test` (7,532 documents).
    Test,
    /// Both, train first (18,846 documents).
    All,
}

/// What to strip from each post, as `fetch_20newsgroups(remove=…)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Remove {
    /// Everything before the first blank line.
    pub headers: bool,
    /// The last block set apart by a blank or all-dash line (a signature).
    pub footers: bool,
    /// Lines that quote another post or introduce a quote.
    pub quotes: bool,
}

impl Remove {
    /// Headers, footers and quotes all removed.
    pub const ALL: Remove = Remove {
        headers: true,
        footers: true,
        quotes: true,
    };
}

/// The selection of a 20 Newsgroups load.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct NewsgroupsOptions {
    /// The split (default: train, as scikit-learn).
    pub subset: Subset,
    /// The categories to keep (default: all 20). Unknown names are an error.
    pub categories: Option<Vec<String>>,
    /// What to strip (default: nothing).
    pub remove: Remove,
}

/// The four categories of the seed experiment (NMF topics of 20 Newsgroups,
/// as scikit-learn's topic-extraction example selects them).
pub const SEED_CATEGORIES: [&str; 4] = [
    "alt.atheism",
    "talk.religion.misc",
    "comp.graphics",
    "sci.space",
];

impl NewsgroupsOptions {
    /// The seed experiment's documents: the train split of
    /// [`SEED_CATEGORIES`], headers, footers and quotes removed (2034 posts).
    pub fn seed() -> Self {
        NewsgroupsOptions {
            subset: Subset::Train,
            categories: Some(SEED_CATEGORIES.iter().map(|c| c.to_string()).collect()),
            remove: Remove::ALL,
        }
    }

    /// Every post of both splits, headers, footers and quotes removed (18846).
    pub fn all_stripped() -> Self {
        NewsgroupsOptions {
            subset: Subset::All,
            categories: None,
            remove: Remove::ALL,
        }
    }
}

/// The two TF-IDF matrices of 20 Newsgroups that topicmill's figures refer
/// to (headers, footers and quotes removed, English stop words).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferenceMatrix {
    /// The seed experiment: [`NewsgroupsOptions::seed`], 2034 × 26576.
    Seed,
    /// Every post, `min_df = 2`: 18846 × 51840.
    All,
}

impl ReferenceMatrix {
    /// The posts it is built from.
    pub fn options(self) -> NewsgroupsOptions {
        match self {
            ReferenceMatrix::Seed => NewsgroupsOptions::seed(),
            ReferenceMatrix::All => NewsgroupsOptions::all_stripped(),
        }
    }

    /// The vectorizer's parameters.
    pub fn params(self) -> crate::TfidfParams {
        let params = crate::TfidfParams::default().stop_words(Some(crate::StopWords::English));
        match self {
            ReferenceMatrix::Seed => params,
            ReferenceMatrix::All => params.min_df(crate::DocFreq::Count(2)),
        }
    }

    /// The matrix, from the `20news-bydate.tar.gz` at `tarball`.
    pub fn build(self, tarball: &Path) -> Result<topicmill_sparse::CsrMatrix, TextError> {
        Ok(self
            .params()
            .fit_transform_20newsgroups_without_texts(tarball, &self.options())?
            .2)
    }
}

const SPLITS: [(&str, Subset); 2] = [
    ("20news-bydate-train", Subset::Train),
    ("20news-bydate-test", Subset::Test),
];

pub(crate) struct Post {
    split: usize,
    group: String,
    number: u64,
    name: String,
    pub(crate) text: String,
    /// Where the post was read: its batch and its index in the batch.
    origin: (u32, u32),
}

impl AsRef<str> for Post {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

/// Loads 20 Newsgroups from `path`: the `20news-bydate.tar.gz` tarball, or a
/// folder holding `20news-bydate-train/` and `20news-bydate-test/`.
///
/// Files are decoded as Latin-1 (as scikit-learn's loader does), so any byte
/// sequence is accepted. Ids are `group/number`, labels the group names.
pub fn load_20newsgroups(path: &Path, options: &NewsgroupsOptions) -> Result<Documents, TextError> {
    load_20newsgroups_with(path, options, &|_| ()).map(|(docs, ..)| docs)
}

/// [`load_20newsgroups`], also returning, for a `.tar.gz`, its numbers of
/// files per split (train, test) over all categories, whatever `options`
/// select: the same counts as [`count_20newsgroups_files`], taken in the
/// same pass (a tarball is inflated whole anyway). `None` for a folder,
/// whose unselected sub-folders are not listed.
pub fn load_20newsgroups_counting(
    path: &Path,
    options: &NewsgroupsOptions,
) -> Result<(Documents, Option<(usize, usize)>), TextError> {
    load_20newsgroups_with(path, options, &|_| ()).map(|(docs, _, _, files)| (docs, files))
}

/// The numbers of regular files under `20news-bydate-train/<group>/` and
/// `20news-bydate-test/<group>/` in the `.tar.gz` at `path`: what tells a
/// copy of the 20 Newsgroups archive from another archive (the original holds
/// 11,314 and 7,532), whatever its compression or checksum. One pass of the
/// tarball reader, the files' contents untouched.
pub fn count_20newsgroups_files(path: &Path) -> Result<(usize, usize), TextError> {
    let mut counts = [0usize; SPLITS.len()];
    // One block buffer, handed back and forth.
    let spare = std::cell::Cell::new(Vec::new());
    crate::tarball::for_each_block(
        path,
        |n| {
            let mut data = spare.take();
            data.clear();
            data.reserve(n);
            data
        },
        |block| {
            for file in &block.files {
                if let Some((split, _, _)) = classify(Path::new(&file.path)) {
                    counts[split] += 1;
                }
            }
            spare.set(block.data);
            Ok(())
        },
    )?;
    Ok((counts[0], counts[1]))
}

/// The documents of a load, where each was read (batch, index in the batch:
/// see [`Post::origin`]), the results of the per-batch work by batch, and
/// the files per split of a tarball (see [`load_20newsgroups_counting`]).
pub(crate) type Loaded<T> = (Documents, Vec<(u32, u32)>, Vec<T>, Option<(usize, usize)>);

/// [`load_20newsgroups`], also running `per_batch` on each batch of cleaned
/// posts (in parallel, while the tarball is still being inflated). `per_batch`
/// may take the posts' texts (the documents then have empty texts).
pub(crate) fn load_20newsgroups_with<T: Send>(
    path: &Path,
    options: &NewsgroupsOptions,
    per_batch: &(dyn Fn(&mut [Post]) -> T + Sync),
) -> Result<Loaded<T>, TextError> {
    let wanted_split = |split: usize| match options.subset {
        Subset::All => true,
        s => SPLITS[split].1 == s,
    };
    let wanted_group = |group: &str| {
        options
            .categories
            .as_ref()
            .is_none_or(|c| c.iter().any(|g| g == group))
    };
    let mut groups_seen = std::collections::BTreeSet::new();
    let mut files = None;
    let (mut posts, results) = if path.is_dir() {
        let mut posts = Vec::new();
        read_folders(
            path,
            &wanted_split,
            &wanted_group,
            &mut groups_seen,
            &mut posts,
            options.remove,
        )?;
        let results = posts
            .par_chunks_mut(BATCH_POSTS)
            .enumerate()
            .map(|(b, batch)| {
                for (i, p) in batch.iter_mut().enumerate() {
                    p.origin = (b as u32, i as u32);
                }
                per_batch(batch)
            })
            .collect();
        (posts, results)
    } else {
        let mut counts = [0usize; SPLITS.len()];
        let read = read_tarball(
            path,
            &wanted_split,
            &wanted_group,
            &mut groups_seen,
            &mut counts,
            options.remove,
            per_batch,
        )?;
        files = Some((counts[0], counts[1]));
        read
    };
    if groups_seen.is_empty() {
        return Err(TextError::Newsgroups {
            path: path.to_owned(),
            message: "no 20news-bydate-train/ or 20news-bydate-test/ documents found".into(),
        });
    }
    if let Some(categories) = &options.categories {
        if let Some(unknown) = categories.iter().find(|c| !groups_seen.contains(*c)) {
            return Err(TextError::UnknownCategory(unknown.clone()));
        }
    }
    posts.par_sort_unstable_by(|a, b| {
        (a.split, &a.group, a.number, &a.name).cmp(&(b.split, &b.group, b.number, &b.name))
    });
    let origins = posts.iter().map(|p| p.origin).collect();
    let texts: Vec<String> = posts
        .iter_mut()
        .map(|p| std::mem::take(&mut p.text))
        .collect();
    let ids = posts
        .iter()
        .map(|p| format!("{}/{}", p.group, p.name))
        .collect();
    let labels = posts.into_iter().map(|p| p.group).collect();
    let docs = Documents {
        ids,
        labels: Some(labels),
        texts,
    };
    Ok((docs, origins, results, files))
}

/// Posts per batch of an extracted corpus (a tarball's batches are its blocks).
const BATCH_POSTS: usize = 256;

/// Splits `split_dir/group/name` into its parts, for a file of the corpus.
fn classify(relative: &Path) -> Option<(usize, String, String)> {
    let mut parts = relative.components().filter_map(|c| match c {
        std::path::Component::Normal(s) => s.to_str(),
        _ => None,
    });
    let split_dir = parts.next()?;
    let group = parts.next()?;
    let name = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let split = SPLITS.iter().position(|(d, _)| *d == split_dir)?;
    Some((split, group.to_owned(), name.to_owned()))
}

fn post(split: usize, group: String, name: String, raw: &[u8], remove: Remove) -> Post {
    Post {
        split,
        number: name.parse().unwrap_or(u64::MAX),
        group,
        name,
        text: clean_latin1(raw, remove),
        origin: (0, 0),
    }
}

/// Reads the tarball with the gzip stream inflated on the calling worker while
/// the other workers decode and clean each block's posts, and run `per_batch`
/// on them: inflating is one serial stream, everything else overlaps it.
/// When the workers fall behind (a few blocks waiting), the inflating worker
/// takes the block it just inflated itself: the work stays balanced while
/// inflating, memory stays bounded, and blocks are recycled (their pages
/// mapped and in cache) instead of allocated afresh.
/// Returns the posts and the results of `per_batch`, by block.
fn read_tarball<T: Send>(
    path: &Path,
    wanted_split: &(dyn Fn(usize) -> bool + Sync),
    wanted_group: &(dyn Fn(&str) -> bool + Sync),
    groups_seen: &mut std::collections::BTreeSet<String>,
    files: &mut [usize; SPLITS.len()],
    remove: Remove,
    per_batch: &(dyn Fn(&mut [Post]) -> T + Sync),
) -> Result<(Vec<Post>, Vec<T>), TextError> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (sender, receiver) = std::sync::mpsc::channel::<(u32, Vec<Post>, T)>();
    let mut blocks = 0u32;
    // Inflated blocks whose posts are built, for the inflater to reuse.
    let spare: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::default();
    let buffer = |n: usize| {
        let reused = spare.lock().expect("a push does not panic").pop();
        let mut data = reused.unwrap_or_default();
        data.clear();
        data.reserve(n);
        data
    };
    let spare = &spare;
    // Blocks handed to the other workers and not yet done.
    let waiting = &AtomicUsize::new(0);
    let most_waiting = 2 * rayon::current_num_threads();
    let read = rayon::scope(|scope| {
        crate::tarball::for_each_block(path, buffer, |block| {
            let mut wanted = Vec::with_capacity(block.files.len());
            for file in block.files {
                let Some((split, group, name)) = classify(Path::new(&file.path)) else {
                    continue;
                };
                files[split] += 1;
                if !groups_seen.contains(&group) {
                    groups_seen.insert(group.clone());
                }
                if wanted_split(split) && wanted_group(&group) {
                    wanted.push((split, group, name, file.range));
                }
            }
            let data = block.data;
            if wanted.is_empty() {
                spare.lock().expect("a pop does not panic").push(data);
                return Ok(());
            }
            let sender = sender.clone();
            let b = blocks;
            blocks += 1;
            let work = move || {
                let mut posts: Vec<Post> = wanted
                    .into_iter()
                    .enumerate()
                    .map(|(i, (split, group, name, range))| {
                        let mut p = post(split, group, name, &data[range], remove);
                        p.origin = (b, i as u32);
                        p
                    })
                    .collect();
                spare.lock().expect("a pop does not panic").push(data);
                let result = per_batch(&mut posts);
                // The receiver outlives the scope.
                let _ = sender.send((b, posts, result));
            };
            if waiting.load(Ordering::Acquire) >= most_waiting {
                work();
            } else {
                waiting.fetch_add(1, Ordering::AcqRel);
                scope.spawn(move |_| {
                    work();
                    waiting.fetch_sub(1, Ordering::AcqRel);
                });
            }
            Ok(())
        })
    });
    drop(sender);
    read?;
    let mut batches: Vec<(u32, Vec<Post>, T)> = receiver.into_iter().collect();
    batches.sort_unstable_by_key(|(b, _, _)| *b);
    let mut posts = Vec::with_capacity(batches.iter().map(|(_, p, _)| p.len()).sum());
    let mut results = Vec::with_capacity(batches.len());
    for (_, batch, result) in batches {
        posts.extend(batch);
        results.push(result);
    }
    Ok((posts, results))
}

fn read_folders(
    root: &Path,
    wanted_split: &dyn Fn(usize) -> bool,
    wanted_group: &dyn Fn(&str) -> bool,
    groups_seen: &mut std::collections::BTreeSet<String>,
    posts: &mut Vec<Post>,
    remove: Remove,
) -> Result<(), TextError> {
    let mut jobs: Vec<(usize, String, String, PathBuf)> = Vec::new();
    for (split, (dir, _)) in SPLITS.iter().enumerate() {
        let split_dir = root.join(dir);
        if !split_dir.is_dir() {
            continue;
        }
        for group in read_dir_sorted(&split_dir)? {
            let group_dir = split_dir.join(&group);
            if !group_dir.is_dir() {
                continue;
            }
            groups_seen.insert(group.clone());
            if !wanted_split(split) || !wanted_group(&group) {
                continue;
            }
            for name in read_dir_sorted(&group_dir)? {
                let file = group_dir.join(&name);
                if file.is_file() {
                    jobs.push((split, group.clone(), name, file));
                }
            }
        }
    }
    let read: Result<Vec<Post>, TextError> = jobs
        .into_par_iter()
        .map(|(split, group, name, file)| {
            let bytes = std::fs::read(&file).map_err(|e| TextError::io(&file, e))?;
            Ok(post(split, group, name, &bytes, remove))
        })
        .collect();
    posts.extend(read?);
    Ok(())
}

/// The names of `dir`'s entries, sorted; a name that is not UTF-8 is an
/// error ([`TextError::NonUtf8Name`]).
pub(crate) fn read_dir_sorted(dir: &Path) -> Result<Vec<String>, TextError> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| TextError::io(dir, e))? {
        let entry = entry.map_err(|e| TextError::io(dir, e))?;
        // A lossy name would name no file (and two could become one id).
        let name = entry.file_name().into_string();
        names.push(name.map_err(|_| TextError::NonUtf8Name { path: entry.path() })?);
    }
    names.sort();
    Ok(names)
}

/// Latin-1 bytes as a string: every byte is the code point of the same value.
fn latin1(bytes: Vec<u8>) -> String {
    if bytes.is_ascii() {
        // SAFETY: every byte is ASCII (checked just above), and ASCII is UTF-8.
        unsafe { String::from_utf8_unchecked(bytes) }
    } else {
        bytes.iter().map(|&b| char::from(b)).collect()
    }
}

/// `str.isspace()` for the character of a Latin-1 byte.
fn is_latin1_space(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | 0x1c..=b' ' | 0x85 | 0xa0)
}

/// The Latin-1 post `raw`, decoded and cleaned as `fetch_20newsgroups` does
/// (header, then footer, then quotes), with one copy. Latin-1 maps each byte to
/// one character, so the rules apply to the bytes as they are: positions,
/// lines and whitespace are the same in both.
pub(crate) fn clean_latin1(raw: &[u8], remove: Remove) -> String {
    let mut text = raw;
    if remove.headers {
        text = match find_blank_line(text) {
            Some(at) => &text[at + 2..],
            None => &[],
        };
    }
    if remove.footers {
        if let Some(kept) = footer_cut(text) {
            text = kept;
        }
    }
    if !remove.quotes {
        return latin1(text.to_vec());
    }
    latin1(strip_quoting_latin1(text))
}

/// The position of the first `"\n\n"`.
fn find_blank_line(text: &[u8]) -> Option<usize> {
    let mut from = 0;
    loop {
        let at = find_any(text, from, [b'\n'])?;
        match text.get(at + 1) {
            Some(b'\n') => return Some(at),
            Some(_) => from = at + 1,
            None => return None,
        }
    }
}

/// [`strip_quoting`] on Latin-1 bytes: one pass over the special bytes
/// (`\n`, `:`, `w`: every pattern but `writes in` ends with `:`, and that one
/// starts with `w`), copying runs of consecutive kept lines at once.
fn strip_quoting_latin1(text: &[u8]) -> Vec<u8> {
    let mut kept = Vec::with_capacity(text.len());
    let mut first = true;
    let mut emit = |range: std::ops::Range<usize>| {
        if !first {
            kept.push(b'\n');
        }
        first = false;
        kept.extend_from_slice(&text[range]);
    };
    // Consecutive kept lines not yet copied: with the newlines between them,
    // one range of `text`.
    let mut run: Option<std::ops::Range<usize>> = None;
    let mut line = 0;
    loop {
        let (end, quoting) = if starts_quoting(&text[line..]) {
            (find_any(text, line, [b'\n']), true)
        } else {
            match quoting_verb_or_newline(text, line) {
                Some(at) if text[at] == b'\n' => (Some(at), false),
                Some(at) => (find_any(text, at, [b'\n']), true),
                None => (None, false),
            }
        };
        let line_end = end.unwrap_or(text.len());
        if quoting {
            if let Some(r) = run.take() {
                emit(r);
            }
        } else {
            run = Some(run.map_or(line, |r| r.start)..line_end);
        }
        match end {
            Some(at) => line = at + 1,
            None => {
                if let Some(r) = run.take() {
                    emit(r);
                }
                return kept;
            }
        }
    }
}

/// Whether a line starting `rest` quotes by its start: `^In article`,
/// `^Quoted from`, `^\|`, `^>`.
fn starts_quoting(rest: &[u8]) -> bool {
    rest.starts_with(b"In article")
        || rest.starts_with(b"Quoted from")
        || rest.first().is_some_and(|&b| b == b'|' || b == b'>')
}

/// In the line starting at `line`: the position of a quoting verb
/// (`writes in`, `writes:`, `wrote:`, `says:`, `said:`), or else of the
/// newline ending the line; `None` when neither comes before the end.
fn quoting_verb_or_newline(text: &[u8], line: usize) -> Option<usize> {
    let mut from = line;
    loop {
        let at = find_any(text, from, [b'\n', b':', b'w'])?;
        match text[at] {
            b'\n' => return Some(at),
            b':' => {
                let before = &text[line..at];
                if before.ends_with(b"writes")
                    || before.ends_with(b"wrote")
                    || before.ends_with(b"says")
                    || before.ends_with(b"said")
                {
                    return Some(at);
                }
            }
            _ => {
                if text[at..].starts_with(b"writes in") {
                    return Some(at);
                }
            }
        }
        from = at + 1;
    }
}

/// The first position at or after `from` holding one of `needles`, eight
/// bytes at a time: a byte equal to a needle is a zero byte of `word ^
/// needle`, found with the classic `(x - 0x01…) & !x & 0x80…` test, exact
/// for the lowest flagged byte (borrows only run upwards).
fn find_any<const N: usize>(text: &[u8], from: usize, needles: [u8; N]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while i + 8 <= text.len() {
        let x = u64::from_le_bytes(text[i..i + 8].try_into().expect("8 bytes"));
        let mut found = 0;
        for n in needles {
            let y = x ^ (ONES * u64::from(n));
            found |= y.wrapping_sub(ONES) & !y & HIGHS;
        }
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    text[i..]
        .iter()
        .position(|b| needles.contains(b))
        .map(|p| i + p)
}

/// [`strip_footer`] on Latin-1 bytes: the kept prefix of the stripped text,
/// found by scanning lines back from the end; `None` means unchanged.
fn footer_cut(text: &[u8]) -> Option<&[u8]> {
    let stripped = trim_latin1(text);
    let mut line_end = stripped.len();
    loop {
        let line_start = stripped[..line_end]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        // `line.strip().strip("-") == ""`
        if trim_latin1(&stripped[line_start..line_end])
            .iter()
            .all(|&b| b == b'-')
        {
            // Line 0 starting the signature keeps the text as it was.
            return (line_start > 0).then(|| &stripped[..line_start - 1]);
        }
        if line_start == 0 {
            return None;
        }
        line_end = line_start - 1;
    }
}

/// `str.strip()` on Latin-1 bytes.
fn trim_latin1(text: &[u8]) -> &[u8] {
    let Some(start) = text.iter().position(|&b| !is_latin1_space(b)) else {
        return &[];
    };
    let end = text
        .iter()
        .rposition(|&b| !is_latin1_space(b))
        .expect("a non-space exists");
    &text[start..=end]
}

/// The cleaning rules on decoded text, as scikit-learn applies them: the
/// reference for [`clean_latin1`].
#[cfg(test)]
fn clean(text: String, remove: Remove) -> String {
    let mut text = text;
    if remove.headers {
        match text.find("\n\n") {
            Some(at) => drop(text.drain(..at + 2)),
            None => text.clear(),
        }
    }
    if remove.footers {
        if let Some(kept) = strip_footer(&text) {
            text = kept;
        }
    }
    if remove.quotes {
        if let Some(kept) = strip_quoting(&text) {
            text = kept;
        }
    }
    text
}

/// Everything after the first blank line (`"\n\n"`), or nothing when there is
/// none: scikit-learn's `strip_newsgroup_header`.
pub fn strip_newsgroup_header(text: &str) -> &str {
    match text.find("\n\n") {
        Some(at) => &text[at + 2..],
        None => "",
    }
}

/// scikit-learn's `strip_newsgroup_footer`: on the stripped text, the last line
/// that is empty or all dashes (after stripping whitespace) starts the
/// signature, which is cut with it; when that line is the first one (or there is
/// none), the text is kept as it was. `None` means unchanged.
fn strip_footer(text: &str) -> Option<String> {
    let stripped = strip(text);
    let lines: Vec<&str> = stripped.split('\n').collect();
    let cut = lines
        .iter()
        .rposition(|line| strip(line).bytes().all(|b| b == b'-'))?;
    (cut > 0).then(|| lines[..cut].join("\n"))
}

/// Whether a line quotes or introduces a quote: scikit-learn's
/// `(writes in|writes:|wrote:|says:|said:|^In article|^Quoted from|^\||^>)`.
fn is_quoting(line: &str) -> bool {
    line.starts_with("In article")
        || line.starts_with("Quoted from")
        || line.starts_with('|')
        || line.starts_with('>')
        || ["writes in", "writes:", "wrote:", "says:", "said:"]
            .iter()
            .any(|p| line.contains(p))
}

/// scikit-learn's `strip_newsgroup_quoting`: drops quoting lines. `None` means
/// unchanged.
fn strip_quoting(text: &str) -> Option<String> {
    if !text.split('\n').any(is_quoting) {
        return None;
    }
    let kept: Vec<&str> = text.split('\n').filter(|l| !is_quoting(l)).collect();
    Some(kept.join("\n"))
}

/// scikit-learn's `strip_newsgroup_footer`, returning the text itself when it
/// keeps it.
pub fn strip_newsgroup_footer(text: &str) -> String {
    strip_footer(text).unwrap_or_else(|| text.to_owned())
}

/// scikit-learn's `strip_newsgroup_quoting`.
pub fn strip_newsgroup_quoting(text: &str) -> String {
    strip_quoting(text).unwrap_or_else(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_everything_before_the_first_blank_line() {
        assert_eq!(
            strip_newsgroup_header("From: a\nSubject: b\n\nbody\n\nmore"),
            "body\n\nmore"
        );
        assert_eq!(strip_newsgroup_header("no blank line\nat all"), "");
        assert_eq!(strip_newsgroup_header("\n\n"), "");
    }

    #[test]
    fn footer_rules() {
        // The last blank / dash line starts the signature.
        assert_eq!(
            strip_newsgroup_footer("body\nmore\n--\nJohn\n"),
            "body\nmore"
        );
        assert_eq!(strip_newsgroup_footer("a\n\nb\n\nsig\n\n\n"), "a\n\nb");
        // Whitespace is Python's: NBSP and \x85 count; a line " - -" does not.
        assert_eq!(strip_newsgroup_footer("a\n\u{A0}\nsig"), "a");
        assert_eq!(strip_newsgroup_footer("a\n - -\nsig"), "a\n - -\nsig");
        // No separator, or only the first line: the text is kept as it was.
        assert_eq!(strip_newsgroup_footer("  one\ntwo  "), "  one\ntwo  ");
        assert_eq!(strip_newsgroup_footer("\n\n--\nx\n"), "\n\n--\nx\n");
        assert_eq!(strip_newsgroup_footer(""), "");
    }

    #[test]
    fn quoting_rules() {
        let text = "In article <1@x> joe writes:\n> quoted\n| also\nkept > here\nhe said: no\nQuoted from x\n in article lower";
        assert_eq!(
            strip_newsgroup_quoting(text),
            "kept > here\n in article lower"
        );
        assert_eq!(strip_newsgroup_quoting("plain"), "plain");
    }

    #[test]
    fn extracted_folders_in_documented_order() {
        let dir = tempfile::tempdir().unwrap();
        let write = |rel: &str, bytes: &[u8]| {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        };
        write("20news-bydate-test/b.grp/5", b"H: x\n\ntest body");
        write("20news-bydate-train/b.grp/10", b"H: x\n\nten\n> quoted");
        write("20news-bydate-train/b.grp/9", b"H: x\n\nnine \xE9");
        write("20news-bydate-train/a.grp/100", b"H: x\n\nhundred\n--\nsig");
        let all = NewsgroupsOptions {
            subset: Subset::All,
            categories: None,
            remove: Remove::ALL,
        };
        let docs = load_20newsgroups(dir.path(), &all).unwrap();
        assert_eq!(docs.ids, ["a.grp/100", "b.grp/9", "b.grp/10", "b.grp/5"]);
        let params = crate::TfidfParams::default();
        let (fused_docs, _, fused_x) = params.fit_transform_20newsgroups(dir.path(), &all).unwrap();
        assert_eq!(fused_docs, docs);
        let (model, x) = params.fit_transform(&docs.texts).unwrap();
        assert_eq!(fused_x, x);
        // Through a fitted vectorizer, pipelined: the documents without their
        // texts, the rows of `transform`.
        let (lean, through) = model.transform_20newsgroups(dir.path(), &all).unwrap();
        assert_eq!((&lean.ids, &lean.labels), (&docs.ids, &docs.labels));
        assert!(lean.texts.iter().all(String::is_empty));
        assert_eq!(through, model.transform(&docs.texts));
        // On a fixed vocabulary, pipelined: the rows of the in-memory fit.
        let fixed = ["ten", "zebra", "hundred"].map(String::from);
        let (lean, fixed_model, fixed_x, matched) = params
            .fit_transform_20newsgroups_with_vocabulary(&fixed, dir.path(), &all)
            .unwrap();
        assert_eq!(lean.ids, docs.ids);
        let (in_memory, x, in_memory_matched) = params
            .fit_transform_with_vocabulary(&fixed, &docs.texts)
            .unwrap();
        assert_eq!((fixed_x, matched), (x, in_memory_matched));
        assert_eq!(fixed_model.idf(), in_memory.idf());
        assert_eq!(docs.texts, ["hundred", "nine \u{E9}", "ten", "test body"]);
        assert_eq!(docs.labels.unwrap(), ["a.grp", "b.grp", "b.grp", "b.grp"]);
        let test_b = NewsgroupsOptions {
            subset: Subset::Test,
            categories: Some(vec!["b.grp".into()]),
            remove: Remove::default(),
        };
        let docs = load_20newsgroups(dir.path(), &test_b).unwrap();
        assert_eq!(docs.texts, ["H: x\n\ntest body"]);
        let empty = tempfile::tempdir().unwrap();
        let err = load_20newsgroups(empty.path(), &test_b).unwrap_err();
        assert!(err
            .to_string()
            .ends_with("no 20news-bydate-train/ or 20news-bydate-test/ documents found"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]
        /// The byte-level cleaning equals the rules applied to decoded text,
        /// on inputs rich in the characters the rules look at.
        #[test]
        fn byte_cleaning_equals_text_cleaning(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "\n", "\n\n", " ", "\t", "-", "--", "\u{85}", "\u{A0}", "\x1c", "\r",
                    "a", "writes:", "writes in", "wrote:", "says:", "said:", "write", ":",
                    "In article", "Quoted from", "|", ">", "w", "é", "\u{FF}", "x y",
                ]),
                0..40,
            ),
            headers: bool, footers: bool, quotes: bool,
        ) {
            let text: String = parts.concat();
            // Latin-1 bytes of the text (every char above is below U+0100).
            let raw: Vec<u8> = text.chars().map(|c| u8::try_from(u32::from(c)).unwrap()).collect();
            let remove = Remove { headers, footers, quotes };
            proptest::prop_assert_eq!(clean_latin1(&raw, remove), clean(text, remove));
        }
    }

    #[test]
    fn latin1_decoding() {
        assert_eq!(latin1(vec![b'a', 0xE9, 0xA0]), "a\u{E9}\u{A0}");
    }
}
