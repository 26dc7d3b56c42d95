//! Every way a matrix file or a write can go wrong gives its own typed error that
//! names the file and the place, and leaves no partial output behind.

use std::fs;
use std::path::{Path, PathBuf};

use topicmill_sparse::{
    write_corpus, write_matrix, Corpus, CorpusWriter, CsrMatrix, MappedMatrix, MappedRows,
    MatrixWriter, SparseError,
};

/// 3 × 4: [[1, 0, 2, 0], [0, 3, 0, 0], [0, 0, 0, 4]]
fn sample() -> CsrMatrix {
    CsrMatrix::new(
        (3, 4),
        vec![0, 2, 3, 4],
        vec![0, 2, 1, 3],
        vec![1.0, 2.0, 3.0, 4.0],
    )
}

/// `sample()` as a corpus: terms w0..w3, documents a, b, c, no labels.
fn write_sample_corpus(target: &Path) {
    let vocab = ["w0", "w1", "w2", "w3"];
    write_corpus(
        target,
        sample().view(),
        &vocab,
        &["a", "b", "c"],
        None,
        serde_json::json!({}),
    )
    .unwrap();
}

// Layout of `sample()` as written (see the format module): header 128 bytes,
// indices at 128 (16 bytes), data at 192 (16 bytes), indptr at 256 (32 bytes),
// footer at 320, file length 336.
const INDICES: usize = 128;
const DATA: usize = 192;
const INDPTR: usize = 256;
const FOOTER: usize = 320;

fn sample_bytes(dir: &Path) -> Vec<u8> {
    let path = dir.join("good.csr");
    write_matrix(&path, sample().view()).unwrap();
    let bytes = fs::read(&path).unwrap();
    assert_eq!(bytes.len(), FOOTER + 16, "layout assumed by these tests");
    bytes
}

fn put_u32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(bytes: &mut [u8], at: usize, v: u64) {
    bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn put_f32(bytes: &mut [u8], at: usize, v: f32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Recompute the footer checksum so that only the intended defect remains.
fn fix_checksum(bytes: &mut [u8]) {
    let crc = crc32fast::hash(&bytes[..FOOTER]);
    put_u32(bytes, FOOTER, crc);
}

/// Write a patched copy of the sample; the directory lives as long as the guard.
fn patched_file(patch: impl FnOnce(&mut Vec<u8>)) -> (PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = sample_bytes(dir.path());
    patch(&mut bytes);
    let path = dir.path().join("bad.csr");
    fs::write(&path, &bytes).unwrap();
    (path, dir)
}

/// Write a patched copy of the sample and open it.
fn open_patched(patch: impl FnOnce(&mut Vec<u8>)) -> (PathBuf, SparseError, tempfile::TempDir) {
    let (path, dir) = patched_file(patch);
    let err = MappedMatrix::open(&path).expect_err("the defect must be caught at open");
    (path, err, dir)
}

/// `err` is an invalid value of `kind` whose message names `path` and `place`.
fn assert_invalid_value(err: &SparseError, kind: &str, path: &Path, place: &str) {
    assert!(
        matches!(err, SparseError::InvalidValue { kind: k, .. } if *k == kind),
        "{err:?}"
    );
    assert_names(err, path, place);
}

fn assert_names(err: &SparseError, path: &Path, place: &str) {
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "message {msg:?} does not name {}",
        path.display()
    );
    assert!(
        msg.contains(place),
        "message {msg:?} does not name the place {place:?}"
    );
    assert_eq!(err.path(), path);
}

#[test]
fn the_sample_layout_is_as_documented_and_opens() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = sample_bytes(dir.path());
    assert_eq!(&bytes[0..8], b"TMILLCSR");
    assert_eq!(&bytes[FOOTER + 8..], b"TMILLEND");
    let indptr: Vec<u64> = bytes[INDPTR..INDPTR + 32]
        .chunks(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(indptr, [0, 2, 3, 4]);
    let m = MappedMatrix::open(dir.path().join("good.csr")).unwrap();
    m.verify().unwrap();
    assert_eq!(m.view(), sample().view());
}

#[test]
fn truncated_file() {
    let (path, err, _d) = open_patched(|b| b.truncate(300));
    assert!(
        matches!(
            err,
            SparseError::Truncated {
                expected: 336,
                actual: 300,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &path, "truncated");
}

#[test]
fn file_shorter_than_a_header() {
    let (path, err, _d) = open_patched(|b| b.truncate(40));
    assert!(
        matches!(err, SparseError::Truncated { actual: 40, .. }),
        "{err:?}"
    );
    assert_names(&err, &path, "truncated");
}

#[test]
fn empty_file() {
    let (path, err, _d) = open_patched(Vec::clear);
    assert!(
        matches!(err, SparseError::Truncated { actual: 0, .. }),
        "{err:?}"
    );
    assert_names(&err, &path, "truncated");
}

#[test]
fn wrong_magic() {
    let (path, err, _d) = open_patched(|b| b[0..8].copy_from_slice(b"PK\x03\x04zip!"));
    assert!(matches!(err, SparseError::BadMagic { .. }), "{err:?}");
    assert_names(&err, &path, "byte offset 0");
}

#[test]
fn future_format_version() {
    let (path, err, _d) = open_patched(|b| put_u32(b, 8, 2));
    assert!(
        matches!(
            err,
            SparseError::UnsupportedVersion {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &path, "byte offset 8: format version 2");
}

#[test]
fn unknown_dtype_code() {
    let (path, err, _d) = open_patched(|b| b[18] = 9);
    assert!(
        matches!(err, SparseError::BadHeader { offset: 18, .. }),
        "{err:?}"
    );
    assert_names(&err, &path, "byte offset 18");
}

#[test]
fn section_overruns_the_file() {
    // The data section claims to start at 320, where the footer is: 16 bytes over.
    let (path, err, _d) = open_patched(|b| put_u64(b, 80, FOOTER as u64));
    assert!(
        matches!(
            err,
            SparseError::SectionOutOfBounds {
                section: "data",
                offset: 320,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &path, "section data at byte offset 320");
}

#[test]
fn section_offset_past_the_end_without_overflow_panic() {
    let (path, err, _d) = open_patched(|b| put_u64(b, 48, u64::MAX - 63));
    assert!(
        matches!(
            err,
            SparseError::SectionOutOfBounds {
                section: "indptr",
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &path, "overruns");
}

#[test]
fn misaligned_section() {
    let (path, err, _d) = open_patched(|b| put_u64(b, 64, INDICES as u64 + 4));
    assert!(
        matches!(
            err,
            SparseError::SectionOutOfBounds {
                section: "indices",
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &path, "aligned");
}

#[test]
fn section_length_disagrees_with_shape() {
    let (path, err, _d) = open_patched(|b| put_u64(b, 40, 5)); // nnz 4 -> 5
    assert!(matches!(err, SparseError::BadHeader { .. }), "{err:?}");
    assert_names(&err, &path, "header, byte offset");
}

#[test]
fn column_index_not_below_ncols() {
    let (path, err, _d) = open_patched(|b| put_u32(b, INDICES + 4, 4)); // row 0: [0, 4]
    assert!(
        matches!(
            err,
            SparseError::ColumnOutOfRange {
                row: 0,
                col: 4,
                ncols: 4,
                offset: 132,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &path, "section indices, byte offset 132, row 0");
}

#[test]
fn row_pointer_decreases() {
    let (path, err, _d) = open_patched(|b| put_u64(b, INDPTR + 16, 1)); // [0, 2, 1, 4]
    assert!(
        matches!(err, SparseError::BadRowPointer { row: 2, .. }),
        "{err:?}"
    );
    assert_names(&err, &path, "section indptr, byte offset 272, row 2");
}

#[test]
fn row_pointer_not_starting_at_zero() {
    let (path, err, _d) = open_patched(|b| put_u64(b, INDPTR, 1));
    assert!(
        matches!(err, SparseError::BadRowPointer { row: 0, .. }),
        "{err:?}"
    );
    assert_names(&err, &path, "section indptr, byte offset 256");
}

#[test]
fn unsorted_column_indices() {
    let (path, err, _d) = open_patched(|b| {
        put_u32(b, INDICES, 2);
        put_u32(b, INDICES + 4, 0);
    });
    assert!(
        matches!(
            err,
            SparseError::UnsortedColumns {
                row: 0,
                previous: 2,
                col: 0,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &path, "section indices, byte offset 132");
}

#[test]
fn duplicate_column_indices() {
    let (path, err, _d) = open_patched(|b| put_u32(b, INDICES + 4, 0)); // row 0: [0, 0]
    assert!(
        matches!(err, SparseError::DuplicateColumn { row: 0, col: 0, .. }),
        "{err:?}"
    );
    assert_names(&err, &path, "section indices, byte offset 132, row 0");
}

/// Value defects pass the open (structure) and are caught by `verify`.
fn verify_patched(patch: impl FnOnce(&mut Vec<u8>)) -> (PathBuf, SparseError, tempfile::TempDir) {
    let (path, dir) = patched_file(patch);
    let m = MappedMatrix::open(&path).expect("values are not checked at open");
    let err = m.verify().expect_err("verify must catch the defect");
    (path, err, dir)
}

#[test]
fn nan_value() {
    let (path, err, _d) = verify_patched(|b| {
        put_f32(b, DATA + 8, f32::NAN); // row 1, column 1
        fix_checksum(b);
    });
    assert_invalid_value(
        &err,
        "NaN",
        &path,
        "section data, byte offset 200, row 1, column 1",
    );
}

#[test]
fn infinite_value() {
    let (path, err, _d) = verify_patched(|b| {
        put_f32(b, DATA + 12, f32::INFINITY); // row 2, column 3
        fix_checksum(b);
    });
    assert_invalid_value(
        &err,
        "infinite",
        &path,
        "section data, byte offset 204, row 2, column 3",
    );
}

#[test]
fn negative_value() {
    let (path, err, _d) = verify_patched(|b| {
        put_f32(b, DATA, -1.5); // row 0, column 0
        fix_checksum(b);
    });
    assert_invalid_value(
        &err,
        "negative",
        &path,
        "section data, byte offset 192, row 0, column 0",
    );
}

#[test]
fn corrupted_byte_fails_the_checksum() {
    let (path, err, _d) = verify_patched(|b| put_f32(b, DATA, 7.0));
    assert!(
        matches!(err, SparseError::ChecksumMismatch { offset: 320, .. }),
        "{err:?}"
    );
    assert_names(&err, &path, "footer, byte offset 320: checksum mismatch");
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.csr");
    let err = MappedMatrix::open(&path).unwrap_err();
    assert!(
        matches!(&err, SparseError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
        "{err:?}"
    );
    assert_names(&err, &path, "cannot open");
}

/// The entries of `dir`, to prove nothing (no temporary file) was left behind.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn unwritable_output_directory() {
    // A path below a regular file cannot be a directory, even for root (tests may
    // run as root, which ignores permission bits).
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    fs::write(&blocker, b"not a directory").unwrap();
    let target = blocker.join("x.csr");
    let err = write_matrix(&target, sample().view()).unwrap_err();
    assert!(matches!(err, SparseError::Io { .. }), "{err:?}");
    assert_names(
        &err,
        &blocker,
        "cannot create a temporary file in this directory",
    );

    let corpus_target = blocker.join("corpus");
    let err = CorpusWriter::create(&corpus_target, 4).unwrap_err();
    assert!(matches!(err, SparseError::Io { .. }), "{err:?}");
    assert_names(
        &err,
        &blocker,
        "cannot create the directory to hold the corpus",
    );
    assert_eq!(entries(dir.path()), ["file"]);
}

#[test]
fn rejected_row_leaves_no_file_and_writer_usable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.csr");
    let mut w = MatrixWriter::create(&path, 3).unwrap();
    let cases: [(&[u32], &[f32], &str); 5] = [
        (&[0, 3], &[1.0, 1.0], "column index 3 >= ncols 3"),
        (&[1, 0], &[1.0, 1.0], "strictly increasing"),
        (&[1, 1], &[1.0, 1.0], "strictly increasing"),
        (&[0], &[f32::NAN], "NaN"),
        (&[0, 1], &[1.0], "2 column indices but 1 values"),
    ];
    for (idx, val, what) in cases {
        let err = w.push_row(idx, val).unwrap_err();
        assert!(
            matches!(err, SparseError::InvalidRow { row: 0, .. }),
            "{err:?}"
        );
        assert_names(&err, &path, what);
    }
    assert!(!path.exists());
    w.push_row(&[0, 2], &[1.0, 2.0]).unwrap();
    drop(w); // abandoned: nothing may remain
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}

#[test]
fn failed_write_leaves_the_old_file_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.csr");
    write_matrix(&path, sample().view()).unwrap();
    let before = fs::read(&path).unwrap();
    let bad = CsrMatrix::new((1, 2), vec![0, 1], vec![1], vec![-1.0]);
    let err = write_matrix(&path, bad.view()).unwrap_err();
    assert!(matches!(err, SparseError::InvalidRow { .. }), "{err:?}");
    assert_eq!(fs::read(&path).unwrap(), before);
    assert_eq!(entries(dir.path()), ["x.csr"]);
}

#[test]
fn corpus_with_mismatched_vocabulary_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("corpus");
    let ids = ["a", "b", "c"];
    let err = write_corpus(
        &target,
        sample().view(),
        &["w0", "w1", "w2"],
        &ids,
        None,
        serde_json::Value::Null,
    )
    .unwrap_err();
    assert!(matches!(err, SparseError::CorpusMismatch { .. }), "{err:?}");
    assert_names(
        &err,
        &target,
        "vocabulary has 3 terms but the matrix has 4 columns",
    );
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}

#[test]
fn corpus_refuses_to_overwrite_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("corpus");
    let vocab = ["w0", "w1", "w2", "w3"];
    let ids = ["a", "b", "c"];
    write_corpus(
        &target,
        sample().view(),
        &vocab,
        &ids,
        None,
        serde_json::json!({"n": 1}),
    )
    .unwrap();
    let err = write_corpus(
        &target,
        sample().view(),
        &vocab,
        &ids,
        None,
        serde_json::json!({}),
    )
    .unwrap_err();
    assert!(matches!(err, SparseError::AlreadyExists { .. }), "{err:?}");
    assert_eq!(entries(dir.path()), ["corpus"]);
    assert_eq!(Corpus::open(&target).unwrap().manifest().extra["n"], 1);

    let mut w = CorpusWriter::create(&target, 4).unwrap().overwrite(true);
    w.push_row(&[1], &[5.0]).unwrap();
    w.finish(&vocab, &["only"], Some(&["L"]), serde_json::json!({"n": 2}))
        .unwrap();
    let c = Corpus::open(&target).unwrap();
    c.verify().unwrap();
    assert_eq!(c.manifest().extra["n"], 2);
    assert_eq!(c.matrix().shape(), (1, 4));
    assert_eq!(c.labels(), Some(&["L".to_string()][..]));
    assert_eq!(entries(dir.path()), ["corpus"]);
}

/// `overwrite` replaces a corpus directory and nothing else: a directory
/// of other files, a plain file or a link are refused when the writer is
/// created (before any work) and, should one appear meanwhile, again when
/// it is finished; nothing is touched and nothing is left behind.
#[test]
fn overwrite_replaces_only_a_corpus_directory() {
    let dir = tempfile::tempdir().unwrap();
    let thesis = dir.path().join("p");
    fs::create_dir(&thesis).unwrap();
    fs::write(thesis.join("thesis.tex"), "x").unwrap();
    let plain = dir.path().join("plain");
    fs::write(&plain, "x").unwrap();
    // An export folder holds a manifest.json too, but not a corpus's.
    let export = dir.path().join("export");
    fs::create_dir(&export).unwrap();
    fs::write(export.join("manifest.json"), r#"{"input": "lines"}"#).unwrap();
    let link = dir.path().join("link");
    write_sample_corpus(&dir.path().join("corpus"));
    let dangling = dir.path().join("dangling");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(dir.path().join("corpus"), &link).unwrap();
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
    }
    let before = entries(dir.path());
    for target in [&thesis, &plain, &export, &link, &dangling] {
        if fs::symlink_metadata(target).is_err() {
            continue;
        }
        for overwrite in [true, false] {
            let err = CorpusWriter::check_target(target, overwrite).unwrap_err();
            if overwrite {
                assert!(matches!(err, SparseError::NotACorpus { .. }), "{err:?}");
                assert_eq!(
                    err.to_string(),
                    format!(
                        "{}: exists and is not a corpus directory: refusing to replace it",
                        target.display()
                    )
                );
            } else {
                assert!(matches!(err, SparseError::AlreadyExists { .. }), "{err:?}");
            }
        }
        let err = CorpusWriter::create(target, 4).unwrap_err();
        assert!(matches!(err, SparseError::NotACorpus { .. }), "{err:?}");
    }
    assert_eq!(entries(dir.path()), before);
    assert_eq!(fs::read_to_string(thesis.join("thesis.tex")).unwrap(), "x");
    assert_eq!(fs::read_to_string(&plain).unwrap(), "x");

    // Checked again at the end: the target became a folder of other files.
    let target = dir.path().join("late");
    let mut w = CorpusWriter::create(&target, 4).unwrap().overwrite(true);
    w.push_row(&[1], &[5.0]).unwrap();
    fs::create_dir(&target).unwrap();
    fs::write(target.join("notes.txt"), "x").unwrap();
    let err = w
        .finish(
            &["w0", "w1", "w2", "w3"],
            &["a"],
            None,
            serde_json::json!({}),
        )
        .unwrap_err();
    assert!(matches!(err, SparseError::NotACorpus { .. }), "{err:?}");
    assert_eq!(entries(&target), ["notes.txt"]);
    let mut want = before.clone();
    want.push("late".into());
    want.sort();
    assert_eq!(entries(dir.path()), want);

    // A corpus is replaced, and an empty directory filled.
    assert!(CorpusWriter::check_target(dir.path().join("corpus"), true).is_ok());
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    assert!(CorpusWriter::check_target(&empty, false).is_ok());
    write_sample_corpus(&empty);
    Corpus::open(&empty).unwrap();
}

/// A corpus that also holds other files is not replaced: replacing it
/// removed them (QA N3). Without those, the same corpus is.
#[test]
fn overwrite_keeps_a_corpus_directory_holding_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    write_sample_corpus(&corpus);
    fs::write(corpus.join("thesis.tex"), "x").unwrap();
    let err = CorpusWriter::check_target(&corpus, true).unwrap_err();
    assert!(
        matches!(&err, SparseError::CorpusHoldsOthers { entry, .. } if entry == Path::new("thesis.tex")),
        "{err:?}"
    );
    assert!(err.to_string().contains("also holds thesis.tex"), "{err}");
    let err = CorpusWriter::create(&corpus, 4).unwrap_err();
    assert!(
        matches!(err, SparseError::CorpusHoldsOthers { .. }),
        "{err:?}"
    );
    assert_eq!(fs::read_to_string(corpus.join("thesis.tex")).unwrap(), "x");
    fs::remove_file(corpus.join("thesis.tex")).unwrap();
    assert!(CorpusWriter::check_target(&corpus, true).is_ok());
}

/// `c/../c` and `c/.` name the corpus `c`: replacing it through them puts the
/// new corpus at `c` and leaves nothing beside it. Through `c/../c` the old
/// corpus was moved aside through `c/..`, which then no longer existed for
/// the new one (QA N1: `c` gone, both corpora in temporary directories); at
/// `c/.` the rename failed.
#[test]
fn a_corpus_is_replaced_through_dot_components() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("c");
    write_sample_corpus(&corpus);
    for (i, spelled) in ["c/../c", "c/.", "./c/"].into_iter().enumerate() {
        let mut w = CorpusWriter::create(dir.path().join(spelled), 4)
            .unwrap()
            .overwrite(true);
        w.push_row(&[i as u32], &[1.0]).unwrap();
        w.finish(
            &["w0", "w1", "w2", "w3"],
            &["a"],
            None,
            serde_json::json!({}),
        )
        .unwrap_or_else(|e| panic!("{spelled}: {e}"));
        assert_eq!(entries(dir.path()), ["c"], "{spelled}");
        let got = Corpus::open(&corpus).unwrap();
        assert_eq!(got.matrix().indices(), [i as u32], "{spelled}");
    }
}

/// The current directory and its ancestors can be neither replaced nor
/// renamed into: refused at once, nothing made.
#[test]
fn the_working_directory_is_refused() {
    for target in [".", "..", "./", "/"] {
        for overwrite in [true, false] {
            let err = CorpusWriter::check_target(target, overwrite).unwrap_err();
            assert!(
                matches!(err, SparseError::WorkingDirectory { .. }),
                "{target}: {err:?}"
            );
            assert_eq!(
                err.to_string(),
                format!("{target}: is the current directory or one of its ancestors: refusing to write a corpus there")
            );
        }
        let err = CorpusWriter::create(target, 4).unwrap_err();
        assert!(
            matches!(err, SparseError::WorkingDirectory { .. }),
            "{target}: {err:?}"
        );
    }
    let leftovers: Vec<String> = entries(Path::new("."))
        .into_iter()
        .chain(entries(Path::new("..")))
        .filter(|n| n.starts_with(".topicmill-") || n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// An output may not be, contain or lie inside an input, compared as
/// canonical paths whether the output exists or not.
#[test]
fn the_output_must_be_apart_from_the_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    fs::create_dir_all(base.join("p/q")).unwrap();
    fs::write(base.join("p/q/in.jsonl"), "{}").unwrap();
    fs::create_dir(base.join("fold")).unwrap();
    let input = base.join("p/q/in.jsonl");
    let fold = base.join("fold");
    #[cfg(unix)]
    std::os::unix::fs::symlink(base.join("p"), base.join("alias")).unwrap();
    for (output, inp, relation) in [
        (base.join("p/q/in.jsonl"), &input, "is"),
        (base.join("p/q/../q/in.jsonl"), &input, "is"),
        (base.join("p"), &input, "contains"),
        (base.join("alias"), &input, "contains"),
        (base.join("fold"), &fold, "is"),
        (base.join("fold/new/../corpus"), &fold, "lies inside"),
        (base.join("fold/new/deeper"), &fold, "lies inside"),
    ] {
        if !output.starts_with(base.join("alias")) || base.join("alias").exists() {
            let err = CorpusWriter::check_apart(&output, &[&fold, &input]).unwrap_err();
            assert!(
                matches!(err, SparseError::OutputOverlapsInput { relation: r, .. } if r == relation),
                "{}: {err:?}",
                output.display()
            );
            assert_eq!(
                err.to_string(),
                format!(
                    "{}: the output {relation} the input {}: refusing to write there",
                    output.display(),
                    inp.display()
                )
            );
        }
    }
    for apart in ["out", "p/q2", "fold2", "new/../p2", "p/q/in.jsonl2"] {
        CorpusWriter::check_apart(base.join(apart), &[&fold, &input]).unwrap();
    }
}

#[test]
fn a_corpus_that_fails_leaves_no_directory_it_made() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("new/deeper/corpus");
    // Dropped before `finish`.
    let mut w = CorpusWriter::create(&target, 4).unwrap();
    w.push_row(&[1], &[5.0]).unwrap();
    assert!(dir.path().join("new/deeper").is_dir());
    drop(w);
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
    // `finish` refusing its input.
    let w = CorpusWriter::create(&target, 4).unwrap();
    let err = w
        .finish(&["w0"], &["a"], None, serde_json::json!({}))
        .unwrap_err();
    assert!(matches!(err, SparseError::CorpusMismatch { .. }), "{err:?}");
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
    // A directory that was there stays.
    fs::create_dir(dir.path().join("kept")).unwrap();
    drop(CorpusWriter::create(dir.path().join("kept/corpus"), 4).unwrap());
    assert_eq!(entries(dir.path()), ["kept"]);
    // A finished corpus keeps the directories made for it.
    write_sample_corpus(&target);
    Corpus::open(&target).unwrap().verify().unwrap();
}

#[test]
fn an_entry_with_a_line_break_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("corpus");
    let vocab = ["w0", "w1", "w2", "w3"];
    let refused = |vocab: &[&str], ids: &[&str], labels: Option<&[&str]>, said: &str| {
        let err = write_corpus(
            &target,
            sample().view(),
            vocab,
            ids,
            labels,
            serde_json::json!({}),
        )
        .unwrap_err();
        assert!(matches!(err, SparseError::CorpusMismatch { .. }), "{err:?}");
        assert_names(&err, &target, said);
        assert!(err.to_string().contains("holds a line break"), "{err}");
        assert!(entries(dir.path()).is_empty(), "nothing left behind");
    };
    let ids = ["a", "b", "c"];
    refused(
        &["w0", "w\n1", "w2", "w3"],
        &ids,
        None,
        "term 2 of 4 (\"w\\n1\")",
    );
    refused(
        &vocab,
        &["a", "b", "c\r"],
        None,
        "document id 3 of 3 (\"c\\r\")",
    );
    refused(&vocab, &ids, Some(&["x", "y\r\nz", "w"]), "label 2 of 3");
    assert_eq!(topicmill_sparse::line_break(&["a", "b"]), None);
    assert_eq!(
        topicmill_sparse::line_break(&["a", "b\r", "c\n"]),
        Some((1, "b\r"))
    );
}

#[test]
fn corpus_with_damaged_parts_is_rejected_naming_the_part() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("corpus");
    write_sample_corpus(&target);

    fs::write(target.join("vocab.txt"), "w0\nw1\nw2\n").unwrap();
    let err = Corpus::open(&target).unwrap_err();
    assert!(matches!(err, SparseError::CorpusMismatch { .. }), "{err:?}");
    assert_names(
        &err,
        &target.join("vocab.txt"),
        "3 lines, but the matrix has 4",
    );
    // Invalid UTF-8: the line and byte offset named.
    fs::write(target.join("vocab.txt"), b"w0\nw1\nw\xff2\nw3\n").unwrap();
    let err = Corpus::open(&target).unwrap_err();
    assert!(
        matches!(err, SparseError::Syntax { line: 3, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{}: line 3: not valid UTF-8 (byte offset 7)",
            target.join("vocab.txt").display()
        )
    );
    fs::write(target.join("vocab.txt"), "w0\nw1\nw2\nw3\n").unwrap();

    // A valid file of the right shape holding a wrong value: only verify sees it.
    // (The true transpose has data [1, 3, 2, 4].)
    let wrong = CsrMatrix::new(
        (4, 3),
        vec![0, 1, 2, 3, 4],
        vec![0, 1, 0, 2],
        vec![9.0, 3.0, 2.0, 4.0],
    );
    write_matrix(&target.join("matrix_t.csr"), wrong.view()).unwrap();
    let c = Corpus::open(&target).unwrap();
    let err = c.verify().unwrap_err();
    assert!(matches!(err, SparseError::CorpusMismatch { .. }), "{err:?}");
    assert_names(
        &err,
        &target.join("matrix_t.csr"),
        "disagrees with the matrix at row 0, column 0",
    );

    fs::write(target.join("manifest.json"), "{ not json").unwrap();
    let err = Corpus::open(&target).unwrap_err();
    assert!(matches!(err, SparseError::Manifest { .. }), "{err:?}");
    assert_names(&err, &target.join("manifest.json"), "invalid manifest");
}

#[test]
fn overlapping_sections() {
    let (path, err, _d) = open_patched(|b| put_u64(b, 80, INDICES as u64)); // data onto indices
    assert!(
        matches!(err, SparseError::SectionOutOfBounds { .. }),
        "{err:?}"
    );
    assert_names(&err, &path, "overlaps section");
}

#[test]
fn a_row_block_is_the_same_rows_as_the_whole_matrix() {
    let (path, _d) = patched_file(|_| {});
    let rows = MappedRows::open(&path).unwrap();
    assert_eq!(rows.shape(), (3, 4));
    assert_eq!(rows.indptr(), &[0, 2, 3, 4]);
    let whole = sample();
    for (start, end) in [(0, 3), (0, 1), (1, 3), (2, 3), (1, 1), (3, 3)] {
        let block = rows.block(start..end).unwrap();
        assert_eq!(block.shape(), (end - start, 4));
        assert_eq!(block.to_owned(), whole.slice_outer(start..end).to_owned());
        rows.check_values(start..end).unwrap();
    }
}

#[test]
fn a_row_block_outside_the_matrix_is_an_error() {
    let (path, _d) = patched_file(|_| {});
    let rows = MappedRows::open(&path).unwrap();
    #[allow(clippy::reversed_empty_ranges)]
    for range in [0..4, 2..1, 4..4] {
        let err = rows
            .block(range.clone())
            .expect_err("rows outside the matrix");
        assert!(
            matches!(err, SparseError::RowsOutOfRange { nrows: 3, .. }),
            "{err:?}"
        );
        assert_names(&err, &path, "but the matrix has 3 rows");
        assert!(rows.check_values(range).is_err());
    }
}

#[test]
fn row_pointers_are_checked_at_open_columns_only_in_the_block_asked_for() {
    // A bad row pointer is caught by MappedRows::open itself.
    let (path, _d) = patched_file(|b| put_u64(b, INDPTR + 16, 1)); // [0, 2, 1, 4]
    let err = MappedRows::open(&path).expect_err("bad row pointers");
    assert!(
        matches!(err, SparseError::BadRowPointer { row: 2, .. }),
        "{err:?}"
    );
    assert_names(&err, &path, "section indptr, byte offset 272, row 2");

    // A bad column in row 0 fails the blocks that hold row 0, not the others.
    let (path, _d) = patched_file(|b| put_u32(b, INDICES + 4, 4)); // row 0: [0, 4]
    let rows = MappedRows::open(&path).expect("the row pointers are fine");
    let err = rows.block(0..2).expect_err("row 0 has column 4 of 4");
    assert!(
        matches!(err, SparseError::ColumnOutOfRange { row: 0, col: 4, .. }),
        "{err:?}"
    );
    assert_names(&err, &path, "section indices, byte offset 132, row 0");
    assert_eq!(rows.block(1..3).unwrap().nnz(), 2);
}

#[test]
fn a_bad_value_is_reported_for_its_block_only() {
    let (path, _d) = patched_file(|b| put_f32(b, DATA + 8, -3.0)); // row 1, column 1
    let rows = MappedRows::open(&path).unwrap();
    rows.check_values(0..1).unwrap();
    rows.check_values(2..3).unwrap();
    let err = rows.check_values(1..3).expect_err("row 1 holds -3");
    assert_invalid_value(
        &err,
        "negative",
        &path,
        "section data, byte offset 200, row 1, column 1",
    );
}

/// QA defect 17: a corpus writer's errors named its temporary directory
/// ('…/.c.tmp-3pC9Kc/matrix.csr: 4294967297 columns exceed …'), a path
/// the user never gave and that is gone once the error is read. Too many
/// columns, and a row refused, name the target; nothing is left.
#[test]
fn corpus_writer_errors_name_the_target_not_its_temporary_directory() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("c");
    let err = CorpusWriter::create(&target, u32::MAX as usize + 2).unwrap_err();
    assert!(matches!(err, SparseError::TooLarge { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: 4294967297 columns exceed the u32 column-index limit",
            target.display()
        )
    );
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));

    let mut w = CorpusWriter::create(&target, 3).unwrap();
    let err = w.push_row(&[0, 1], &[1.0, f32::NAN]).unwrap_err();
    assert!(
        matches!(err, SparseError::InvalidRow { row: 0, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("{}: row 0: value NaN at column 1 is NaN", target.display())
    );
    assert_eq!(err.path(), target);
    drop(w);
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}

/// A text file of the corpus changed after it was written, its line count
/// kept (a term renamed, an id edited), fails `verify` naming the file: the
/// manifest records each text file's CRC-32. A manifest without them (a
/// corpus written before they were recorded) still verifies.
#[test]
fn a_text_file_changed_after_writing_fails_verify() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("c");
    write_sample_corpus(&target);
    let manifest = fs::read_to_string(target.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"text_crc32\""), "{manifest}");
    Corpus::open(&target).unwrap().verify().unwrap();
    for (file, edited) in [
        ("vocab.txt", "w0\nwX\nw2\nw3\n"),
        ("doc_ids.txt", "a\nB\nc\n"),
    ] {
        let original = fs::read(target.join(file)).unwrap();
        fs::write(target.join(file), edited).unwrap();
        let err = Corpus::open(&target).unwrap().verify().unwrap_err();
        assert!(
            matches!(err, SparseError::TextChecksumMismatch { .. }),
            "{err:?}"
        );
        assert_names(
            &err,
            &target.join(file),
            "the file changed after the corpus was written",
        );
        fs::write(target.join(file), original).unwrap();
    }
    // Written before the checksums: nothing to check them against.
    let mut old: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    old.as_object_mut().unwrap().remove("text_crc32");
    fs::write(target.join("manifest.json"), old.to_string()).unwrap();
    fs::write(target.join("vocab.txt"), "w0\nwX\nw2\nw3\n").unwrap();
    Corpus::open(&target).unwrap().verify().unwrap();
}
