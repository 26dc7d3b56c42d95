//! `topicmill import` and `topicmill inspect`.

use std::fs;
use std::path::Path;

use crate::{stderr, stdout, topicmill};

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn import_and_inspect_kos() {
    let Some(docword) = topicmill_testdata::require("uci-bow/docword.kos.txt.gz") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = topicmill(
        dir.path(),
        &[
            "import",
            "--docword",
            docword.to_str().unwrap(),
            "-o",
            "kos",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        entries(&dir.path().join("kos")),
        [
            "doc_ids.txt",
            "manifest.json",
            "matrix.csr",
            "matrix_t.csr",
            "vocab.txt"
        ]
    );
    // The vocabulary beside the docword file was picked up.
    let vocab = fs::read_to_string(dir.path().join("kos/vocab.txt")).unwrap();
    assert_eq!(vocab.lines().count(), 6906);
    assert_eq!(vocab.lines().next(), Some("aarp"));

    let out = topicmill(dir.path(), &["inspect", "kos", "--verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("shape     3430 x 6906"), "{text}");
    assert!(text.contains("nnz       353160"), "{text}");
    assert!(text.contains("verified"), "{text}");

    let out = topicmill(dir.path(), &["inspect", "kos", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["rows"], 3430);
    assert_eq!(json["cols"], 6906);
    assert_eq!(json["nnz"], 353160);
    // Every KOS document and word has at least one entry; the row and column
    // means are nnz / rows and nnz / cols.
    assert_eq!(json["row_nnz"]["empty"], 0);
    assert_eq!(json["col_nnz"]["empty"], 0);
    let mean = json["row_nnz"]["mean"].as_f64().unwrap();
    assert!((mean - 353160.0 / 3430.0).abs() < 1e-9);
    let mean = json["col_nnz"]["mean"].as_f64().unwrap();
    assert!((mean - 353160.0 / 6906.0).abs() < 1e-9);
    assert!(json["bytes_on_disk"].as_u64().unwrap() > 2 * 353160 * 8);
}

#[test]
fn import_mtx_and_inspect_statistics() {
    let dir = tempfile::tempdir().unwrap();
    // 4 × 3, row 2 and column 1 (0-based) empty.
    fs::write(
        dir.path().join("m.mtx"),
        "%%MatrixMarket matrix coordinate integer general\n4 3 4\n1 1 2\n4 3 1\n1 3 5\n2 1 1\n",
    )
    .unwrap();
    let out = topicmill(dir.path(), &["import", "--mtx", "m.mtx", "-o", "out/c"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = topicmill(dir.path(), &["inspect", "out/c", "--json", "--verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verified"], true);
    assert_eq!(json["density"], 4.0 / 12.0);
    // Rows: 2, 1, 0, 1 entries.
    assert_eq!(
        json["row_nnz"],
        serde_json::json!({"min": 0, "median": 1.0, "mean": 1.0, "max": 2, "empty": 1})
    );
    // Columns: 2, 0, 2 entries.
    assert_eq!(
        json["col_nnz"],
        serde_json::json!({"min": 0, "median": 2.0, "mean": 4.0 / 3.0, "max": 2, "empty": 1})
    );
    // Without --vocab, terms are named by their 1-based column.
    assert_eq!(
        fs::read_to_string(dir.path().join("out/c/vocab.txt")).unwrap(),
        "1\n2\n3\n"
    );
    // A bare matrix file can be inspected too.
    let out = topicmill(dir.path(), &["inspect", "out/c/matrix.csr"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("shape     4 x 3"));
}

#[test]
fn bad_input_exits_1_with_one_line_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("docword.bad.txt"),
        "2\n3\n3\n1 1 1\n2 2 1\n",
    )
    .unwrap();
    let out = topicmill(
        dir.path(),
        &["import", "--docword", "docword.bad.txt", "-o", "out"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("docword.bad.txt: line 6"), "{err}");
    // No corpus and no temporary directory left behind.
    assert_eq!(entries(dir.path()), ["docword.bad.txt"]);
}

#[test]
fn missing_file_and_unwritable_output_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let out = topicmill(dir.path(), &["import", "--mtx", "nope.mtx", "-o", "out"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("nope.mtx: cannot open"),
        "{}",
        stderr(&out)
    );

    fs::write(
        dir.path().join("m.mtx"),
        "%%MatrixMarket matrix coordinate real general\n1 1 1\n1 1 1\n",
    )
    .unwrap();
    fs::write(dir.path().join("blocker"), "a file, not a directory").unwrap();
    let out = topicmill(dir.path(), &["import", "--mtx", "m.mtx", "-o", "blocker/c"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("blocker"), "{}", stderr(&out));
    assert_eq!(entries(dir.path()), ["blocker", "m.mtx"]);

    let out = topicmill(dir.path(), &["inspect", "nowhere"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("nowhere"), "{}", stderr(&out));
}

#[test]
fn existing_output_needs_force() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("m.mtx"),
        "%%MatrixMarket matrix coordinate real general\n1 2 1\n1 2 0.5\n",
    )
    .unwrap();
    let args = ["import", "--mtx", "m.mtx", "-o", "c"];
    assert!(topicmill(dir.path(), &args).status.success());
    let out = topicmill(dir.path(), &args);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    let out = topicmill(
        dir.path(),
        &["import", "--mtx", "m.mtx", "-o", "c", "--force"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(entries(dir.path()), ["c", "m.mtx"]);
}

#[test]
fn corrupt_corpus_fails_verify_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("m.mtx"),
        "%%MatrixMarket matrix coordinate real general\n2 2 2\n1 2 0.5\n2 1 3\n",
    )
    .unwrap();
    assert!(
        topicmill(dir.path(), &["import", "--mtx", "m.mtx", "-o", "c"])
            .status
            .success()
    );
    // Flip a value byte in the data section (offset 192, see the format docs).
    let path = dir.path().join("c/matrix.csr");
    let mut bytes = fs::read(&path).unwrap();
    bytes[192] ^= 0x01;
    fs::write(&path, bytes).unwrap();
    // Open-time checks pass (structure intact); --verify catches it.
    assert!(topicmill(dir.path(), &["inspect", "c"]).status.success());
    let out = topicmill(dir.path(), &["inspect", "c", "--verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("checksum mismatch"),
        "{}",
        stderr(&out)
    );
}

/// A text file edited after the corpus was written fails `--verify`, naming
/// it (exit 1); a corpus whose manifest records no text checksums (written
/// before they were) verifies, and `inspect` says what it could not check.
#[test]
fn edited_text_files_fail_verify_and_older_manifests_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mtx = "%%MatrixMarket matrix coordinate real general\n2 2 2\n1 2 0.5\n2 1 3\n";
    fs::write(d.join("m.mtx"), mtx).unwrap();
    let out = topicmill(d, &["import", "--mtx", "m.mtx", "-o", "c"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = topicmill(d, &["inspect", "c", "--verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("unchecked"), "{}", stdout(&out));
    // Term "2" renamed "9": the same length, the same number of lines.
    assert_eq!(fs::read_to_string(d.join("c/vocab.txt")).unwrap(), "1\n2\n");
    fs::write(d.join("c/vocab.txt"), "1\n9\n").unwrap();
    let out = topicmill(d, &["inspect", "c", "--verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("c/vocab.txt: checksum mismatch")
            && err.contains("the file changed after the corpus was written"),
        "{err}"
    );
    let manifest = d.join("c/manifest.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&manifest).unwrap()).unwrap();
    json.as_object_mut().unwrap().remove("text_crc32");
    fs::write(&manifest, json.to_string()).unwrap();
    let out = topicmill(d, &["inspect", "c", "--verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("unchecked the text files (vocabulary, ids, labels)"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = topicmill(dir.path(), &["import", "-o", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let out = topicmill(
        dir.path(),
        &["import", "--mtx", "a", "--docword", "b", "-o", "x"],
    );
    assert_eq!(out.status.code(), Some(2));
    let out = topicmill(dir.path(), &["inspect"]);
    assert_eq!(out.status.code(), Some(2));
    let out = topicmill(dir.path(), &["import", "--help"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("--docword"));
}

#[test]
fn ungrouped_docword_falls_back_to_whole_file_import() {
    let dir = tempfile::tempdir().unwrap();
    // Document 2 comes before document 1: cannot stream, still imports.
    fs::write(
        dir.path().join("docword.x.txt"),
        "3\n4\n4\n2 4 1\n1 2 5\n1 1 2\n3 3 1\n",
    )
    .unwrap();
    fs::write(dir.path().join("vocab.x.txt"), "a\nb\nc\nd\n").unwrap();
    let out = topicmill(
        dir.path(),
        &["import", "--docword", "docword.x.txt", "-o", "c"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = topicmill(dir.path(), &["inspect", "c", "--json", "--verify"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["nnz"], 4);
    assert_eq!(
        json["row_nnz"],
        serde_json::json!({"min": 1, "median": 1.0, "mean": 4.0 / 3.0, "max": 2, "empty": 0})
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("c/vocab.txt")).unwrap(),
        "a\nb\nc\nd\n"
    );
    assert_eq!(entries(dir.path()), ["c", "docword.x.txt", "vocab.x.txt"]);
}

#[test]
fn empty_mtx_is_refused_without_output() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("e.mtx"),
        "%%MatrixMarket matrix coordinate real general\n2 2 0\n",
    )
    .unwrap();
    let out = topicmill(dir.path(), &["import", "--mtx", "e.mtx", "-o", "c"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("e.mtx: empty corpus"),
        "{}",
        stderr(&out)
    );
    assert_eq!(entries(dir.path()), ["e.mtx"]);
    // Stored zeros only: empty to a fit as well.
    fs::write(
        dir.path().join("z.mtx"),
        "%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 0\n2 2 0.0\n",
    )
    .unwrap();
    let out = topicmill(dir.path(), &["import", "--mtx", "z.mtx", "-o", "c"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("z.mtx: empty corpus: every one of the matrix's 2 entries is 0"),
        "{}",
        stderr(&out)
    );
    assert_eq!(entries(dir.path()), ["e.mtx", "z.mtx"]);
}

/// A docword header declaring 2^32 - 1 documents, with one entry: the
/// documents' ids were allocated before any check and the process aborted
/// ("memory allocation of … bytes failed"); now exit 1 at once, naming the
/// file, and nothing written. (`--mtx` of such a header is refused by the
/// reader itself.)
#[test]
fn a_docword_declaring_billions_of_documents_is_refused_not_an_abort() {
    if !topicmill_testdata::beyond_memory(24 << 32) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("docword.huge.txt"),
        "4294967295\n1\n1\n1 1 3\n",
    )
    .unwrap();
    fs::write(dir.path().join("vocab.huge.txt"), "a\n").unwrap();
    let out = topicmill(
        dir.path(),
        &["import", "--docword", "docword.huge.txt", "-o", "c"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("docword.huge.txt: 4294967295 documents: too many ids to hold in memory"),
        "{err}"
    );
    assert_eq!(entries(dir.path()), ["docword.huge.txt", "vocab.huge.txt"]);
}

/// A header declaring 4·10⁹ columns and no vocabulary file: their names
/// ("1", "2", …) were allocated unchecked (96 GB) and the process aborted;
/// now exit 1, naming the file, for MatrixMarket and docword alike.
#[test]
fn billions_of_columns_without_a_vocabulary_are_refused_not_an_abort() {
    if !topicmill_testdata::beyond_memory(56 * 4_000_000_000) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mtx = "%%MatrixMarket matrix coordinate real general\n4 4000000000 2\n1 1 1.0\n1 2 2.0\n";
    fs::write(d.join("wide.mtx"), mtx).unwrap();
    fs::write(
        d.join("docword.wide.txt"),
        "3\n4000000000\n2\n1 1 1\n1 2 2\n",
    )
    .unwrap();
    for (flag, file) in [("--mtx", "wide.mtx"), ("--docword", "docword.wide.txt")] {
        let out = topicmill(d, &["import", flag, file, "-o", "c"]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let err = stderr(&out);
        let needle = format!("{file}: 4000000000 columns: too many column names to hold in memory");
        assert!(err.contains(&needle), "{err}");
    }
    assert_eq!(entries(d), ["docword.wide.txt", "wide.mtx"]);
}

/// `--force` replaces a corpus directory, nothing else: a folder holding
/// the input, a plain file, a folder of other files, the working directory.
/// Each is refused before reading, naming the path, and left as it was.
#[test]
fn force_replaces_only_a_corpus_and_never_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir_all(d.join("sub")).unwrap();
    fs::write(
        d.join("sub/docword.ok.txt"),
        "2\n3\n3\n1 1 1\n1 2 2\n2 3 1\n",
    )
    .unwrap();
    fs::write(d.join("sub/vocab.ok.txt"), "a\nb\nc\n").unwrap();
    fs::write(
        d.join("x.mtx"),
        "%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 1\n2 2 3\n",
    )
    .unwrap();
    fs::write(d.join("plainfile"), "hi").unwrap();
    fs::create_dir(d.join("notes")).unwrap();
    fs::write(d.join("notes/keep.txt"), "x").unwrap();
    let ok = topicmill(d, &["import", "--mtx", "x.mtx", "-o", "c"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let before = entries(d);
    for (args, said) in [
        (
            &["--docword", "sub/docword.ok.txt", "-o", "sub"][..],
            "sub: the output contains the input sub/docword.ok.txt: refusing to write there",
        ),
        (
            &["--mtx", "x.mtx", "--vocab", "c/vocab.txt", "-o", "c"],
            "c: the output contains the input c/vocab.txt: refusing to write there",
        ),
        (
            &["--mtx", "x.mtx", "-o", "x.mtx"],
            "x.mtx: the output is the input x.mtx: refusing to write there",
        ),
        (
            &["--mtx", "x.mtx", "-o", "plainfile"],
            "plainfile: exists and is not a corpus directory: refusing to replace it",
        ),
        (
            &["--mtx", "x.mtx", "-o", "notes"],
            "notes: exists and is not a corpus directory: refusing to replace it",
        ),
    ] {
        let out = topicmill(d, &[&["import"][..], args, &["--force"]].concat());
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr(&out), format!("error: {said}\n"));
    }
    // The sibling vocabulary is an input too.
    let out = topicmill(
        d,
        &[
            "import",
            "--docword",
            "sub/docword.ok.txt",
            "-o",
            "sub/vocab.ok.txt",
            "--force",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("the output is the input sub/vocab.ok.txt"),
        "{}",
        stderr(&out)
    );
    assert_eq!(entries(d), before);
    assert_eq!(entries(&d.join("sub")), ["docword.ok.txt", "vocab.ok.txt"]);
    assert_eq!(fs::read_to_string(d.join("plainfile")).unwrap(), "hi");
    assert_eq!(entries(&d.join("notes")), ["keep.txt"]);

    // Inside the corpus, `-o .` is refused (it cannot be renamed) and
    // leaves nothing behind: no `.topicmill-old-*` next to it.
    let inside = d.join("c");
    let corpus_files = entries(&inside);
    for target in [".", "../c", ".."] {
        let out = topicmill(
            &inside,
            &["import", "--mtx", "../x.mtx", "-o", target, "--force"],
        );
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(
            err == format!("error: {target}: is the current directory or one of its ancestors: refusing to write a corpus there\n")
                || err.contains("the output contains the input ../x.mtx"),
            "{err}"
        );
    }
    assert_eq!(entries(&inside), corpus_files);
    assert_eq!(entries(d), before);
    // A corpus is replaced.
    let out = topicmill(
        d,
        &[
            "import",
            "--docword",
            "sub/docword.ok.txt",
            "-o",
            "c",
            "--force",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        fs::read_to_string(d.join("c/vocab.txt")).unwrap(),
        "a\nb\nc\n"
    );
}

/// `generate --force` replaces a corpus directory only; `--nnz 0` is
/// refused up front.
#[test]
fn generate_force_replaces_only_a_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir(d.join("dir")).unwrap();
    fs::write(d.join("dir/keep"), "x").unwrap();
    let shape = ["--docs", "10", "--terms", "20", "--nnz", "50", "-k", "2"];
    let out = topicmill(
        d,
        &[&["generate", "-o", "dir", "--force"][..], &shape].concat(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: dir: exists and is not a corpus directory: refusing to replace it\n"
    );
    let out = topicmill(
        &d.join("dir"),
        &[&["generate", "-o", ".", "--force"][..], &shape].concat(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(".: is the current directory"),
        "{}",
        stderr(&out)
    );
    assert_eq!(entries(d), ["dir"]);
    assert_eq!(entries(&d.join("dir")), ["keep"]);
    let out = topicmill(d, &["generate", "-o", "g", "--nnz", "0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("nnz must be positive"),
        "{}",
        stderr(&out)
    );
    assert_eq!(entries(d), ["dir"]);
    // A corpus is replaced.
    for _ in 0..2 {
        let out = topicmill(
            d,
            &[&["generate", "-o", "g", "--force"][..], &shape].concat(),
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert_eq!(entries(d), ["dir", "g"]);
}

/// Each of `generate`'s errors names the output (or the directory that
/// cannot hold it) once, in one sentence: they named it twice, as
/// "cannot generate f: f: already exists …".
#[test]
fn generate_errors_name_the_output_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("file"), "x").unwrap();
    fs::create_dir(d.join("other")).unwrap();
    fs::write(d.join("other/keep"), "x").unwrap();
    for (args, said) in [
        (
            &["-o", "file", "--shape", "10x10x20x2"][..],
            "file: already exists (refusing to overwrite)",
        ),
        (
            &["-o", "file", "--force", "--shape", "10x10x20x2"],
            "file: exists and is not a corpus directory: refusing to replace it",
        ),
        (
            &["-o", "other", "--shape", "10x10x20x2"],
            "other: already exists (refusing to overwrite)",
        ),
        (
            &["-o", "file/c", "--shape", "10x10x20x2"],
            "file: cannot create the directory to hold the corpus: it is a file, not a directory",
        ),
        (
            &["-o", "g", "--shape", "10x10x0x2"],
            "g: cannot generate: nnz must be positive: a corpus without entries cannot be fitted",
        ),
        (
            &["-o", "g", "--shape", "10x10x20x20"],
            "g: cannot generate: k = 20 exceeds the 10 terms",
        ),
    ] {
        let out = topicmill(d, &[&["generate"][..], args].concat());
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr(&out), format!("error: {said}\n"), "{args:?}");
        assert!(stdout(&out).is_empty(), "{args:?}");
    }
    assert_eq!(entries(d), ["file", "other"]);
    assert_eq!(entries(&d.join("other")), ["keep"]);
}

/// Moves the corpus `target` of `d` to `aside/old`, as a replace killed
/// (SIGKILL) between moving it aside and renaming the new one in leaves it.
fn set_aside(d: &Path, target: &str, aside: &str) {
    fs::create_dir(d.join(aside)).unwrap();
    fs::rename(d.join(target), d.join(aside).join("old")).unwrap();
}

/// A replace killed between moving the old corpus aside and renaming the
/// new one in leaves the old corpus in a hidden `.topicmill-old-NAME-XXXXXX`
/// beside the missing target, which later writes passed over in silence.
/// Now the next write puts it back when the target is missing and it is
/// the only one of that target (then replaces it only with --force), and
/// otherwise names it on stderr, leaving it as it is. Older builds' asides
/// (no name) are named, never put back; other targets' and ones without a
/// corpus are not this write's business.
#[test]
fn a_corpus_left_aside_by_an_interrupted_replace_is_put_back_or_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let generate = |target: &str, more: &[&str]| {
        let small = ["--docs", "10", "--terms", "20", "--nnz", "50", "-k", "2"];
        topicmill(d, &[&["generate", "-o", target][..], &small, more].concat())
    };
    let manifest = |p: &str| fs::read_to_string(d.join(p).join("manifest.json")).unwrap();
    let put_back = "warning: g: was missing, after an interrupted replace; the corpus it held, \
                    moved aside to ./.topicmill-old-g-Ab12Cd/old, is put back\n";
    let kept = |aside: &str, of: &str| {
        format!(
            "warning: ./{aside}/old: the corpus an interrupted replace of {of} moved aside is \
             still here, in a hidden directory: move it where you want it, or remove ./{aside}\n"
        )
    };
    assert!(generate("g", &[]).status.success());
    let old = manifest("g");

    // g missing, without --force: put back, and g is then taken.
    set_aside(d, "g", ".topicmill-old-g-Ab12Cd");
    let out = generate("g", &["--seed", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!("{put_back}error: g: already exists (refusing to overwrite)\n")
    );
    assert_eq!(entries(d), ["g"]);
    assert_eq!(manifest("g"), old);

    // With --force: put back, then replaced, as asked.
    set_aside(d, "g", ".topicmill-old-g-Ab12Cd");
    let out = generate("g", &["--seed", "1", "--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), put_back);
    assert_eq!(entries(d), ["g"]);
    assert_ne!(manifest("g"), old);

    // g there: a corpus moved aside from it is named, and stays.
    assert!(generate("h", &[]).status.success());
    set_aside(d, "h", ".topicmill-old-g-Zz9999");
    let aside = manifest(".topicmill-old-g-Zz9999/old");
    let out = generate("g", &["--seed", "2", "--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), kept(".topicmill-old-g-Zz9999", "g"));
    assert_eq!(entries(d), [".topicmill-old-g-Zz9999", "g"]);
    assert_eq!(manifest(".topicmill-old-g-Zz9999/old"), aside);

    // Two moved aside from a missing g: which is g? Neither is put back.
    assert!(generate("h", &[]).status.success());
    set_aside(d, "h", ".topicmill-old-g-Yy8888");
    fs::remove_dir_all(d.join("g")).unwrap();
    let out = generate("g", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        kept(".topicmill-old-g-Yy8888", "g") + &kept(".topicmill-old-g-Zz9999", "g")
    );
    assert_eq!(
        entries(d),
        [".topicmill-old-g-Yy8888", ".topicmill-old-g-Zz9999", "g"]
    );

    // An older build's aside (which corpus it held, its name does not say)
    // is named, not put back; another target's, and one holding no corpus,
    // are passed over.
    for aside in [".topicmill-old-g-Yy8888", ".topicmill-old-g-Zz9999"] {
        fs::remove_dir_all(d.join(aside)).unwrap();
    }
    assert!(generate("h", &[]).status.success());
    set_aside(d, "h", ".topicmill-old-Xx7777");
    assert!(generate("k", &[]).status.success());
    set_aside(d, "k", ".topicmill-old-k-Ww6666");
    fs::create_dir_all(d.join(".topicmill-old-g-Vv5555/old")).unwrap();
    fs::remove_dir_all(d.join("g")).unwrap();
    let out = generate("g", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        kept(".topicmill-old-Xx7777", "a corpus of this directory")
    );
    assert_eq!(
        entries(d),
        [
            ".topicmill-old-Xx7777",
            ".topicmill-old-g-Vv5555",
            ".topicmill-old-k-Ww6666",
            "g"
        ]
    );
}

/// `import` and `vectorize` put back a corpus left aside from their
/// missing output too, before any work.
#[test]
fn import_and_vectorize_put_back_a_corpus_left_aside() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("docword.t.txt"), "2\n3\n2\n1 1 1\n2 3 2\n").unwrap();
    let import = ["import", "--docword", "docword.t.txt", "-o", "c"];
    assert!(topicmill(d, &import).status.success());
    crate::vectorize_sample(d, "v");
    let snapshot = |p: &str| {
        ["manifest.json", "vocab.txt", "doc_ids.txt"]
            .map(|f| fs::read_to_string(d.join(p).join(f)).unwrap())
    };
    let (c, v) = (snapshot("c"), snapshot("v"));
    set_aside(d, "c", ".topicmill-old-c-Aa1111");
    set_aside(d, "v", ".topicmill-old-v-Bb2222");
    let sample = crate::sample_jsonl();
    let vectorize = [
        "vectorize",
        "--input",
        "lines",
        sample.to_str().unwrap(),
        "-o",
        "v",
    ];
    for (args, target, aside) in [
        (&import[..], "c", ".topicmill-old-c-Aa1111"),
        (&vectorize[..], "v", ".topicmill-old-v-Bb2222"),
    ] {
        let out = topicmill(d, args);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert_eq!(
            stderr(&out),
            format!(
                "warning: {target}: was missing, after an interrupted replace; the corpus it \
                 held, moved aside to ./{aside}/old, is put back\n\
                 error: {target}: already exists (refusing to overwrite)\n"
            )
        );
    }
    assert_eq!(entries(d), ["c", "docword.t.txt", "v"]);
    assert_eq!((snapshot("c"), snapshot("v")), (c, v));
}

/// `bench generated:…` caches its corpus in the work directory; a corpus
/// left aside there by a regeneration killed as it replaced it is put back
/// (and used: nothing is generated again), as the writing commands do.
#[test]
fn bench_puts_back_its_cached_corpus_left_aside() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let shape = "generated:40x60x300x2";
    let cache = "topicmill-gen-40x60x300x2-seed0";
    let bench = || {
        let out = topicmill(
            d,
            &[
                "bench",
                shape,
                "--solvers",
                "mu",
                "--iters",
                "2",
                "--repeat",
                "1",
                "--seed",
                "0",
                "--no-limit",
                "--json",
                "--work-dir",
                ".",
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let steps: Vec<String> = json["prepared"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s[0].as_str().unwrap().to_string())
            .collect();
        (stderr(&out), steps)
    };
    let (_, steps) = bench();
    assert_eq!(steps, ["generate", "open"]);
    let manifest = || fs::read_to_string(d.join(cache).join("manifest.json")).unwrap();
    let old = manifest();

    let aside = format!(".topicmill-old-{cache}-Ab12Cd");
    set_aside(d, cache, &aside);
    let (said, steps) = bench();
    assert_eq!(
        said,
        format!(
            "warning: ./{cache}: was missing, after an interrupted replace; the corpus it held, \
             moved aside to ./{aside}/old, is put back\n"
        )
    );
    assert_eq!(steps, ["open"]);
    assert_eq!(entries(d), [cache]);
    assert_eq!(manifest(), old);
}

/// What a docword, MatrixMarket or vocabulary file gets wrong is named
/// with its line: a count that is not an integer, a value beyond f32 as
/// written, a term given twice or blank.
#[test]
fn bad_counts_values_and_terms_are_refused_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("docword.f.txt"), "2\n3\n2\n1 1 1\n2 3 1.5\n").unwrap();
    fs::write(
        d.join("big.mtx"),
        "%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 1\n2 2 1e39\n",
    )
    .unwrap();
    fs::write(d.join("docword.v.txt"), "2\n3\n2\n1 1 1\n2 3 2\n").unwrap();
    fs::write(d.join("dup.txt"), "aa\nbb\naa\n").unwrap();
    fs::write(d.join("blank.txt"), "aa\n\nbb\n").unwrap();
    for (args, said) in [
        (
            &["--docword", "docword.f.txt"][..],
            "cannot import the docword file: docword.f.txt: line 5: count '1.5' is not a positive integer",
        ),
        (
            &["--mtx", "big.mtx"],
            "cannot import the MatrixMarket file: big.mtx: line 4: invalid value '1e39' (beyond the f32 range)",
        ),
        (
            &["--docword", "docword.v.txt", "--vocab", "dup.txt"],
            "cannot read the vocabulary: dup.txt: line 3: term 'aa' given twice, first on line 1",
        ),
        (
            &["--docword", "docword.v.txt", "--vocab", "blank.txt"],
            "cannot read the vocabulary: blank.txt: line 2: blank term: every column needs a name",
        ),
    ] {
        let out = topicmill(d, &[&["import"][..], args, &["-o", "c"]].concat());
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr(&out), format!("error: {said}\n"));
    }
    assert!(!d.join("c").exists());
}

/// Interrupted by SIGINT or SIGTERM while writing, `generate --force` dies
/// of the signal and leaves neither its temporary directory nor a damaged
/// corpus: the one it was replacing is intact.
#[cfg(unix)]
#[test]
fn an_interrupted_generate_leaves_no_temporary_directory() {
    use std::process::{Command, Stdio};
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let small = [
        "generate", "-o", "g", "--docs", "10", "--terms", "20", "--nnz", "50", "-k", "2",
    ];
    assert!(topicmill(d, &small).status.success());
    let manifest = fs::read_to_string(d.join("g/manifest.json")).unwrap();
    // Seconds of work: interrupted long before the end.
    let big = [
        "--docs", "100000", "--terms", "20000", "--nnz", "50000000", "-k", "10",
    ];
    for (sig, name) in [(2, "INT"), (15, "TERM")] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_topicmill"))
            .args([&["generate", "-o", "g", "--force"][..], &big].concat())
            .current_dir(d)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        crate::interrupt_when(&mut child, (name, sig), Duration::from_secs(60), || {
            entries(d).iter().any(|n| n.starts_with(".g.tmp-"))
        });
        assert_eq!(entries(d), ["g"]);
        assert_eq!(
            fs::read_to_string(d.join("g/manifest.json")).unwrap(),
            manifest
        );
    }
    let out = topicmill(d, &["inspect", "g", "--verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Nor the directories made for a new corpus.
    let mut child = Command::new(env!("CARGO_BIN_EXE_topicmill"))
        .args([&["generate", "-o", "new/deeper/g"][..], &big].concat())
        .current_dir(d)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    crate::interrupt_when(&mut child, ("INT", 2), Duration::from_secs(60), || {
        d.join("new/deeper").is_dir()
            && entries(&d.join("new/deeper"))
                .iter()
                .any(|n| n.starts_with(".g.tmp-"))
    });
    assert_eq!(entries(d), ["g"]);
}
