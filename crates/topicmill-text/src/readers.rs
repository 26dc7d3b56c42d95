//! Plain corpus readers: a folder of text files, JSON lines, one document per
//! line. Text must be UTF-8: invalid bytes are an error naming the file and
//! the byte offset, unless [`Utf8::Lossy`] replaces them with U+FFFD.

use std::io::{BufRead, BufReader};
use std::path::Path;

use rustc_hash::FxHashMap;

use crate::newsgroups::read_dir_sorted;
use crate::{Documents, TextError};

/// What to do with bytes that are not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Utf8 {
    /// Fail with [`TextError::InvalidUtf8`] (default).
    #[default]
    Strict,
    /// Replace each invalid sequence with U+FFFD, as Python's `errors="replace"`.
    Lossy,
}

/// The fields of a JSON-lines corpus.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JsonlFields {
    /// The text field (default `"text"`), required on every line.
    pub text: String,
    /// The id field, whose values must be unique; when absent, ids are
    /// 1-based line numbers.
    pub id: Option<String>,
    /// The label field; when absent, there are no labels.
    pub label: Option<String>,
}

impl Default for JsonlFields {
    fn default() -> Self {
        Self {
            text: "text".into(),
            id: None,
            label: None,
        }
    }
}

pub(crate) fn decode(
    bytes: Vec<u8>,
    path: &Path,
    base: u64,
    utf8: Utf8,
) -> Result<String, TextError> {
    match String::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) => match utf8 {
            Utf8::Strict => Err(TextError::InvalidUtf8 {
                path: path.to_owned(),
                offset: base + e.utf8_error().valid_up_to() as u64,
            }),
            Utf8::Lossy => Ok(String::from_utf8_lossy(e.as_bytes()).into_owned()),
        },
    }
}

/// Reads every file of `dir`: files in a sub-folder are labelled with the
/// sub-folder's name, files at the top level with `""`. Ids are the paths
/// relative to `dir` (`label/name`); order is by label, then name. Labels are
/// `None` when there is no sub-folder. Deeper folders are not read. A UTF-8
/// byte order mark at the start of a file is not part of its text (byte
/// offsets in errors still count it).
pub fn read_folder(dir: &Path, utf8: Utf8) -> Result<Documents, TextError> {
    let mut jobs: Vec<(String, String, std::path::PathBuf)> = Vec::new();
    let mut has_folders = false;
    for name in read_dir_sorted(dir)? {
        let path = dir.join(&name);
        if path.is_dir() {
            has_folders = true;
            for file in read_dir_sorted(&path)? {
                let file_path = path.join(&file);
                if file_path.is_file() {
                    jobs.push((name.clone(), format!("{name}/{file}"), file_path));
                }
            }
        } else if path.is_file() {
            jobs.push((String::new(), name, path));
        }
    }
    jobs.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    use rayon::prelude::*;
    let texts: Vec<String> = jobs
        .par_iter()
        .map(|(_, _, path)| {
            let mut bytes = std::fs::read(path).map_err(|e| TextError::io(path, e))?;
            let base = strip_bom(&mut bytes);
            decode(bytes, path, base, utf8)
        })
        .collect::<Result<_, _>>()?;
    let labels = has_folders.then(|| jobs.iter().map(|j| j.0.clone()).collect());
    Ok(Documents {
        ids: jobs.into_iter().map(|j| j.1).collect(),
        labels,
        texts,
    })
}

/// The UTF-8 byte order mark, which some editors put at the start of a file.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Removes a byte order mark opening `bytes` (a file's start), returning how
/// many bytes went: the offset of what is left in the file.
fn strip_bom(bytes: &mut Vec<u8>) -> u64 {
    if bytes.starts_with(BOM) {
        bytes.drain(..BOM.len());
        BOM.len() as u64
    } else {
        0
    }
}

/// Reads lines of `path` into documents, `limit` at a time (all when `None`),
/// calling `each` per batch. A line ends at `\n`; a `\r` before it is dropped.
/// A UTF-8 byte order mark at the start of the file is not part of the first
/// line (byte offsets in errors still count it).
pub(crate) fn for_each_line_batch(
    path: &Path,
    utf8: Utf8,
    limit: Option<usize>,
    mut each: impl FnMut(Vec<(u64, String)>) -> Result<(), TextError>,
) -> Result<(), TextError> {
    let file = std::fs::File::open(path).map_err(|e| TextError::io(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut offset = 0u64;
    let mut number = 0u64;
    let mut batch = Vec::new();
    loop {
        let mut bytes = Vec::new();
        let n = reader
            .read_until(b'\n', &mut bytes)
            .map_err(|e| TextError::io(path, e))?;
        if n == 0 {
            break;
        }
        number += 1;
        let mut base = offset;
        if number == 1 {
            base += strip_bom(&mut bytes);
        }
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
        }
        batch.push((number, decode(bytes, path, base, utf8)?));
        offset += n as u64;
        if limit.is_some_and(|l| batch.len() >= l) {
            each(std::mem::take(&mut batch))?;
        }
    }
    if !batch.is_empty() {
        each(batch)?;
    }
    Ok(())
}

/// Reads a plain-text corpus, one document per line (empty lines are empty
/// documents). Ids are 1-based line numbers; no labels.
pub fn read_lines(path: &Path, utf8: Utf8) -> Result<Documents, TextError> {
    let mut docs = Documents::default();
    for_each_line_batch(path, utf8, None, |batch| {
        lines_into(&mut docs, batch);
        Ok(())
    })?;
    Ok(docs)
}

pub(crate) fn lines_into(docs: &mut Documents, batch: Vec<(u64, String)>) {
    for (number, text) in batch {
        docs.ids.push(number.to_string());
        docs.texts.push(text);
    }
}

/// Reads a JSON-lines corpus: one object per line with a string text field and
/// optional id and label fields (strings or numbers). Blank lines are skipped.
/// Ids must be unique (a number and a string of the same digits are the same
/// id): a repeated one is [`TextError::DuplicateId`].
pub fn read_jsonl(path: &Path, fields: &JsonlFields, utf8: Utf8) -> Result<Documents, TextError> {
    let mut docs = fields.no_documents();
    let mut seen = SeenIds::default();
    for_each_line_batch(path, utf8, None, |batch| {
        jsonl_into(&mut docs, batch, path, fields, &mut seen)
    })?;
    Ok(docs)
}

/// The ids a JSON-lines file has given so far, each with the line that gave
/// it first.
pub(crate) type SeenIds = FxHashMap<Box<str>, u64>;

impl JsonlFields {
    /// No documents yet, with a (still empty) list of labels exactly when
    /// the label field is named: [`jsonl_into`] adds to it, and a file or a
    /// chunk of only blank lines still says whether it has labels.
    pub(crate) fn no_documents(&self) -> Documents {
        Documents {
            labels: self.label.as_ref().map(|_| Vec::new()),
            ..Documents::default()
        }
    }
}

/// Adds the documents of `batch` (JSON lines) to `docs`, made by
/// [`JsonlFields::no_documents`]. `seen` holds the ids of the batches before
/// (from the same file): an id given again is an error.
pub(crate) fn jsonl_into(
    docs: &mut Documents,
    batch: Vec<(u64, String)>,
    path: &Path,
    fields: &JsonlFields,
    seen: &mut SeenIds,
) -> Result<(), TextError> {
    for (line, raw) in batch {
        if raw.trim().is_empty() {
            continue;
        }
        let err = |message: String| TextError::Json {
            path: path.to_owned(),
            line,
            message,
        };
        let value: serde_json::Value =
            serde_json::from_str(&raw).map_err(|e| err(e.to_string()))?;
        let serde_json::Value::Object(mut object) = value else {
            return Err(err("not a JSON object".into()));
        };
        // Id and label are read before the text is moved out, so that one
        // field may serve as two of them.
        let scalar = |object: &serde_json::Map<String, serde_json::Value>, name: &str| match object
            .get(name)
        {
            Some(serde_json::Value::String(s)) => Ok(s.clone()),
            Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
            Some(_) => Err(err(format!("field `{name}` is not a string or number"))),
            None => Err(err(format!("missing field `{name}`"))),
        };
        // Line numbers are unique; ids from a field are checked.
        let id = match &fields.id {
            Some(name) => {
                let id = scalar(&object, name)?;
                if let Some(&first_line) = seen.get(id.as_str()) {
                    return Err(TextError::DuplicateId {
                        path: path.to_owned(),
                        line,
                        id,
                        first_line,
                    });
                }
                seen.insert(id.as_str().into(), line);
                id
            }
            None => line.to_string(),
        };
        let label = match &fields.label {
            Some(name) => Some(scalar(&object, name)?),
            None => None,
        };
        let text = match object.remove(&fields.text) {
            Some(serde_json::Value::String(s)) => s,
            Some(_) => return Err(err(format!("field `{}` is not a string", fields.text))),
            None => return Err(err(format!("missing text field `{}`", fields.text))),
        };
        if let (Some(label), Some(labels)) = (label, docs.labels.as_mut()) {
            labels.push(label);
        }
        docs.ids.push(id);
        docs.texts.push(text);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn lines_with_crlf_and_empty_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "c.txt", b"one doc\r\n\nthird\n");
        let docs = read_lines(&path, Utf8::Strict).unwrap();
        assert_eq!(docs.texts, ["one doc", "", "third"]);
        assert_eq!(docs.ids, ["1", "2", "3"]);
        assert!(docs.labels.is_none());
    }

    #[test]
    fn invalid_utf8_names_file_and_byte_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "bad.txt", b"fine\nab\xFFcd\n");
        let err = read_lines(&path, Utf8::Strict).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{}: invalid UTF-8 at byte offset 7", path.display())
        );
        let docs = read_lines(&path, Utf8::Lossy).unwrap();
        assert_eq!(docs.texts[1], "ab\u{FFFD}cd");
    }

    #[test]
    fn jsonl_fields_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "c.jsonl",
            br#"{"body": "hello world", "key": 7, "tag": "a"}

{"body": "second", "key": "x2", "tag": "b"}
"#,
        );
        let fields = JsonlFields {
            text: "body".into(),
            id: Some("key".into()),
            label: Some("tag".into()),
        };
        let docs = read_jsonl(&path, &fields, Utf8::Strict).unwrap();
        assert_eq!(docs.texts, ["hello world", "second"]);
        assert_eq!(docs.ids, ["7", "x2"]);
        assert_eq!(docs.labels.unwrap(), ["a", "b"]);
        // One field may be the id, the label and the text at once.
        let same = JsonlFields {
            text: "tag".into(),
            id: Some("tag".into()),
            label: Some("tag".into()),
        };
        let docs = read_jsonl(&path, &same, Utf8::Strict).unwrap();
        assert_eq!(docs.texts, ["a", "b"]);
        assert_eq!(docs.ids, ["a", "b"]);
        assert_eq!(docs.labels.unwrap(), ["a", "b"]);
        let err = read_jsonl(&path, &JsonlFields::default(), Utf8::Strict).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{}: line 1: missing text field `text`", path.display())
        );
        let bad = write(dir.path(), "bad.jsonl", b"{\"text\": \"a\"}\n[1]\n");
        let err = read_jsonl(&bad, &JsonlFields::default(), Utf8::Strict).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{}: line 2: not a JSON object", bad.display())
        );
        let broken = write(dir.path(), "broken.jsonl", b"{\"text\": ");
        let err = read_jsonl(&broken, &JsonlFields::default(), Utf8::Strict).unwrap_err();
        assert!(err
            .to_string()
            .starts_with(&format!("{}: line 1: EOF", broken.display())));
    }

    /// A byte order mark opens the file, not its first document: JSON lines
    /// parse, the first line's text lacks it, and byte offsets count it. A
    /// U+FEFF further on is text.
    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "bom.jsonl",
            b"\xEF\xBB\xBF{\"id\": 1, \"text\": \"hello world\"}\r\n{\"id\": 2, \"text\": \"peace\"}\n",
        );
        let fields = JsonlFields {
            id: Some("id".into()),
            ..JsonlFields::default()
        };
        let docs = read_jsonl(&path, &fields, Utf8::Strict).unwrap();
        assert_eq!(docs.ids, ["1", "2"]);
        assert_eq!(docs.texts, ["hello world", "peace"]);

        let path = write(
            dir.path(),
            "bom.txt",
            "\u{FEFF}one\n\u{FEFF}two\n".as_bytes(),
        );
        let docs = read_lines(&path, Utf8::Strict).unwrap();
        assert_eq!(docs.texts, ["one", "\u{FEFF}two"]);

        let bad = write(dir.path(), "bad.txt", b"\xEF\xBB\xBFab\xFF\n");
        let err = read_lines(&bad, Utf8::Strict).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{}: invalid UTF-8 at byte offset 5", bad.display())
        );
        // Only a whole mark is one: a lone first byte is invalid UTF-8.
        let half = write(dir.path(), "half.txt", b"\xEFab\n");
        let err = read_lines(&half, Utf8::Strict).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{}: invalid UTF-8 at byte offset 0", half.display())
        );
    }

    /// A byte order mark opens a file of a folder, not its text: a
    /// BOM-prefixed first word is read, and tokenized, as without it; byte
    /// offsets count the mark; a U+FEFF further on is text.
    #[test]
    fn a_folder_file_loses_its_byte_order_mark() {
        let marked = tempfile::tempdir().unwrap();
        let plain = tempfile::tempdir().unwrap();
        for (dir, mark) in [(marked.path(), "\u{FEFF}"), (plain.path(), "")] {
            write(dir, "a/1.txt", format!("{mark}Hello world").as_bytes());
            write(dir, "a/2.txt", mark.as_bytes());
            write(dir, "b/3.txt", "one \u{FEFF}two".as_bytes());
        }
        let docs = read_folder(marked.path(), Utf8::Strict).unwrap();
        assert_eq!(docs.texts, ["Hello world", "", "one \u{FEFF}two"]);
        assert_eq!(docs, read_folder(plain.path(), Utf8::Strict).unwrap());
        assert_eq!(
            crate::tokenize::tokenize(&docs.texts[0]),
            crate::tokenize::tokenize("Hello world")
        );
        let lossy = read_folder(marked.path(), Utf8::Lossy).unwrap();
        assert_eq!(lossy.texts[0], "Hello world");

        let bad = write(marked.path(), "b/bad.txt", b"\xEF\xBB\xBFab\xFF");
        let err = read_folder(marked.path(), Utf8::Strict).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{}: invalid UTF-8 at byte offset 5", bad.display())
        );
        // Only a whole mark is one: a lone first byte is invalid UTF-8.
        let half = write(marked.path(), "b/bad.txt", b"\xEFab");
        let err = read_folder(marked.path(), Utf8::Strict).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{}: invalid UTF-8 at byte offset 0", half.display())
        );
    }

    /// Outputs per document are keyed by id: a JSON-lines file that gives
    /// one twice is refused, naming both lines, whether the id is a number
    /// or a string of the same digits. Without an id field, ids are line
    /// numbers, and equal texts are fine.
    #[test]
    fn a_repeated_jsonl_id_names_both_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "dup.jsonl",
            b"{\"id\": 5, \"text\": \"a\"}\n\n{\"id\": 6, \"text\": \"a\"}\n{\"id\": \"5\", \"text\": \"b\"}\n",
        );
        let fields = JsonlFields {
            id: Some("id".into()),
            ..JsonlFields::default()
        };
        let err = read_jsonl(&path, &fields, Utf8::Strict).unwrap_err();
        assert!(
            matches!(
                &err,
                TextError::DuplicateId { line: 4, id, first_line: 1, .. } if id == "5"
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "{}: line 4: duplicate id \"5\", first given on line 1",
                path.display()
            )
        );
        let docs = read_jsonl(&path, &JsonlFields::default(), Utf8::Strict).unwrap();
        assert_eq!(docs.ids, ["1", "3", "4"]);
    }

    #[test]
    fn folder_labels_from_sub_folders() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "b/2.txt", b"beta two");
        write(dir.path(), "a/1.txt", b"alpha one");
        write(dir.path(), "top.txt", b"top level");
        let docs = read_folder(dir.path(), Utf8::Strict).unwrap();
        assert_eq!(docs.ids, ["top.txt", "a/1.txt", "b/2.txt"]);
        assert_eq!(docs.labels.unwrap(), ["", "a", "b"]);
        assert_eq!(docs.texts[1], "alpha one");
        let bad = write(dir.path(), "a/bad.txt", b"\xC3(");
        let err = read_folder(dir.path(), Utf8::Strict).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{}: invalid UTF-8 at byte offset 0", bad.display())
        );
    }

    /// A sub-folder or a file whose name is not UTF-8 is an error naming it:
    /// it was read under its lossy name, which names no file, and skipped.
    #[test]
    fn a_name_that_is_not_utf8_is_an_error() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let cases: [(&[u8], &[u8]); 2] = [(b"cat\xFF", b"1.txt"), (b"good", b"x\xFFy.txt")];
        for (folder, file) in cases {
            let dir = tempfile::tempdir().unwrap();
            write(dir.path(), "good/1.txt", b"gamma delta");
            let folder = dir.path().join(OsStr::from_bytes(folder));
            let file = folder.join(OsStr::from_bytes(file));
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::write(&file, b"alpha beta").unwrap();
            let err = read_folder(dir.path(), Utf8::Strict).unwrap_err();
            let named = if folder.ends_with("good") {
                &file
            } else {
                &folder
            };
            assert!(
                matches!(&err, TextError::NonUtf8Name { path } if path == named),
                "{err}"
            );
            assert!(err.to_string().ends_with(
                "the name is not UTF-8; document ids and labels are made of names: rename it"
            ));
        }
    }
}
