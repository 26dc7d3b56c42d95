//! MatrixMarket and UCI docword reading: good files in every variant, and each bad
//! input with its typed error naming the file and the line.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use topicmill_sparse::{read_docword, read_mtx, read_vocab, SparseError};

fn file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path
}

fn gzip(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    let mut enc = flate2::write::GzEncoder::new(
        fs::File::create(&path).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(text.as_bytes()).unwrap();
    enc.finish().unwrap();
    path
}

fn dense(m: &topicmill_sparse::CsrMatrix) -> Vec<Vec<f32>> {
    let mut d = vec![vec![0.0; m.cols()]; m.rows()];
    for (v, (r, c)) in m.iter() {
        d[r as usize][c as usize] = *v;
    }
    d
}

fn assert_names(err: &SparseError, path: &Path, place: &str) {
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "{msg:?} does not name the file"
    );
    assert!(msg.contains(place), "{msg:?} does not name {place:?}");
}

const MTX: &str = "%%MatrixMarket matrix coordinate real general\n\
% a comment\n\
3 4 4\n\
3 4 4.5\n\
1 3 2\n\
2 2 3e0\n\
1 1 1.25\n";

#[test]
fn mtx_in_any_order_becomes_sorted_csr() {
    let dir = tempfile::tempdir().unwrap();
    let m = read_mtx(&file(dir.path(), "a.mtx", MTX)).unwrap();
    assert_eq!(
        dense(&m),
        vec![
            vec![1.25, 0.0, 2.0, 0.0],
            vec![0.0, 3.0, 0.0, 0.0],
            vec![0.0, 0.0, 0.0, 4.5]
        ]
    );
    assert_eq!(m.indices(), [0, 2, 1, 3]);
}

#[test]
fn gzip_is_detected_by_magic_bytes_not_name() {
    let dir = tempfile::tempdir().unwrap();
    let plain = read_mtx(&file(dir.path(), "plain.mtx.gz", MTX)).unwrap();
    let zipped = read_mtx(&gzip(dir.path(), "zipped.txt", MTX)).unwrap();
    assert_eq!(plain, zipped);
    assert_eq!(plain.nnz(), 4);
}

#[test]
fn mtx_integer_and_pattern_fields() {
    let dir = tempfile::tempdir().unwrap();
    let int = "%%MatrixMarket matrix coordinate integer general\n2 2 2\n1 2 7\n2 1 3\n";
    let m = read_mtx(&file(dir.path(), "i.mtx", int)).unwrap();
    assert_eq!(dense(&m), vec![vec![0.0, 7.0], vec![3.0, 0.0]]);
    let pat = "%%MatrixMarket matrix coordinate pattern general\n2 3 2\n2 3\n1 1\n";
    let m = read_mtx(&file(dir.path(), "p.mtx", pat)).unwrap();
    assert_eq!(dense(&m), vec![vec![1.0, 0.0, 0.0], vec![0.0, 0.0, 1.0]]);
}

fn mtx_err(text: &str) -> (SparseError, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "bad.mtx", text);
    (read_mtx(&path).unwrap_err(), path, dir)
}

#[test]
fn mtx_wrong_size_line() {
    let (err, path, _d) =
        mtx_err("%%MatrixMarket matrix coordinate real general\n%c\n3 4\n1 1 1\n");
    assert!(
        matches!(err, SparseError::HeaderMismatch { line: 3, .. }),
        "{err:?}"
    );
    assert_names(&err, &path, "line 3: wrong size line '3 4'");
}

#[test]
fn mtx_size_line_promises_more_entries_than_given() {
    let (err, path, _d) =
        mtx_err("%%MatrixMarket matrix coordinate real general\n3 4 3\n1 1 1\n2 2 2\n");
    assert!(
        matches!(err, SparseError::HeaderMismatch { line: 5, .. }),
        "{err:?}"
    );
    assert_names(&err, &path, "line 5: file ends after 2 entries");
}

#[test]
fn mtx_more_entries_than_the_size_line() {
    let (err, path, _d) =
        mtx_err("%%MatrixMarket matrix coordinate real general\n3 4 1\n1 1 1\n2 2 2\n");
    assert!(
        matches!(err, SparseError::HeaderMismatch { line: 4, .. }),
        "{err:?}"
    );
    assert_names(&err, &path, "line 4: more entries");
}

#[test]
fn mtx_non_numeric_entry() {
    let (err, path, _d) =
        mtx_err("%%MatrixMarket matrix coordinate real general\n3 4 2\n1 1 1\n2 2 two\n");
    assert!(
        matches!(err, SparseError::Syntax { line: 4, .. }),
        "{err:?}"
    );
    assert_names(&err, &path, "line 4: value 'two' is not a number");
    let (err, path, _d) = mtx_err("%%MatrixMarket matrix coordinate real general\n3 4 1\nx 1 1\n");
    assert!(
        matches!(err, SparseError::Syntax { line: 3, .. }),
        "{err:?}"
    );
    assert_names(&err, &path, "line 3: row 'x'");
}

#[test]
fn mtx_entry_outside_the_shape() {
    let (err, path, _d) = mtx_err("%%MatrixMarket matrix coordinate real general\n3 4 1\n4 1 1\n");
    assert!(
        matches!(
            err,
            SparseError::EntryOutOfRange {
                line: 3,
                row: 4,
                col: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &path, "line 3: entry (4, 1)");
    let (err, _, _d) = mtx_err("%%MatrixMarket matrix coordinate real general\n3 4 1\n1 0 1\n");
    assert!(
        matches!(err, SparseError::EntryOutOfRange { col: 0, .. }),
        "{err:?}"
    );
}

#[test]
fn mtx_nan_infinite_negative_values() {
    for (v, kind) in [("nan", "NaN"), ("inf", "infinite"), ("-2.5", "negative")] {
        let (err, path, _d) = mtx_err(&format!(
            "%%MatrixMarket matrix coordinate real general\n3 4 2\n1 1 1\n2 2 {v}\n"
        ));
        assert!(
            matches!(&err, SparseError::InvalidTextValue { kind: k, line: 4, .. } if *k == kind),
            "{err:?}"
        );
        assert_names(
            &err,
            &path,
            &format!("line 4: invalid value '{v}' ({kind})"),
        );
    }
}

/// A value beyond the f32 range is shown as written, not as the `inf` it
/// reads as.
#[test]
fn mtx_value_beyond_f32_is_shown_as_written() {
    let (err, path, _d) =
        mtx_err("%%MatrixMarket matrix coordinate real general\n3 4 2\n1 1 1\n2 2 1e39\n");
    assert!(
        matches!(&err, SparseError::InvalidTextValue { line: 4, text, .. } if text == "1e39"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{}: line 4: invalid value '1e39' (beyond the f32 range)",
            path.display()
        )
    );
}

#[test]
fn mtx_duplicate_entry_names_both_lines() {
    let (err, path, _d) =
        mtx_err("%%MatrixMarket matrix coordinate real general\n3 4 3\n2 3 1\n1 1 1\n2 3 5\n");
    assert!(
        matches!(
            err,
            SparseError::DuplicateEntry {
                line: 5,
                first_line: 3,
                row: 2,
                col: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(
        &err,
        &path,
        "line 5: duplicate entry (2, 3), first given on line 3",
    );
}

#[test]
fn mtx_unsupported_banners() {
    for (banner, what) in [
        ("%%MatrixMarket matrix array real general", "matrix array"),
        (
            "%%MatrixMarket matrix coordinate complex general",
            "complex",
        ),
        (
            "%%MatrixMarket matrix coordinate real symmetric",
            "symmetric",
        ),
        ("3 4 1", "banner"),
    ] {
        let (err, path, _d) = mtx_err(&format!("{banner}\n3 4 1\n1 1 1\n"));
        assert!(
            matches!(err, SparseError::Syntax { line: 1, .. }),
            "{err:?}"
        );
        assert_names(&err, &path, what);
    }
}

#[test]
fn missing_input_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("none.mtx");
    let err = read_mtx(&path).unwrap_err();
    assert!(matches!(err, SparseError::Io { .. }), "{err:?}");
    assert_names(&err, &path, "cannot open");
    let err = read_docword(&path).unwrap_err();
    assert!(matches!(err, SparseError::Io { .. }), "{err:?}");
}

const DOCWORD: &str = "3\n5\n5\n1 4 2\n1 2 1\n2 5 7\n3 1 1\n3 2 3\n";

#[test]
fn docword_rows_are_sorted_by_word() {
    let dir = tempfile::tempdir().unwrap();
    let m = read_docword(&gzip(dir.path(), "docword.t.txt.gz", DOCWORD)).unwrap();
    assert_eq!(
        dense(&m),
        vec![
            vec![0.0, 1.0, 0.0, 2.0, 0.0],
            vec![0.0, 0.0, 0.0, 0.0, 7.0],
            vec![1.0, 3.0, 0.0, 0.0, 0.0]
        ]
    );
}

fn docword_err(text: &str) -> (SparseError, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "docword.bad.txt", text);
    (read_docword(&path).unwrap_err(), path, dir)
}

#[test]
fn docword_header_disagrees_with_body() {
    // NNZ says 4, the body has 3 entries.
    let (err, path, _d) = docword_err("2\n3\n4\n1 1 1\n1 2 1\n2 3 1\n");
    assert!(
        matches!(err, SparseError::HeaderMismatch { line: 7, .. }),
        "{err:?}"
    );
    assert_names(
        &err,
        &path,
        "line 7: file ends after 3 entries, but line 3 declares NNZ = 4",
    );
    // NNZ says 1, the body has 2.
    let (err, path, _d) = docword_err("2\n3\n1\n1 1 1\n1 2 1\n");
    assert!(
        matches!(err, SparseError::HeaderMismatch { line: 5, .. }),
        "{err:?}"
    );
    assert_names(&err, &path, "line 5: more entries than NNZ = 1");
    // A word id beyond W = 3.
    let (err, path, _d) = docword_err("2\n3\n2\n1 1 1\n2 4 1\n");
    assert!(
        matches!(
            err,
            SparseError::EntryOutOfRange {
                line: 5,
                row: 2,
                col: 4,
                ncols: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &path, "line 5: entry (2, 4)");
    // A document id beyond D = 2.
    let (err, _, _d) = docword_err("2\n3\n1\n3 1 1\n");
    assert!(
        matches!(err, SparseError::EntryOutOfRange { row: 3, .. }),
        "{err:?}"
    );
}

#[test]
fn docword_bad_header_lines() {
    let (err, path, _d) = docword_err("2\nthree\n1\n1 1 1\n");
    assert!(
        matches!(err, SparseError::HeaderMismatch { line: 2, .. }),
        "{err:?}"
    );
    assert_names(
        &err,
        &path,
        "line 2: header line 2 must be the single integer W",
    );
    let (err, path, _d) = docword_err("2\n3\n");
    assert!(
        matches!(err, SparseError::HeaderMismatch { line: 3, .. }),
        "{err:?}"
    );
    assert_names(&err, &path, "line 3");
}

#[test]
fn docword_empty_corpus() {
    let (err, path, _d) = docword_err("0\n0\n0\n");
    assert!(matches!(err, SparseError::EmptyCorpus { .. }), "{err:?}");
    assert_names(&err, &path, "empty corpus");
}

#[test]
fn docword_bad_entries() {
    let (err, path, _d) = docword_err("2\n3\n2\n1 1 1\n2 3\n");
    assert!(
        matches!(err, SparseError::Syntax { line: 5, .. }),
        "{err:?}"
    );
    assert_names(&err, &path, "line 5: expected 'docID wordID count'");
    // Counts are positive integers, as MatrixMarket `integer` values are
    // integers.
    for count in ["-4", "1.5", "0", "2e0", "nan"] {
        let (err, path, _d) = docword_err(&format!("2\n3\n2\n1 1 1\n1 2 {count}\n"));
        assert!(
            matches!(err, SparseError::Syntax { line: 5, .. }),
            "{count}: {err:?}"
        );
        assert_names(
            &err,
            &path,
            &format!("line 5: count '{count}' is not a positive integer"),
        );
    }
    let (err, path, _d) = docword_err("2\n3\n3\n1 2 1\n2 1 1\n1 2 4\n");
    assert!(
        matches!(
            err,
            SparseError::DuplicateEntry {
                line: 6,
                first_line: 4,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(
        &err,
        &path,
        "line 6: duplicate entry (1, 2), first given on line 4",
    );
}

#[test]
fn docword_truncated_gzip_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let big: String = std::iter::once("200\n50\n10000\n".to_string())
        .chain((0..10000).map(|i| format!("{} {} 1\n", i / 50 + 1, i % 50 + 1)))
        .collect();
    let path = gzip(dir.path(), "docword.cut.txt.gz", &big);
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = read_docword(&path).unwrap_err();
    assert!(matches!(err, SparseError::Syntax { .. }), "{err:?}");
    assert_names(&err, &path, "decompression");
}

#[test]
fn vocab_lines_are_terms() {
    let dir = tempfile::tempdir().unwrap();
    let v = read_vocab(&file(dir.path(), "vocab.txt", "apple\r\nbanana \ncherry\n")).unwrap();
    assert_eq!(v, ["apple", "banana", "cherry"]);
}

/// A byte order mark opens the file, not its first term; a U+FEFF further
/// on is part of a term; a file of only the mark has a blank first term.
#[test]
fn a_vocab_file_loses_its_byte_order_mark() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "vocab.txt", "\u{FEFF}apple\n\u{FEFF}banana\n");
    assert_eq!(read_vocab(&path).unwrap(), ["apple", "\u{FEFF}banana"]);
    let path = file(dir.path(), "vocab.txt", "\u{FEFF}\nbanana\n");
    let err = read_vocab(&path).unwrap_err();
    assert_names(&err, &path, "line 1: blank term");
}

/// A column needs a name, and one of its own: a blank line or a repeated
/// term is refused naming its line (and the first).
#[test]
fn vocab_blank_or_repeated_terms_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (text, line, said) in [
        (
            "aa\nbb\naa\n",
            3,
            "line 3: term 'aa' given twice, first on line 1",
        ),
        (
            "aa\nbb\nbb \r\n",
            3,
            "line 3: term 'bb' given twice, first on line 2",
        ),
        ("aa\n\nbb\n", 2, "line 2: blank term"),
        ("aa\n  \t\nbb\n", 2, "line 2: blank term"),
    ] {
        let path = file(dir.path(), "vocab.txt", text);
        let err = read_vocab(&path).unwrap_err();
        assert!(
            matches!(err, SparseError::Syntax { line: l, .. } if l == line),
            "{text:?}: {err:?}"
        );
        assert_names(&err, &path, said);
    }
}

/// A docword file holds counts: writing anything else is refused, before
/// a file is made.
#[test]
fn write_docword_refuses_values_that_are_not_counts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("docword.x.txt");
    for v in [1.5f32, 0.0] {
        let m = topicmill_sparse::CsrMatrix::new((2, 2), vec![0, 1, 2], vec![0, 1], vec![2.0, v]);
        let err = topicmill_sparse::write_docword(&path, m.view()).unwrap_err();
        assert!(
            matches!(err, SparseError::InvalidRow { row: 1, .. }),
            "{err:?}"
        );
        assert_names(&err, &path, "is not a count");
        assert!(fs::read_dir(dir.path()).unwrap().next().is_none());
    }
}

fn streamed(path: &Path) -> Result<topicmill_sparse::CsrMatrix, SparseError> {
    let reader = topicmill_sparse::DocwordReader::open(path)?;
    let h = reader.header();
    let mut indptr = vec![0u64];
    let (mut indices, mut data) = (Vec::new(), Vec::new());
    reader.stream_rows(|i, v| {
        indices.extend_from_slice(i);
        data.extend_from_slice(v);
        indptr.push(indices.len() as u64);
        Ok(())
    })?;
    Ok(topicmill_sparse::CsrMatrix::new(
        (h.ndocs as usize, h.nwords as usize),
        indptr,
        indices,
        data,
    ))
}

#[test]
fn streaming_grouped_docword_equals_reading_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    // Documents 2 and 5 are empty (5 is the last): rows are still produced.
    let text = "5\n4\n5\n1 4 2\n1 2 1\n3 3 7\n4 1 1\n4 2 3\n";
    let path = file(dir.path(), "docword.s.txt", text);
    let whole = read_docword(&path).unwrap();
    assert_eq!(whole.rows(), 5);
    assert_eq!(streamed(&path).unwrap(), whole);
}

#[test]
fn streaming_ungrouped_docword_is_refused_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(
        dir.path(),
        "docword.u.txt",
        "3\n3\n3\n2 1 1\n1 2 1\n3 3 1\n",
    );
    let err = streamed(&path).unwrap_err();
    assert!(
        matches!(
            err,
            SparseError::NotGrouped {
                line: 5,
                row: 1,
                previous: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &path, "line 5: document 1 follows document 2");
    // Read whole, the same file is fine.
    assert_eq!(read_docword(&path).unwrap().nnz(), 3);
}

#[test]
fn streaming_reports_duplicates_and_header_mismatch_like_reading_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(
        dir.path(),
        "docword.d.txt",
        "2\n3\n3\n1 2 1\n1 1 1\n1 2 4\n",
    );
    let err = streamed(&path).unwrap_err();
    assert!(
        matches!(
            err,
            SparseError::DuplicateEntry {
                line: 6,
                first_line: 4,
                ..
            }
        ),
        "{err:?}"
    );
    let path = file(dir.path(), "docword.h.txt", "2\n3\n4\n1 2 1\n2 1 1\n");
    let err = streamed(&path).unwrap_err();
    assert!(
        matches!(err, SparseError::HeaderMismatch { line: 6, .. }),
        "{err:?}"
    );
}

/// QA defect 2: a tiny file declaring 2^32 - 1 rows made the reader
/// allocate their row pointers (34 GB) unchecked, and the process abort
/// ("memory allocation of 34359738368 bytes failed"). Now a typed error
/// naming the line of the row count, at once.
#[test]
fn a_huge_declared_row_count_is_an_error_not_an_abort() {
    if !topicmill_testdata::beyond_memory(8 << 32) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for text in [
        "%%MatrixMarket matrix coordinate real general\n4294967295 4294967295 1\n1 1 1.0\n",
        "%%MatrixMarket matrix coordinate real general\n% c\n4000000000 1 0\n",
    ] {
        let path = file(dir.path(), "huge.mtx", text);
        let err = read_mtx(&path).unwrap_err();
        assert!(matches!(err, SparseError::TooLarge { .. }), "{err:?}");
        let line = if text.contains("% c") { 3 } else { 2 };
        assert_names(&err, &path, &format!("line {line}: "));
        assert!(err.to_string().contains("rows: cannot allocate"), "{err}");
    }
    let path = file(dir.path(), "docword.huge.txt", "4294967295\n1\n1\n1 1 3\n");
    let err = read_docword(&path).unwrap_err();
    assert!(matches!(err, SparseError::TooLarge { .. }), "{err:?}");
    assert_names(&err, &path, "line 1: 4294967295 rows: cannot allocate");
}

/// QA defect 14: a non-zero value below the f32 range read as 0, silently
/// (while one above it is an error); now both are. Subnormal values, and
/// zeros however written, still read.
#[test]
fn mtx_a_non_zero_value_that_f32_would_zero_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for text in ["1e-50", "0.5e-60", "6.9E-46"] {
        let body = format!(
            "%%MatrixMarket matrix coordinate real general\n% c\n2 2 2\n1 1 {text}\n2 2 1\n"
        );
        let path = file(dir.path(), "tiny.mtx", &body);
        let err = read_mtx(&path).unwrap_err();
        assert!(
            matches!(err, SparseError::InvalidTextValue { .. }),
            "{err:?}"
        );
        assert_names(&err, &path, &format!("line 4: invalid value '{text}'"));
        assert!(
            err.to_string()
                .contains("below the f32 range, it would read as 0"),
            "{err}"
        );
    }
    let path = file(
        dir.path(),
        "small.mtx",
        "%%MatrixMarket matrix coordinate real general\n2 2 4\n1 1 1e-40\n1 2 0e-50\n2 1 0.000\n2 2 -0.0e9\n",
    );
    let m = read_mtx(&path).unwrap();
    assert_eq!(m.data()[0], 1e-40);
    assert!(m.data()[0] > 0.0);
    assert!(m.data()[1..].iter().all(|&v| v == 0.0));
}

/// QA defect 15: a UTF-8 byte order mark before a docword's D or an
/// .mtx's banner made the header unreadable (an invisible BOM in "found
/// '\u{FEFF}2'", or the generic banner error); it is skipped, plain or
/// gzipped.
#[test]
fn a_byte_order_mark_opening_a_docword_or_mtx_file_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let docword = "2\n3\n2\n1 3 4\n2 1 1\n";
    let plain = read_docword(&file(dir.path(), "docword.a.txt", docword)).unwrap();
    for path in [
        file(dir.path(), "docword.b.txt", &format!("\u{FEFF}{docword}")),
        gzip(
            dir.path(),
            "docword.c.txt.gz",
            &format!("\u{FEFF}{docword}"),
        ),
    ] {
        assert_eq!(read_docword(&path).unwrap(), plain);
    }
    let plain = read_mtx(&file(dir.path(), "a.mtx", MTX)).unwrap();
    let path = file(dir.path(), "b.mtx", &format!("\u{FEFF}{MTX}"));
    assert_eq!(read_mtx(&path).unwrap(), plain);
    // Only at the very start: further on it is a bad field, named.
    let path = file(
        dir.path(),
        "docword.d.txt",
        "2\n\u{FEFF}3\n2\n1 3 4\n2 1 1\n",
    );
    let err = read_docword(&path).unwrap_err();
    assert_names(
        &err,
        &path,
        "line 2: header line 2 must be the single integer",
    );
}

/// QA defect 14: the writers refuse what their readers reject, before
/// making a file: write_mtx a NaN, infinite or negative value (it wrote
/// them), write_docword a count above 2^64 (it wrote 1e20, which
/// read_docword refuses). 2^64 itself is written and reads back.
#[test]
fn text_writers_refuse_what_their_readers_reject() {
    let dir = tempfile::tempdir().unwrap();
    let one =
        |v: f32| topicmill_sparse::CsrMatrix::new((2, 2), vec![0, 1, 2], vec![0, 1], vec![2.0, v]);
    let path = dir.path().join("m.mtx");
    for (v, kind) in [
        (f32::NAN, "NaN"),
        (f32::INFINITY, "infinite"),
        (-1.0, "negative"),
    ] {
        let err = topicmill_sparse::write_mtx(&path, one(v).view()).unwrap_err();
        assert!(
            matches!(err, SparseError::InvalidRow { row: 1, .. }),
            "{err:?}"
        );
        assert_names(
            &err,
            &path,
            &format!("row 1: value {v} at column 1 is {kind}"),
        );
        assert!(fs::read_dir(dir.path()).unwrap().next().is_none());
        let mut out = Vec::new();
        let err = topicmill_sparse::write_mtx_to(&mut out, one(v).view()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert_eq!(
            err.to_string(),
            format!("row 1: value {v} at column 1 is {kind}")
        );
        assert!(out.is_empty());
    }
    let path = dir.path().join("docword.m.txt");
    for v in [
        1e20f32,
        f32::from_bits(18_446_744_073_709_551_616f32.to_bits() + 1),
    ] {
        let err = topicmill_sparse::write_docword(&path, one(v).view()).unwrap_err();
        assert!(
            matches!(err, SparseError::InvalidRow { row: 1, .. }),
            "{err:?}"
        );
        assert_names(&err, &path, "(a positive integer at most 2^64)");
        assert!(fs::read_dir(dir.path()).unwrap().next().is_none());
    }
    let largest = one(18_446_744_073_709_551_616f32);
    topicmill_sparse::write_docword(&path, largest.view()).unwrap();
    assert_eq!(read_docword(&path).unwrap(), largest);
}
