//! `topicmill fit`, `topics`, `transform`, `lsi` and `demo`: the seed table,
//! fit == transform on the fitted documents, the offline demo, and bad input.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{stderr, stdout, topicmill};

/// The repository's own sample corpus (18 labelled documents, three themes).
fn sample_jsonl() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/sample.jsonl")
}

/// Vectorizes the sample corpus into `dir/name`.
fn vectorize_sample(dir: &Path, name: &str) {
    let sample = sample_jsonl();
    let out = topicmill(
        dir,
        &[
            "vectorize",
            "--input",
            "jsonl",
            sample.to_str().unwrap(),
            "--id-field",
            "id",
            "--label-field",
            "label",
            "--stop-words",
            "english",
            "-o",
            name,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

fn assert_fails(out: &std::process::Output, needle: &str) {
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(out));
    let err = stderr(out);
    assert!(err.contains(needle), "expected {needle:?} in stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Files in `dir` other than the listed ones (no partial output left behind).
fn extra_files(dir: &Path, expected: &[&str]) -> Vec<String> {
    let mut names = crate::file_names(dir);
    names.retain(|name| !expected.contains(&name.as_str()));
    names
}

#[test]
fn fit_topics_and_transform_agree_on_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    vectorize_sample(dir.path(), "sample");
    let out = topicmill(
        dir.path(),
        &[
            "fit",
            "sample",
            "-k",
            "3",
            "--seed",
            "1",
            "-o",
            "sample.model",
            "--doc-topics",
            "fit.csv",
            "--loss-history",
            "loss.json",
            "--w-npy",
            "w.npy",
            "--h-npy",
            "h.npy",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    // Three themes, three topics: each theme's documents share a dominant topic.
    let fit_csv = fs::read_to_string(dir.path().join("fit.csv")).unwrap();
    let mut header_and_rows = fit_csv.lines();
    assert_eq!(
        header_and_rows.next(),
        Some("doc_id,dominant_topic,topic_01,topic_02,topic_03")
    );
    let mut dominant_by_theme = std::collections::BTreeMap::<String, BTreeSet<String>>::new();
    for row in header_and_rows {
        let fields: Vec<&str> = row.split(',').collect();
        let theme = fields[0].split('-').next().unwrap().to_owned();
        dominant_by_theme
            .entry(theme)
            .or_default()
            .insert(fields[1].to_owned());
    }
    assert_eq!(dominant_by_theme.len(), 3);
    let topics: BTreeSet<_> = dominant_by_theme
        .values()
        .map(|set| {
            assert_eq!(set.len(), 1, "a theme split across topics: {fit_csv}");
            set.iter().next().unwrap().clone()
        })
        .collect();
    assert_eq!(topics.len(), 3, "two themes share a topic: {fit_csv}");

    // transform on the fitted documents gives what fit gave, to the last digit.
    let out = topicmill(
        dir.path(),
        &["transform", "sample.model", "sample", "-o", "transform.csv"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let transform_csv = fs::read_to_string(dir.path().join("transform.csv")).unwrap();
    assert_eq!(transform_csv, fit_csv);

    // The loss history is JSON with one entry per iteration.
    let loss: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("loss.json")).unwrap()).unwrap();
    assert!(!loss.as_array().unwrap().is_empty(), "{loss}");

    // .npy files: magic, then shapes (18, 3) and (3, n_terms).
    for (name, shape) in [("w.npy", "(18, 3)"), ("h.npy", "(3, ")] {
        let bytes = fs::read(dir.path().join(name)).unwrap();
        assert_eq!(&bytes[..6], b"\x93NUMPY");
        let header = String::from_utf8_lossy(&bytes[10..128]);
        assert!(header.contains(shape), "{name}: {header}");
    }

    // topics: table, JSON and CSV agree on the words.
    let table = topicmill(dir.path(), &["topics", "sample.model", "-n", "4"]);
    assert!(table.status.success(), "{}", stderr(&table));
    let table = stdout(&table);
    assert!(table.starts_with("Topic #01"), "{table}");
    let json = topicmill(dir.path(), &["topics", "sample.model", "--format", "json"]);
    assert!(json.status.success());
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 3);
    for topic in json.as_array().unwrap() {
        let first = topic["words"][0].as_str().unwrap();
        assert!(table.contains(first), "{first} missing from {table}");
    }
    let csv = topicmill(dir.path(), &["topics", "sample.model", "--format", "csv"]);
    assert!(csv.status.success());
    assert!(stdout(&csv).lines().count() > 3);

    // LSI beside NMF.
    let lsi = topicmill(
        dir.path(),
        &[
            "lsi",
            "sample",
            "-k",
            "3",
            "-n",
            "4",
            "--nmf",
            "sample.model",
        ],
    );
    assert!(lsi.status.success(), "{}", stderr(&lsi));
    let lsi = stdout(&lsi);
    assert!(lsi.contains("LSI #01") && lsi.contains("NMF #03"), "{lsi}");
}

#[test]
fn the_same_seed_gives_the_same_model_whatever_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    vectorize_sample(dir.path(), "sample");
    let mut models = Vec::new();
    for threads in ["1", "2"] {
        for solver in ["mu", "hals"] {
            let name = format!("{solver}-{threads}.model");
            let out = Command::new(env!("CARGO_BIN_EXE_topicmill"))
                .args([
                    "fit", "sample", "-k", "3", "--solver", solver, "--seed", "7", "--init",
                    "random", "-o", &name,
                ])
                .current_dir(dir.path())
                .env("RAYON_NUM_THREADS", threads)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
            models.push((solver, fs::read(dir.path().join(&name)).unwrap()));
        }
    }
    assert_eq!(models[0], models[2], "mu differs between 1 and 2 threads");
    assert_eq!(models[1], models[3], "hals differs between 1 and 2 threads");
}

/// New documents, some of their words unknown to the model: vectorized onto
/// the model's vocabulary (`--no-new-terms`), `transform` scores them; with
/// the new words appended instead, it says how to vectorize them.
#[test]
fn transform_scores_new_documents_vectorized_onto_the_models_vocabulary() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    vectorize_sample(d, "sample");
    let out = topicmill(d, &["fit", "sample", "-k", "3", "-o", "m.model"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut new = fs::read_to_string(sample_jsonl())
        .unwrap()
        .lines()
        .take(2)
        .collect::<Vec<_>>()
        .join("\n");
    new.push_str("\n{\"id\": \"n1\", \"text\": \"Quarks and gluons bind in hadrons.\"}\n");
    new.push_str(
        "{\"id\": \"n2\", \"text\": \"Knead the dough, then bake the bread in a hot oven.\"}\n",
    );
    fs::write(d.join("new.jsonl"), new).unwrap();
    // The new documents, vectorized.
    let new_docs = [
        "vectorize",
        "--input",
        "jsonl",
        "new.jsonl",
        "--id-field",
        "id",
    ];
    let vectorize = |name: &str, extra: &[&str]| {
        let onto = [
            "--stop-words",
            "english",
            "--vocabulary-from",
            "m.model",
            "-o",
            name,
        ];
        let out = topicmill(d, &[&new_docs[..], &onto, extra].concat());
        assert!(out.status.success(), "{}", stderr(&out));
        stderr(&out)
    };

    // New words appended: not the model's vocabulary.
    vectorize("appended", &[]);
    let out = topicmill(d, &["transform", "m.model", "appended", "-o", "a.csv"]);
    assert_fails(&out, "--vocabulary-from m.model --no-new-terms");
    assert_fails(
        &out,
        "the vectorizer the model records (`topicmill vectorize … --vectorizer-from m.model`)",
    );
    assert!(!d.join("a.csv").exists());

    // Onto the model's vocabulary: exactly its terms, and transform runs.
    let said = vectorize("onto", &["--no-new-terms"]);
    assert!(said.contains("terms of this corpus left out"), "{said}");
    assert_eq!(
        fs::read_to_string(d.join("onto/vocab.txt")).unwrap(),
        fs::read_to_string(d.join("sample/vocab.txt")).unwrap()
    );
    let manifest = fs::read_to_string(d.join("onto/manifest.json")).unwrap();
    assert!(manifest.contains("\"no_new_terms\": true"), "{manifest}");
    let out = topicmill(d, &["transform", "m.model", "onto", "-o", "t.csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = fs::read_to_string(d.join("t.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 4, "{csv}");
    // The baking document has known words: a dominant topic and finite,
    // non-negative weights; the physics one knows none: all zero.
    for row in &rows {
        let fields: Vec<&str> = row.split(',').collect();
        for w in &fields[2..] {
            let w: f64 = w.parse().unwrap();
            assert!(w.is_finite() && w >= 0.0, "{row}");
        }
    }
    let n1: Vec<&str> = rows[2].split(',').collect();
    assert_eq!(n1[0], "n1");
    assert!(
        n1[2..].iter().all(|w| w.parse::<f64>().unwrap() == 0.0),
        "{csv}"
    );
    let n2: Vec<&str> = rows[3].split(',').collect();
    assert!(!n2[1].is_empty(), "{csv}");

    // Such a corpus's values are a fit on the fixed vocabulary, and its
    // vectorizer (`--vectorizer-from`) gives them back, with idf smoothing
    // or without (the model's terms that no new document holds would then
    // have an infinite idf: they are not terms of that vectorizer).
    let texts: Vec<String> = fs::read_to_string(d.join("new.jsonl"))
        .unwrap()
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            v["text"].as_str().unwrap().to_string()
        })
        .collect();
    let model_terms = fs::read_to_string(d.join("sample/vocab.txt")).unwrap();
    let model_terms: Vec<String> = model_terms.lines().map(String::from).collect();
    for (name, extra) in [("onto", &[][..]), ("onto_sharp", &["--no-smooth-idf"][..])] {
        if name != "onto" {
            vectorize(name, &[&["--no-new-terms"], extra].concat());
        }
        let params = topicmill_text::TfidfParams::default()
            .stop_words(Some(topicmill_text::StopWords::English))
            .smooth_idf(extra.is_empty());
        let (_, want, _) = params
            .fit_transform_with_vocabulary(&model_terms, &texts)
            .unwrap();
        let onto = topicmill_sparse::Corpus::open(d.join(name)).unwrap();
        assert_eq!(onto.matrix(), want.view(), "{name}");
        let again = format!("{name}_again");
        let through = ["--vectorizer-from", name, "-o", &again];
        let out = topicmill(d, &[&new_docs[..], &through].concat());
        assert!(out.status.success(), "{}", stderr(&out));
        let again = topicmill_sparse::Corpus::open(d.join(&again)).unwrap();
        assert_eq!(again.matrix(), onto.matrix(), "{name}");
    }
}

/// `inspect` on a model file: what it holds, as text or JSON.
#[test]
fn inspect_describes_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    vectorize_sample(d, "sample");
    let out = topicmill(
        d,
        &["fit", "sample", "-k", "3", "--seed", "4", "-o", "m.model"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let terms = fs::read_to_string(d.join("sample/vocab.txt"))
        .unwrap()
        .lines()
        .count();
    let out = topicmill(d, &["inspect", "m.model", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["kind"], "model");
    assert_eq!(report["k"], 3);
    assert_eq!(report["terms"], terms);
    assert_eq!(report["params"]["seed"], 4);
    assert_eq!(report["vocabulary"], true);
    assert_eq!(report["vectorizer"]["tfidf"]["stop_words"], "english");
    assert_eq!(report["vectorizer"]["no_new_terms"], false);
    let out = topicmill(d, &["inspect", "m.model"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("model      m.model\ntopics     3\n"),
        "{text}"
    );
    assert!(text.contains(&format!("x {terms} terms")), "{text}");
    // A model is not verified by --verify; a damaged one is an error.
    assert_fails(
        &topicmill(d, &["inspect", "m.model", "--verify"]),
        "is a model",
    );
    let bytes = fs::read(d.join("m.model")).unwrap();
    fs::write(d.join("cut.model"), &bytes[..bytes.len() - 9]).unwrap();
    assert_fails(
        &topicmill(d, &["inspect", "cut.model"]),
        "cannot read model cut.model",
    );
    // Damaged TF-IDF options in the corpus's manifest: the fit warns, and
    // its model records no vectorizer.
    let path = d.join("sample/manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    manifest["extra"]["tfidf"]["norm"] = "l3".into();
    fs::write(&path, manifest.to_string()).unwrap();
    let out = topicmill(d, &["fit", "sample", "-k", "3", "-o", "w.model"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let warned = stderr(&out);
    assert!(
        warned.contains("warning: corpus sample: the manifest's TF-IDF options")
            && warned.contains("the model records no vectorizer"),
        "{warned}"
    );
    let out = topicmill(d, &["inspect", "w.model", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["vectorizer"], serde_json::Value::Null);
}

#[test]
fn bad_input_is_a_clear_error_without_partial_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    vectorize_sample(d, "sample");

    // k = 0 and k > min(n, m).
    let out = topicmill(d, &["fit", "sample", "-k", "0", "-o", "a.model"]);
    assert_fails(&out, "k");
    let out = topicmill(d, &["fit", "sample", "-k", "19", "-o", "a.model"]);
    assert_fails(&out, "19");
    assert!(!d.join("a.model").exists());

    // A good model to damage.
    let out = topicmill(d, &["fit", "sample", "-k", "3", "-o", "good.model"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let good = fs::read(d.join("good.model")).unwrap();

    // Not a model.
    fs::write(d.join("text.model"), "this is not a model\n").unwrap();
    assert_fails(&topicmill(d, &["topics", "text.model"]), "text.model");
    // Truncated.
    fs::write(d.join("short.model"), &good[..good.len() / 2]).unwrap();
    assert_fails(&topicmill(d, &["topics", "short.model"]), "short.model");
    // Another format version (bytes 8..12 after the magic).
    let mut future = good.clone();
    future[8..12].copy_from_slice(&99u32.to_le_bytes());
    fs::write(d.join("future.model"), &future).unwrap();
    assert_fails(&topicmill(d, &["topics", "future.model"]), "version");
    // A missing model.
    assert_fails(&topicmill(d, &["topics", "missing.model"]), "missing.model");

    // transform with a corpus of another vocabulary: drop the last document
    // group's words by vectorizing a subset with a different vocabulary size.
    let subset = d.join("subset.jsonl");
    let mut file = fs::File::create(&subset).unwrap();
    for line in fs::read_to_string(sample_jsonl()).unwrap().lines().take(6) {
        writeln!(file, "{line}").unwrap();
    }
    drop(file);
    let out = topicmill(
        d,
        &[
            "vectorize",
            "--input",
            "jsonl",
            "subset.jsonl",
            "--stop-words",
            "english",
            "-o",
            "subset",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = topicmill(d, &["transform", "good.model", "subset", "-o", "t.csv"]);
    assert_fails(&out, "vocabulary");
    assert!(!d.join("t.csv").exists());

    // An empty matrix (no documents at all).
    fs::write(d.join("empty.jsonl"), "").unwrap();
    let out = topicmill(
        d,
        &[
            "vectorize",
            "--input",
            "jsonl",
            "empty.jsonl",
            "-o",
            "empty",
        ],
    );
    if out.status.success() {
        let out = topicmill(d, &["fit", "empty", "-k", "1", "-o", "e.model"]);
        assert_fails(&out, "empty");
        assert!(!d.join("e.model").exists());
    } else {
        assert_fails(&out, "empty.jsonl");
    }

    // An unwritable output directory.
    let out = topicmill(
        d,
        &["fit", "sample", "-k", "3", "-o", "no/such/dir/x.model"],
    );
    assert_fails(&out, "no/such/dir");
    // A secondary output that cannot be written fails before the fit, and
    // leaves no model: the outputs of a command land together or not at all.
    let fit_b = |extra: &[&str]| {
        let base = ["fit", "sample", "-k", "3", "-o", "b.model"];
        topicmill(d, &[&base[..], extra].concat())
    };
    for flag in ["--loss-history", "--doc-topics", "--w-npy", "--h-npy"] {
        let out = fit_b(&[flag, "no/dir/out"]);
        assert_fails(&out, "no/dir/out");
        assert!(stdout(&out).is_empty(), "{flag}: the fit ran");
    }
    assert_fails(&fit_b(&["--w-npy", "./b.model"]), "b.model");
    let out = topicmill(d, &["fit", "sample", "-k", "3", "-o", "sample"]);
    assert_fails(&out, "directory");
    let out = topicmill(
        d,
        &[
            "transform",
            "good.model",
            "sample",
            "-o",
            "t.csv",
            "--w-npy",
            "no/dir/w.npy",
        ],
    );
    assert_fails(&out, "no/dir/w.npy");

    // Options out of their range, negative numbers included (parsed as
    // values, then refused by name before any work).
    let warm = "fit sample -k 3 -o c.model --warm-start good.model";
    let refused = [
        ("fit sample -k 3 -o c.model --tol -1".to_string(), "tol"),
        (
            "fit sample -k 3 -o c.model --alpha-w -0.5".into(),
            "alpha_w",
        ),
        (
            format!("{warm} --keep-similarity 1.5"),
            "--keep-similarity must be a cosine similarity in [0, 1], got 1.5",
        ),
        (
            format!("{warm} --keep-similarity 0.4 --drift-similarity 0.6"),
            "--drift-similarity (0.6) must not exceed --keep-similarity (0.4)",
        ),
        (
            "sweep sample --k 2,3 --min-stability nan".into(),
            "--min-stability must be a cosine similarity in [0, 1], got NaN",
        ),
        (
            "bench generated:200x300x2000x3 --until-error -1".into(),
            "--until-error must be a relative error ≥ 0, got -1",
        ),
        (
            "generate -o g --shape 100x200x1000x3 --background -0.5".into(),
            "background -0.5",
        ),
    ];
    for (command, needle) in &refused {
        let args: Vec<&str> = command.split_whitespace().collect();
        let out = topicmill(d, &args);
        assert_fails(&out, needle);
        assert!(stdout(&out).is_empty(), "{command}: work was done");
    }

    // Nothing half-written anywhere.
    let leftovers = extra_files(
        d,
        &[
            "sample",
            "good.model",
            "text.model",
            "short.model",
            "future.model",
            "subset.jsonl",
            "subset",
            "empty.jsonl",
            "empty",
        ],
    );
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}

/// The seed's four topics, as sets of their top-8 words.
const SEED_TOPICS: [[&str; 8]; 4] = [
    [
        "god", "people", "don", "think", "jesus", "just", "say", "bible",
    ],
    [
        "graphics", "thanks", "files", "image", "file", "program", "know", "windows",
    ],
    [
        "space", "nasa", "launch", "shuttle", "moon", "orbit", "lunar", "earth",
    ],
    [
        "ico",
        "bobbe",
        "tek",
        "beauchaine",
        "bronx",
        "manhattan",
        "sank",
        "queens",
    ],
];

/// The table's columns: one word set per topic.
fn table_columns(table: &str) -> Vec<BTreeSet<String>> {
    let mut lines = table
        .lines()
        .skip_while(|line| !line.starts_with("Topic #01"));
    let header = lines.next().expect("a topic table");
    let k = header.split_whitespace().count() / 2;
    let mut columns = vec![BTreeSet::new(); k];
    for line in lines.skip(1).take_while(|line| !line.trim().is_empty()) {
        for (column, word) in line.split_whitespace().enumerate() {
            columns[column].insert(word.to_owned());
        }
    }
    columns
}

#[test]
fn demo_prints_the_seed_table() {
    let Some(archive) = topicmill_testdata::require("20news-bydate/20news-bydate.tar.gz") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = archive.parent().unwrap();
    let out = topicmill(
        dir.path(),
        &["demo", "--data-dir", data_dir.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("2034 documents × 26576 terms"), "{text}");
    assert!(text.contains("time: locate"), "{text}");
    let got = table_columns(&text);
    let want: Vec<BTreeSet<String>> = SEED_TOPICS
        .iter()
        .map(|words| words.iter().map(|w| w.to_string()).collect())
        .collect();
    // Each seed topic appears as a column (in any column order).
    for topic in &want {
        assert!(got.contains(topic), "seed topic {topic:?} not in\n{text}");
    }
    // The relative error is scikit-learn's 0.985673 within 0.1 %.
    let err: f64 = text
        .split("relative error ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("a relative error");
    assert!((err - 0.985673).abs() / 0.985673 < 1e-3, "{err}");
}

#[test]
fn demo_offline_says_where_to_put_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fs::create_dir(&data).unwrap();
    // A loopback port that nothing listens on: the download fails at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/20news-bydate.tar.gz",
        closed.local_addr().unwrap()
    );
    drop(closed);
    let out = Command::new(env!("CARGO_BIN_EXE_topicmill"))
        .args(["demo", "--data-dir", data.to_str().unwrap()])
        .current_dir(dir.path())
        .env("TOPICMILL_20NEWS_URL", &url)
        .env_remove("TOPICMILL_DATA")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    let dest = data.join("20news-bydate.tar.gz");
    assert!(err.contains(&dest.display().to_string()), "{err}");
    assert!(
        err.contains("8f1b2514ca22a5ade8fbb9cfa5727df95fa587f4c87b786e15c759fa66d95610"),
        "{err}"
    );
    assert!(
        fs::read_dir(&data).unwrap().next().is_none(),
        "partial download left"
    );
}

#[test]
fn demo_rejects_another_archive_by_its_counts() {
    // A .tar.gz with the corpus' layout but two documents: the demo reads it,
    // and says what it holds against what the archive holds.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("20news-bydate.tar.gz");
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        fs::File::create(&path).unwrap(),
        flate2::Compression::fast(),
    ));
    for name in [
        "20news-bydate-train/sci.space/1",
        "20news-bydate-test/sci.space/2",
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(5);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, name, &b"hello"[..])
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_topicmill"))
        .args(["demo", "--data-dir", dir.path().to_str().unwrap()])
        .env_remove("TOPICMILL_DATA")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("holds 1 train and 1 test documents, expected 11314 and 7532"),
        "{err}"
    );
}

/// A fit's footprint (X + Xᵀ + the peak of the heap it allocates, counted by
/// the binary's allocator) stays within 1.5 × (X + Xᵀ + W + Hᵀ) where the
/// factors outweigh the matrix: generated corpora of 2000 × 6000 (60,000
/// non-zeros) at k = 100, 3000 × 3000 (20,000) at k = 40 and 1000 × 3000
/// (30,000) at k = 300, every solver, from the random start and NNDSVDa's.
/// Each N buffer as large as a factor, the Gram partials of 512-row chunks
/// and NNDSVD's factors beside the singular vectors had put the first at
/// 2.15.
#[test]
fn fit_footprint_stays_within_the_bound_at_large_k() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The last two were over the bound until the SVD's right vectors were
    // written over Bᵀ (1.58 at k = 40, NNDSVDa) and one-chunk Grams kept no
    // partials (1.75 at k = 300).
    let shapes = [
        ("generated:2000x6000x60000x10", "100"),
        ("generated:3000x3000x20000x40", "40"),
        ("generated:1000x3000x30000x300", "300"),
    ];
    for (shape, k) in shapes {
        for init in ["random", "nndsvda"] {
            let out = topicmill(
                d,
                &[
                    "bench",
                    shape,
                    "-k",
                    k,
                    "--solvers",
                    "mu,hals,kl",
                    "--init",
                    init,
                    "--iters",
                    "2",
                    "--repeat",
                    "1",
                    "--final-w-iters",
                    "5",
                    "--no-limit",
                    "--json",
                    "--work-dir",
                    d.to_str().unwrap(),
                ],
            );
            assert!(out.status.success(), "{}", stderr(&out));
            let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let results = json["results"].as_array().unwrap();
            assert_eq!(results.len(), 3);
            for r in results {
                let ratio = r["footprint_ratio"].as_f64().unwrap();
                assert!(
                    ratio > 1.0 && ratio <= 1.5,
                    "{shape} k = {k}, {init} {}: footprint {ratio} × the reference",
                    r["solver"]
                );
            }
        }
    }
}
