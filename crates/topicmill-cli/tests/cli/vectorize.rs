//! `topicmill vectorize` on small files it writes, and on the shared 20 Newsgroups
//! tarball (scikit-learn 1.9.1's figures).

use std::path::Path;
use std::process::Output;

use topicmill_sparse::Corpus;

use crate::file_names;

/// The binary, run in the test's own working directory (paths are absolute).
fn topicmill(args: &[&str]) -> Output {
    crate::topicmill(Path::new("."), args)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn lines_to_corpus_in_memory_and_streaming_agree() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("docs.txt");
    let text: String = (0..500)
        .map(|i| format!("Doc{} the Word{} and more{}\n", i % 17, i % 5, i % 50))
        .collect();
    std::fs::write(&input, text).unwrap();
    let memory = dir.path().join("memory");
    let streamed = dir.path().join("streamed");
    let common = ["--stop-words", "english", "--min-df", "2", "--sublinear-tf"];
    let out = topicmill(
        &[
            &[
                "vectorize",
                "--input",
                "lines",
                path(&input),
                "-o",
                path(&memory),
            ],
            &common[..],
        ]
        .concat(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = topicmill(
        &[
            &[
                "vectorize",
                "--input",
                "lines",
                path(&input),
                "-o",
                path(&streamed),
                "--streaming",
                "--chunk-docs",
                "64",
            ],
            &common[..],
        ]
        .concat(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = Corpus::open(&memory).unwrap();
    let b = Corpus::open(&streamed).unwrap();
    // 17 "docN" + 5 "wordN" + 50 "moreN" terms; "the" and "and" are stop words.
    assert_eq!(a.matrix().shape(), (500, 72));
    assert_eq!(a.matrix(), b.matrix());
    assert_eq!(a.vocabulary(), b.vocabulary());
    assert_eq!(a.doc_ids()[0], "1");
    let tfidf = &a.manifest().extra["tfidf"];
    assert_eq!(tfidf["stop_words"], "english");
    assert_eq!(tfidf["min_df"]["count"], 2);
    assert_eq!(tfidf["sublinear_tf"], true);
    assert_eq!(b.manifest().extra["streaming"], 64);
}

/// `--vocabulary-from`, with and without `--no-new-terms`, streamed or in
/// memory: the same vocabulary, ids, values and report.
#[test]
fn aligned_on_a_previous_vocabulary_in_memory_and_streaming_agree() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lines = |n: usize, f: &dyn Fn(usize) -> String| (0..n).map(f).collect::<String>();
    let previous = lines(200, &|i| {
        format!("Doc{} the Word{} shared{}\n", i % 13, i % 5, i % 30)
    });
    // Today: some of yesterday's terms, new ones, and "word4" nowhere.
    let today = lines(400, &|i| {
        format!(
            "doc{} Word{} new{} and fresh{}\n",
            i % 19,
            i % 4,
            i % 23,
            i % 7
        )
    });
    std::fs::write(d.join("previous.txt"), previous).unwrap();
    std::fs::write(d.join("today.txt"), today).unwrap();
    let run = |args: &[&str]| {
        let out = crate::topicmill(d, args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        stderr
    };
    let common = ["--stop-words", "english", "--sublinear-tf"];
    // Today's documents, aligned on the vocabulary of corpus `previous`.
    let today_onto = |previous: &'static str| {
        let input = ["vectorize", "--input", "lines", "today.txt"];
        [&input[..], &["--vocabulary-from", previous]].concat()
    };
    run(&[
        &["vectorize", "--input", "lines", "previous.txt", "-o", "p"],
        &common[..],
    ]
    .concat());
    for (name, extra) in [
        ("extended", &[][..]),
        ("restricted", &["--no-new-terms"][..]),
    ] {
        let base = [&today_onto("p")[..], &common[..], extra].concat();
        let said_memory = run(&[&base[..], &["-o", name]].concat());
        let streamed = format!("{name}_streamed");
        let said_streamed = run(&[
            &base[..],
            &["-o", &streamed, "--streaming", "--chunk-docs", "64"],
        ]
        .concat());
        let report = |said: &str| {
            said.lines()
                .find(|line| line.starts_with("vocabulary of p:"))
                .unwrap_or_else(|| panic!("{said}"))
                .to_string()
        };
        assert_eq!(report(&said_memory), report(&said_streamed));
        let a = Corpus::open(d.join(name)).unwrap();
        let b = Corpus::open(d.join(&streamed)).unwrap();
        assert_eq!(a.vocabulary(), b.vocabulary(), "{name}");
        assert_eq!(a.doc_ids(), b.doc_ids(), "{name}");
        assert_eq!(a.matrix(), b.matrix(), "{name}");
        assert_eq!(b.manifest().extra["vocabulary_from"], "p");
        assert_eq!(b.manifest().extra["no_new_terms"], !extra.is_empty());
        let p = Corpus::open(d.join("p")).unwrap();
        assert_eq!(&a.vocabulary()[..p.vocabulary().len()], p.vocabulary());
        if extra.is_empty() {
            // 13 docN, 5 wordN, 30 sharedN; today adds doc13..doc18, 23
            // newN, 7 freshN; "word4" and the sharedN are unused today.
            assert_eq!(
                report(&said_memory),
                "vocabulary of p: 48 terms kept in place (31 unused today), 36 new terms appended"
            );
        } else {
            assert_eq!(a.vocabulary(), p.vocabulary());
            assert_eq!(
                report(&said_memory),
                "vocabulary of p: 48 terms kept in place (31 unused today), 36 terms of this \
                 corpus left out"
            );
        }
    }
    // A previous vocabulary that lists a term twice is refused up front.
    std::fs::create_dir(d.join("dup")).unwrap();
    for entry in std::fs::read_dir(d.join("p")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), d.join("dup").join(entry.file_name())).unwrap();
    }
    let vocab = std::fs::read_to_string(d.join("dup/vocab.txt")).unwrap();
    let mut terms: Vec<&str> = vocab.lines().collect();
    terms[1] = terms[0];
    std::fs::write(d.join("dup/vocab.txt"), terms.join("\n") + "\n").unwrap();
    for extra in [&[][..], &["--streaming"], &["--no-new-terms"]] {
        let base = today_onto("dup");
        let out = crate::topicmill(d, &[&base[..], extra, &["-o", "refused"]].concat());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        let twice = format!("dup: the previous vocabulary lists `{}` twice", terms[0]);
        assert!(stderr.contains(&twice), "{stderr}");
        assert!(!d.join("refused").exists());
    }
}

#[test]
fn export_writes_the_corpus_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("docs.jsonl");
    std::fs::write(
        &input,
        concat!(
            r#"{"id": "a", "label": "fruit", "text": "apple banana apple"}"#,
            "\n",
            r#"{"id": "b", "label": "back\\slash", "text": "banana cherry"}"#,
            "\n",
            r#"{"id": "c", "label": "fruit", "text": "cherry dates"}"#,
            "\n",
        ),
    )
    .unwrap();
    let (corpus, export) = (dir.path().join("corpus"), dir.path().join("export"));
    let labelled = [
        "vectorize",
        "--input",
        "jsonl",
        path(&input),
        "--id-field",
        "id",
        "--label-field",
        "label",
        "-o",
        path(&corpus),
        "--export",
        path(&export),
    ];
    let out = topicmill(&labelled);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |name: &str| std::fs::read_to_string(export.join(name)).unwrap();
    assert_eq!(read("vocab.txt"), "apple\nbanana\ncherry\ndates\n");
    assert_eq!(read("ids.txt"), "a\nb\nc\n");
    assert_eq!(read("labels.txt"), "fruit\nback\\\\slash\nfruit\n");
    let manifest: serde_json::Value = serde_json::from_str(&read("manifest.json")).unwrap();
    assert_eq!(manifest["nnz"], 6);
    // The MatrixMarket file holds exactly the corpus's matrix.
    let a = Corpus::open(&corpus).unwrap();
    let b = topicmill_sparse::read_mtx(&export.join("matrix.mtx")).unwrap();
    assert_eq!(a.matrix(), b.view());

    // Again without labels: the old labels.txt goes, nothing else is left.
    let out = topicmill(&[&labelled[..6], &labelled[10..], &["--overwrite"]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        file_names(&export),
        ["ids.txt", "manifest.json", "matrix.mtx", "vocab.txt"]
    );

    // The corpus directory and the export land together or not at all: an
    // export that cannot be written leaves no corpus ...
    let (fresh, blocked) = (dir.path().join("fresh"), dir.path().join("blocked"));
    std::fs::write(&blocked, "a file, not a directory").unwrap();
    let both = |corpus: &Path, export: &Path| {
        topicmill(
            &[
                &labelled[..8],
                &["-o", path(corpus), "--export", path(export)],
            ]
            .concat(),
        )
    };
    let out = both(&fresh, &blocked);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("blocked"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!fresh.exists(), "no corpus without its export");
    // ... and a corpus that cannot be written (it exists, no --overwrite)
    // leaves no export, nor the directory made for it.
    let new_export = dir.path().join("new/export");
    let out = both(&corpus, &new_export);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        !dir.path().join("new").exists(),
        "no export without its corpus, nor the directories made for it"
    );
    assert_eq!(
        file_names(dir.path()),
        ["blocked", "corpus", "docs.jsonl", "export"]
    );
}

#[test]
fn user_errors_exit_1_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, b"ok\nnot \xFF utf8\n").unwrap();
    let out_dir = dir.path().join("out");
    let out = topicmill(&[
        "vectorize",
        "--input",
        "lines",
        path(&bad),
        "-o",
        path(&out_dir),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("invalid UTF-8 at byte offset 7"),
        "{stderr}"
    );
    // Named once: the reader's error starts with the path, and the
    // command's context ("reading P: P: …") no longer repeats it.
    assert_eq!(stderr.matches(path(&bad)).count(), 1, "{stderr}");
    assert!(!out_dir.exists(), "no partial output");
    // --lossy accepts it.
    let out = topicmill(&[
        "vectorize",
        "--input",
        "lines",
        path(&bad),
        "-o",
        path(&out_dir),
        "--lossy",
    ]);
    assert!(out.status.success());
    // Parameters are checked before any work.
    let out = topicmill(&[
        "vectorize",
        "--input",
        "lines",
        path(&bad),
        "-o",
        path(&out_dir),
        "--max-df",
        "1.5",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_df must be"));
    // A label with a line break cannot go into a corpus directory: said
    // before the vectorizing, with the document's number.
    let broken = dir.path().join("broken.jsonl");
    std::fs::write(
        &broken,
        "{\"text\": \"one doc\", \"g\": \"a\"}\n{\"text\": \"two\", \"g\": \"b\\nc\"}\n",
    )
    .unwrap();
    let broken_out = dir.path().join("broken");
    // Fails with exit 1 and no partial output; returns stderr.
    let broken_run = |extra: &[&str]| {
        let base = [
            "vectorize",
            "--input",
            "jsonl",
            path(&broken),
            "--label-field",
            "g",
        ];
        let out = topicmill(&[&base[..], extra, &["-o", path(&broken_out)]].concat());
        assert_eq!(out.status.code(), Some(1));
        assert!(!broken_out.exists(), "no partial output");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let stderr = broken_run(&[]);
    assert!(
        stderr.contains("broken.jsonl: document 2: its label"),
        "{stderr}"
    );
    // Streamed, the same error comes from the counting pass's chunk.
    let stderr = broken_run(&["--streaming", "--chunk-docs", "1"]);
    assert!(
        stderr.contains("document 2: its label \"b\\nc\" holds a line break"),
        "{stderr}"
    );
    // Usage errors are clap's: exit 2.
    let out = topicmill(&["vectorize", "--input", "pdf", path(&bad)]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn newsgroups_four_categories_matches_scikit_learn() {
    let Some(tarball) = topicmill_testdata::require("20news-bydate/20news-bydate.tar.gz") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("news");
    let out = topicmill(&[
        "vectorize",
        "--input",
        "20news",
        path(&tarball),
        "-o",
        path(&out_dir),
        "--subset",
        "train",
        "--categories",
        "alt.atheism,talk.religion.misc,comp.graphics,sci.space",
        "--remove",
        "headers,footers,quotes",
        "--stop-words",
        "english",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let corpus = Corpus::open(&out_dir).unwrap();
    assert_eq!(corpus.matrix().shape(), (2034, 26576));
    assert_eq!(corpus.matrix().nnz(), 133_634);
    assert_eq!(corpus.doc_ids()[0], "alt.atheism/49960");
    assert_eq!(corpus.labels().unwrap()[0], "alt.atheism");
    let news = &corpus.manifest().extra["newsgroups"];
    assert_eq!(news["subset"], "train");
    assert_eq!(news["remove"]["quotes"], true);
}

/// `--vectorizer-from`: new documents through a corpus's fitted vectorizer
/// (its vocabulary, idf and options, from the corpus directory alone) give
/// what that fit's own `transform` gives, whether the corpus was made in
/// memory or streamed; what is not such a corpus is a clear error.
#[test]
fn new_documents_through_a_corpus_fitted_vectorizer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let train: Vec<String> = (0..300)
        .map(|i| {
            format!(
                "Doc{} the Word{} and more{} x{}\n",
                i % 17,
                i % 5,
                i % 40,
                i
            )
        })
        .collect();
    let new = [
        "doc3 doc3 word1 unknown words",
        "",
        "MORE7 more7 x5 the and",
        "nothing known here",
    ];
    std::fs::write(d.join("train.txt"), train.concat()).unwrap();
    std::fs::write(d.join("new.txt"), new.join("\n") + "\n").unwrap();
    let options = [
        "--stop-words",
        "english",
        "--min-df",
        "2",
        "--sublinear-tf",
        "--norm",
        "l1",
        "--no-smooth-idf",
    ];
    let run = |args: &[&str]| {
        let out = crate::topicmill(d, args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    run(&[
        &["vectorize", "--input", "lines", "train.txt", "-o", "a"],
        &options[..],
    ]
    .concat());
    run(&[
        &[
            "vectorize",
            "--input",
            "lines",
            "train.txt",
            "-o",
            "a_streamed",
            "--streaming",
            "--chunk-docs",
            "64",
        ],
        &options[..],
    ]
    .concat());
    let params = topicmill_text::TfidfParams::default()
        .stop_words(Some(topicmill_text::StopWords::English))
        .min_df(topicmill_text::DocFreq::Count(2))
        .sublinear_tf(true)
        .norm(topicmill_text::Norm::L1)
        .smooth_idf(false);
    let (fitted, _) = params.fit_transform(&train).unwrap();
    let want = fitted.transform(&new);
    for source in ["a", "a_streamed"] {
        let said = run(&[
            "vectorize",
            "--input",
            "lines",
            "new.txt",
            "--vectorizer-from",
            source,
            "-o",
            "b",
            "--overwrite",
        ]);
        assert!(said.contains("idf of 300 documents"), "{said}");
        let b = Corpus::open(d.join("b")).unwrap();
        assert_eq!(b.vocabulary(), fitted.vocabulary());
        assert_eq!(b.matrix(), want.view(), "from {source}");
        assert_eq!(b.manifest().extra["tfidf"]["norm"], "l1");
        assert_eq!(b.manifest().extra["vectorizer_from"], source);
    }
    // Streamed: one pass, the same corpus.
    run(&[
        "vectorize",
        "--input",
        "lines",
        "new.txt",
        "--vectorizer-from",
        "a",
        "-o",
        "b_streamed",
        "--streaming",
        "--chunk-docs",
        "3",
    ]);
    let streamed = Corpus::open(d.join("b_streamed")).unwrap();
    assert_eq!(streamed.matrix(), want.view());
    assert_eq!(streamed.vocabulary(), fitted.vocabulary());
    assert_eq!(streamed.manifest().extra["vectorizer_from"], "a");
    // The last row knows no term; in the third, "the" and "and" are stop
    // words and "x5" is in one training document, under min_df.
    let b = Corpus::open(d.join("b")).unwrap();
    assert_eq!(b.matrix().outer_view(3).unwrap().nnz(), 0);
    assert_eq!(b.matrix().outer_view(2).unwrap().nnz(), 1);

    let fails = |args: &[&str], code: i32, needle: &str| {
        let out = crate::topicmill(d, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{err}");
        assert!(err.contains(needle), "expected {needle:?} in: {err}");
        assert!(!d.join("c").exists());
    };
    fn with<'a>(source: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
        let base = ["vectorize", "--input", "lines", "new.txt"];
        [&base[..], &["--vectorizer-from", source, "-o", "c"], extra].concat()
    }
    fails(
        &with("b", &[]),
        1,
        "corpus b was itself vectorized with --vectorizer-from a_streamed",
    );
    fails(&with("missing", &[]), 1, "cannot open corpus missing");
    fails(&with("new.txt", &[]), 1, "cannot read model new.txt");
    // A model records the vectorizer of the corpus it was fitted on, and
    // gives the same rows; one fitted on a corpus made through another's
    // vectorizer records none.
    for (corpus, model) in [("a", "a.model"), ("b", "b.model")] {
        run(&["fit", corpus, "-k", "2", "--max-iter", "5", "-o", model]);
    }
    run(&[&with("a.model", &[])[..], &["--overwrite"]].concat());
    let c = Corpus::open(d.join("c")).unwrap();
    assert_eq!(c.matrix(), want.view());
    assert_eq!(c.vocabulary(), fitted.vocabulary());
    assert_eq!(c.manifest().extra["vectorizer_from"], "a.model");
    std::fs::remove_dir_all(d.join("c")).unwrap();
    fails(
        &with("b.model", &[]),
        1,
        "model b.model records no vectorizer",
    );
    let mut no_tfidf: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("a/manifest.json")).unwrap()).unwrap();
    no_tfidf["extra"] = serde_json::Value::Null;
    std::fs::write(d.join("a/manifest.json"), no_tfidf.to_string()).unwrap();
    fails(
        &with("a", &[]),
        1,
        "corpus a: its manifest records no TF-IDF options",
    );
    fails(
        &with("a_streamed", &["--min-df", "3"]),
        2,
        "cannot be used with",
    );
}

/// `--overwrite` replaces a corpus directory, nothing else: not a folder of
/// other files, not a file, not the command's own input (nor a folder
/// holding it, nor one inside it, nor the corpus it takes its vocabulary
/// from). Each is refused before any work, naming the path, and left as
/// it was.
#[test]
fn overwrite_refuses_what_is_not_a_corpus_and_the_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let docs = "{\"text\": \"alpha beta gamma\"}\n{\"text\": \"beta gamma delta\"}\n";
    std::fs::write(d.join("in.jsonl"), docs).unwrap();
    std::fs::create_dir_all(d.join("p/q")).unwrap();
    std::fs::write(d.join("p/thesis.tex"), "x").unwrap();
    std::fs::write(d.join("p/q/in.jsonl"), docs).unwrap();
    std::fs::create_dir(d.join("fold")).unwrap();
    std::fs::write(d.join("fold/a.txt"), "alpha beta").unwrap();
    let run = |args: &[&str]| crate::topicmill(d, args);
    let jsonl = ["vectorize", "--input", "jsonl"];
    let corpus = run(&[&jsonl[..], &["in.jsonl", "-o", "c"]].concat());
    assert!(corpus.status.success(), "{}", crate::stderr(&corpus));
    let before = file_names(d);
    for (args, said) in [
        (
            &["in.jsonl", "-o", "p", "--overwrite"][..],
            "p: exists and is not a corpus directory: refusing to replace it",
        ),
        (
            &["in.jsonl", "-o", "in.jsonl", "--overwrite"],
            "in.jsonl: the output is the input in.jsonl: refusing to write there",
        ),
        (
            &["p/q/in.jsonl", "-o", "p", "--overwrite"],
            "p: the output contains the input p/q/in.jsonl: refusing to write there",
        ),
        (
            &[
                "in.jsonl",
                "-o",
                "c",
                "--vocabulary-from",
                "c",
                "--overwrite",
            ],
            "c: the output is the input c: refusing to write there",
        ),
        (
            &[
                "in.jsonl",
                "-o",
                "c",
                "--vectorizer-from",
                "./c/",
                "--overwrite",
            ],
            "c: the output is the input ./c/: refusing to write there",
        ),
        (
            &[
                "in.jsonl",
                "-o",
                "p/../c",
                "--streaming",
                "--vectorizer-from",
                "c",
            ],
            "p/../c: the output is the input c: refusing to write there",
        ),
    ] {
        let out = run(&[&jsonl[..], args].concat());
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(crate::stderr(&out), format!("error: {said}\n"), "{args:?}");
    }
    for out_dir in ["fold", "fold/corpus"] {
        let out = run(&[
            "vectorize",
            "--input",
            "folder",
            "fold",
            "-o",
            out_dir,
            "--overwrite",
        ]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            crate::stderr(&out).contains("the input fold"),
            "{}",
            crate::stderr(&out)
        );
    }
    assert_eq!(file_names(d), before);
    assert_eq!(file_names(&d.join("p")), ["q", "thesis.tex"]);
    assert_eq!(file_names(&d.join("fold")), ["a.txt"]);
    assert_eq!(std::fs::read_to_string(d.join("in.jsonl")).unwrap(), docs);
    // A corpus is replaced.
    let out = run(&[&jsonl[..], &["p/q/in.jsonl", "-o", "c", "--overwrite"]].concat());
    assert!(out.status.success(), "{}", crate::stderr(&out));
}

/// `-o .` (or an ancestor of the working directory) is refused up front,
/// with or without `--overwrite`, and leaves nothing behind.
#[test]
fn the_working_directory_is_refused_as_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The input elsewhere: `..` would hold it otherwise.
    let inputs = tempfile::tempdir().unwrap();
    let input = inputs.path().join("in.txt");
    std::fs::write(&input, "alpha beta\nbeta gamma\n").unwrap();
    let corpus = crate::topicmill(
        d,
        &["vectorize", "--input", "lines", path(&input), "-o", "c"],
    );
    assert!(corpus.status.success(), "{}", crate::stderr(&corpus));
    let inside = d.join("c");
    let before = file_names(&inside);
    for target in [".", "..", "../c"] {
        for extra in [&["--overwrite"][..], &[], &["--streaming", "--overwrite"]] {
            let out = crate::topicmill(
                &inside,
                &[
                    &["vectorize", "--input", "lines", path(&input), "-o", target],
                    extra,
                ]
                .concat(),
            );
            assert_eq!(out.status.code(), Some(1));
            assert_eq!(
                crate::stderr(&out),
                format!("error: {target}: is the current directory or one of its ancestors: refusing to write a corpus there\n")
            );
        }
    }
    assert_eq!(file_names(&inside), before);
    assert_eq!(file_names(d), ["c"]);
}

/// `--out` and `--export` on one path: said so, before any work.
#[test]
fn out_and_export_on_the_same_path_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("in.txt"), "alpha beta\nbeta gamma\n").unwrap();
    for (export, said) in [
        ("vx", "--out vx and --export vx are the same path"),
        ("./vx/", "--out vx and --export ./vx/ are the same path"),
        (
            "vx/e",
            "--out vx and --export vx/e overlap (the corpus directory holds the export)",
        ),
    ] {
        let out = crate::topicmill(
            d,
            &[
                "vectorize",
                "--input",
                "lines",
                "in.txt",
                "-o",
                "vx",
                "--export",
                export,
            ],
        );
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            crate::stderr(&out),
            format!("error: {said}: give them separate directories\n")
        );
    }
    assert_eq!(file_names(d), ["in.txt"]);
}

/// Every file under `dir` (relative path, bytes), sorted: what a refused
/// run must leave as it was.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, into: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.strip_prefix(root).unwrap().display().to_string();
            if path.is_dir() {
                into.push((format!("{name}/"), Vec::new()));
                walk(root, &path, into);
            } else {
                into.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files);
    files.sort();
    files
}

/// QA N2: `--export` follows the rules of `--out`. Refused before any work,
/// leaving every file as it was and creating none: an export that is,
/// holds or lies inside an input, or holds `--out`; a corpus directory
/// (even with --overwrite); a non-empty directory that is not a previous
/// export (even with --overwrite); a previous export without --overwrite.
/// Written: a new directory, an empty one, and a previous export with
/// --overwrite (its files replaced, the rest left alone).
#[test]
fn export_overwrites_neither_inputs_nor_corpora_nor_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |args: &[&str]| crate::topicmill(d, &[&["vectorize"][..], args].concat());
    std::fs::create_dir(d.join("fo")).unwrap();
    std::fs::write(d.join("fo/vocab.txt"), "bye world\n").unwrap();
    std::fs::write(d.join("fo/a.txt"), "hi\n").unwrap();
    std::fs::write(
        d.join("in.jsonl"),
        "{\"text\": \"hello world\"}\n{\"text\": \"bye world\"}\n",
    )
    .unwrap();
    let jsonl = ["--input", "jsonl", "in.jsonl"];
    let out = run(&[&jsonl[..], &["-o", "s2"]].concat());
    assert!(out.status.success(), "{}", crate::stderr(&out));
    std::fs::create_dir(d.join("other")).unwrap();
    std::fs::write(d.join("other/vocab.txt"), "not an export's\n").unwrap();

    let refused: [(&[&str], &str); 12] = [
        (
            &["--input", "folder", "fo", "-o", "ef", "--export", "fo"],
            "--export fo is the input fo: refusing to write there",
        ),
        (
            &["--input", "folder", "fo", "--export", "fo/", "--overwrite"],
            "--export fo/ is the input fo: refusing to write there",
        ),
        (
            &["--input", "lines", "fo/vocab.txt", "--export", "fo"],
            "--export fo contains the input fo/vocab.txt: refusing to write there",
        ),
        (
            &["--input", "folder", "fo", "--export", "fo/e"],
            "--export fo/e lies inside the input fo: refusing to write there",
        ),
        (
            &[&jsonl[..], &["--vocabulary-from", "s2", "--export", "s2/e"]].concat(),
            "--export s2/e lies inside the input s2: refusing to write there",
        ),
        (
            &[&jsonl[..], &["--vectorizer-from", "s2", "--export", "s2/e"]].concat(),
            "--export s2/e lies inside the input s2: refusing to write there",
        ),
        (
            &[&jsonl[..], &["-o", "e4", "--export", "s2"]].concat(),
            "--export s2: is a corpus directory: refusing to export into it",
        ),
        (
            &[&jsonl[..], &["--export", "s2", "--overwrite"]].concat(),
            "--export s2: is a corpus directory: refusing to export into it",
        ),
        (
            &[&jsonl[..], &["--export", "other"]].concat(),
            "--export other: exists, is not empty and is not a previous export: refusing to write into it",
        ),
        (
            &[&jsonl[..], &["--export", "other", "--overwrite"]].concat(),
            "--export other: exists, is not empty and is not a previous export: refusing to write into it",
        ),
        (
            &[&jsonl[..], &["--export", "in.jsonl", "--overwrite"]].concat(),
            "--export in.jsonl is the input in.jsonl: refusing to write there",
        ),
        (
            &[&jsonl[..], &["-o", "e4/c", "--export", "e4"]].concat(),
            "--out e4/c and --export e4 overlap (the export holds the corpus directory): give them separate directories",
        ),
    ];
    let before = snapshot(d);
    for (args, said) in refused {
        let out = run(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            crate::stderr(&out)
        );
        assert_eq!(crate::stderr(&out), format!("error: {said}\n"), "{args:?}");
        assert!(snapshot(d) == before, "{args:?} changed or created files");
    }

    // A new directory and an empty one take an export.
    std::fs::create_dir(d.join("empty")).unwrap();
    let exported = ["ids.txt", "manifest.json", "matrix.mtx", "vocab.txt"];
    for export in ["new/ex", "empty"] {
        let out = run(&[&jsonl[..], &["--export", export]].concat());
        assert!(out.status.success(), "{}", crate::stderr(&out));
        assert_eq!(file_names(&d.join(export)), exported);
    }
    let vocab = std::fs::read_to_string(d.join("empty/vocab.txt")).unwrap();
    assert_eq!(vocab, "bye\nhello\nworld\n");
    // A previous export: refused without --overwrite, its files replaced
    // with it (and only they: a file of its owner's stays).
    std::fs::write(d.join("empty/notes.txt"), "mine\n").unwrap();
    std::fs::write(d.join("in.jsonl"), "{\"text\": \"so long world\"}\n").unwrap();
    let before = snapshot(d);
    let out = run(&[&jsonl[..], &["--export", "empty"]].concat());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        crate::stderr(&out),
        "error: --export empty: holds a previous export: give --overwrite to replace its files\n"
    );
    assert!(snapshot(d) == before, "a refused re-export changed files");
    let out = run(&[&jsonl[..], &["--export", "empty", "--overwrite"]].concat());
    assert!(out.status.success(), "{}", crate::stderr(&out));
    let vocab = std::fs::read_to_string(d.join("empty/vocab.txt")).unwrap();
    assert_eq!(vocab, "long\nso\nworld\n");
    assert_eq!(
        std::fs::read_to_string(d.join("empty/notes.txt")).unwrap(),
        "mine\n"
    );
    assert_eq!(
        file_names(&d.join("empty")),
        [
            "ids.txt",
            "manifest.json",
            "matrix.mtx",
            "notes.txt",
            "vocab.txt"
        ]
    );
}

/// An export interrupted while its files are written (SIGINT, SIGTERM)
/// leaves no `.topicmill-XXXX.tmp` file in the export directory, nor the
/// corpus's temporary directory: the process removes its outputs' temporary
/// files before it dies of the signal (QA N4; the corpus's directory alone
/// was removed before).
#[cfg(unix)]
#[test]
fn an_interrupted_export_leaves_no_temporary_file() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 300,000 documents of 12 words: an export of seconds to write.
    let mut docs = std::io::BufWriter::new(std::fs::File::create(d.join("docs.jsonl")).unwrap());
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..300_000 {
        let words: Vec<String> = (0..12)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                format!("w{}", state % 5000)
            })
            .collect();
        writeln!(docs, "{{\"text\": \"{}\"}}", words.join(" ")).unwrap();
    }
    drop(docs);
    let staged = |d: &Path| {
        file_names(d)
            .into_iter()
            .filter(|n| n.starts_with(".topicmill-") || n.contains(".tmp-"))
            .collect::<Vec<_>>()
    };
    for (sig, name) in [(2, "INT"), (15, "TERM")] {
        let args = [
            "vectorize",
            "--input",
            "jsonl",
            "docs.jsonl",
            "-o",
            "c",
            "--export",
            "x",
        ];
        let mut child = Command::new(env!("CARGO_BIN_EXE_topicmill"))
            .args(args)
            .current_dir(d)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Until a staged export file is being written (not the empty one
        // the output check makes and removes at the start).
        crate::interrupt_when(&mut child, (name, sig), Duration::from_secs(120), || {
            d.join("x").is_dir()
                && staged(&d.join("x"))
                    .iter()
                    .any(|n| std::fs::metadata(d.join("x").join(n)).is_ok_and(|m| m.len() > 0))
        });
        assert!(
            staged(&d.join("x")).is_empty(),
            "{name}: {:?}",
            file_names(&d.join("x"))
        );
        assert!(staged(d).is_empty(), "{name}: {:?}", file_names(d));
        for out in ["c", "x"] {
            let _ = std::fs::remove_dir_all(d.join(out));
        }
    }
}
