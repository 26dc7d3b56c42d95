//! `topicmill fit`, `topics`, `transform`, `lsi` and `demo`: the seed table,
//! fit == transform on the fitted documents, the offline demo, and bad input.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{sample_jsonl, stderr, stdout, topicmill, vectorize_sample};

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
    // Which copy it read, on stderr (stdout holds the table).
    assert!(
        stderr(&out).contains(&format!(
            "reading the 20 Newsgroups archive {} (found in --data-dir)",
            archive.display()
        )),
        "{}",
        stderr(&out)
    );
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
    crate::demo::foreign_archive(&path, 1, 1);
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
/// (30,000) at k = 300, and the seed's shape at k = 4 (2000 × 26000, 130,000),
/// every solver, from the random start and NNDSVDa's.
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
        // The seed's shape, where NNDSVD's basis outweighs the factors:
        // 1.89 while the up-front memory check reserved it through the
        // counted allocator.
        ("generated:2000x26000x130000x4", "4"),
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

/// `bench generated:…` whose corpus cannot be written says so once, naming
/// the path once (the writer's error starts with it; the command's context
/// had repeated it: "cannot generate P: P: …").
#[test]
fn bench_names_an_unwritable_generated_corpus_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = d.join("not-a-dir");
    fs::write(&file, b"x").unwrap();
    let out = topicmill(
        d,
        &[
            "bench",
            "generated:10x10x20x2",
            "--iters",
            "2",
            "--repeat",
            "1",
            "--work-dir",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.matches(file.to_str().unwrap()).count(), 1, "{err}");
    assert!(
        err.contains("cannot generate the workload's corpus"),
        "{err}"
    );
    assert_eq!(fs::read(&file).unwrap(), b"x");
}

/// Every file under `dir` (recursively) with its bytes, to show that a
/// refused command left its inputs as they were.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = fs::read(&path).unwrap();
            files.push((path, bytes));
        }
    }
    files.sort();
    files
}

/// QA D2: an output naming an input (the model, a corpus file, the model a
/// warm start reads, through a symbolic link or a `..`) is refused before any
/// work, and the inputs are untouched.
#[test]
fn an_output_never_overwrites_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    vectorize_sample(d, "sample");
    let out = topicmill(d, &["fit", "sample", "-k", "3", "-o", "good.model"]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::os::unix::fs::symlink("sample/vocab.txt", d.join("vocab-link.txt")).unwrap();
    let before = snapshot(d);

    let inside = "lies inside the input directory sample";
    let is_model = "it is the input good.model";
    let refused: [(&str, &str); 10] = [
        ("fit sample -k 3 -o sample/matrix.csr", inside),
        (
            "fit sample -k 3 -o m.model --loss-history sample/vocab.txt",
            inside,
        ),
        (
            "fit sample -k 3 -o m.model --h-npy ./sample/../sample/new.npy",
            inside,
        ),
        ("fit sample -k 3 -o vocab-link.txt", inside),
        (
            "fit sample -k 3 -o m.model --warm-start good.model --change-report good.model",
            is_model,
        ),
        (
            "fit sample -k 3 -o good.model --warm-start good.model",
            is_model,
        ),
        ("transform good.model sample -o good.model", is_model),
        (
            "transform good.model sample -o t.csv --w-npy good.model",
            is_model,
        ),
        ("transform good.model sample -o sample/doc_ids.txt", inside),
        (
            "sweep sample --k 2,3 --seeds 2 --svg sample/matrix.csr",
            inside,
        ),
    ];
    for (command, needle) in refused {
        let args: Vec<&str> = command.split_whitespace().collect();
        let out = topicmill(d, &args);
        assert_fails(&out, needle);
        assert!(stdout(&out).is_empty(), "{command}: work was done");
        assert!(
            !stderr(&out).contains("k=2 seed=0"),
            "{command}: the sweep fitted"
        );
        assert!(snapshot(d) == before, "{command}: an input changed");
    }
    assert!(topicmill(d, &["inspect", "sample"]).status.success());
    // Two outputs that are one file, however spelled, are refused too (the
    // second written would replace the first).
    let out = topicmill(
        d,
        &[
            "fit",
            "sample",
            "-k",
            "3",
            "-o",
            "m.model",
            "--w-npy",
            "sample/../m.model",
        ],
    );
    assert_fails(&out, "two outputs are both sample/../m.model (as m.model)");
    assert!(!d.join("m.model").exists());
    // A fit's outputs beside its inputs are fine.
    let out = topicmill(d, &["fit", "sample", "-k", "3", "-o", "sample.model"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Sets value `i` of the data section of the matrix file `path` (its offset is
/// the u64 at byte 80 of the header).
fn set_value(path: &Path, i: usize, value: f32) {
    let mut bytes = fs::read(path).unwrap();
    let offset = u64::from_le_bytes(bytes[80..88].try_into().unwrap()) as usize + 4 * i;
    bytes[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
    fs::write(path, bytes).unwrap();
}

/// A copy of the corpus directory `from` at `to`.
fn copy_corpus(from: &Path, to: &Path) {
    fs::create_dir(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// QA D3, D4: a NaN or negative value in either matrix file (X or its stored
/// transpose) is refused by every command that computes with the corpus, with
/// the file, byte offset, row and column named.
#[test]
fn a_bad_value_in_either_matrix_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    vectorize_sample(d, "sample");
    let out = topicmill(d, &["fit", "sample", "-k", "3", "-o", "good.model"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let cases = [
        ("nan_t", "matrix_t.csr", f32::NAN, "invalid value NaN (NaN)"),
        ("neg_t", "matrix_t.csr", -1.0, "invalid value -1 (negative)"),
        (
            "inf_x",
            "matrix.csr",
            f32::INFINITY,
            "invalid value inf (infinite)",
        ),
        ("neg_x", "matrix.csr", -1.0, "invalid value -1 (negative)"),
    ];
    for (name, file, value, what) in cases {
        copy_corpus(&d.join("sample"), &d.join(name));
        set_value(&d.join(name).join(file), 5, value);
        let place = format!("{name}/{file}: section data, byte offset ");
        let commands = [
            format!("fit {name} -k 3 -o m.model"),
            format!("fit {name} -k 3 -o m.model --init random"),
            format!("fit {name} -k 3 -o m.model --warm-start good.model"),
            format!("transform good.model {name} -o t.csv"),
            format!("evaluate good.model {name}"),
            format!("report good.model {name} -o r.html"),
            format!("lsi {name} -k 2"),
            format!("sweep {name} --k 2 --seeds 2"),
            format!("bench {name} -k 2 --iters 2 --repeat 1 --no-limit"),
        ];
        for command in &commands {
            let args: Vec<&str> = command.split_whitespace().collect();
            let out = topicmill(d, &args);
            assert_fails(&out, &place);
            let err = stderr(&out);
            assert!(
                err.contains(what) && err.contains(", row "),
                "{command}: {err}"
            );
            assert!(stdout(&out).is_empty(), "{command}: work was done");
        }
    }
    let leftovers = extra_files(
        d,
        &["sample", "good.model", "nan_t", "neg_t", "inf_x", "neg_x"],
    );
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}

/// QA D9: `lsi --nmf` refuses a model of another vocabulary, as `evaluate` does.
#[test]
fn lsi_refuses_a_model_of_another_vocabulary() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    vectorize_sample(d, "sample");
    let out = topicmill(d, &["fit", "sample", "-k", "3", "-o", "good.model"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The same terms in another order: as many columns, other words.
    copy_corpus(&d.join("sample"), &d.join("shuffled"));
    let vocab = fs::read_to_string(d.join("sample/vocab.txt")).unwrap();
    let mut terms: Vec<&str> = vocab.lines().collect();
    terms.swap(0, 1);
    fs::write(d.join("shuffled/vocab.txt"), terms.join("\n") + "\n").unwrap();
    // Fewer terms.
    fs::write(d.join("subset.jsonl"), {
        let sample = fs::read_to_string(sample_jsonl()).unwrap();
        sample.lines().take(6).collect::<Vec<_>>().join("\n") + "\n"
    })
    .unwrap();
    let out = topicmill(
        d,
        &[
            "vectorize",
            "--input",
            "jsonl",
            "subset.jsonl",
            "-o",
            "subset",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let out = topicmill(d, &["lsi", "subset", "-k", "2", "--nmf", "good.model"]);
    assert_fails(&out, "model good.model has 127 terms but corpus subset has");
    assert!(stdout(&out).is_empty());
    let out = topicmill(d, &["lsi", "shuffled", "-k", "2", "--nmf", "good.model"]);
    assert_fails(
        &out,
        "model good.model and corpus shuffled differ in term 1",
    );
    // evaluate says the same.
    let out = topicmill(d, &["evaluate", "good.model", "shuffled"]);
    assert_fails(
        &out,
        "model good.model and corpus shuffled differ in term 1",
    );
    // Its own corpus is fine, NMF topics beside LSI's.
    let out = topicmill(d, &["lsi", "sample", "-k", "2", "--nmf", "good.model"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("NMF #03"), "{}", stdout(&out));
    // As with `topics`, no words at all is a usage error, not an empty table.
    let out = topicmill(d, &["lsi", "sample", "-k", "2", "-n", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("give at least 1 word per topic or component"));
    assert!(stdout(&out).is_empty());
}

/// The rows of a 2-D little-endian f32 `.npy` file (format 1.0), as
/// `topicmill fit --h-npy` writes it.
fn npy_rows(path: &Path) -> Vec<Vec<f32>> {
    let bytes = fs::read(path).unwrap();
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    let shape = &header[header.find("'shape': (").unwrap() + 10..];
    let cols: usize = shape[shape.find(", ").unwrap() + 2..shape.find(')').unwrap()]
        .parse()
        .unwrap();
    let values: Vec<f32> = bytes[10 + header_len..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    values.chunks(cols).map(<[f32]>::to_vec).collect()
}

/// QA D14: `topics -n 0` is a usage error, and a topic whose H row is all
/// zero lists no words (table, JSON, CSV), where it listed arbitrary words at
/// weight 0.
#[test]
fn topics_lists_only_words_of_positive_weight() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    vectorize_sample(d, "sample");
    let out = topicmill(d, &["fit", "sample", "-k", "3", "-o", "good.model"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = topicmill(d, &["topics", "good.model", "-n", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("give at least 1 word per topic or component"));

    // An L1 penalty on H strong enough to empty some topics, not all.
    let out = topicmill(
        d,
        &[
            "fit",
            "sample",
            "-k",
            "3",
            "-o",
            "sparse.model",
            "--alpha-h",
            "0.035",
            "--l1-ratio",
            "1",
            "--h-npy",
            "h.npy",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let h = npy_rows(&d.join("h.npy"));
    let empty: Vec<bool> = h.iter().map(|row| row.iter().all(|&v| v == 0.0)).collect();
    let positive: Vec<usize> = h
        .iter()
        .map(|row| row.iter().filter(|&&v| v > 0.0).count())
        .collect();
    assert!(
        empty.contains(&true) && empty.contains(&false),
        "the fit should empty some topics, not all: {positive:?}"
    );

    let out = topicmill(d, &["topics", "sparse.model", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    for (t, topic) in json.as_array().unwrap().iter().enumerate() {
        let words = topic["words"].as_array().unwrap();
        assert_eq!(words.len(), positive[t].min(8), "topic {}", t + 1);
        assert!(topic["weights"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w.as_f64().unwrap() > 0.0));
    }

    let out = topicmill(d, &["topics", "sparse.model", "--format", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = stdout(&out);
    for (t, &is_empty) in empty.iter().enumerate() {
        let rows = csv
            .lines()
            .skip(1)
            .filter(|line| line.starts_with(&format!("{},", t + 1)))
            .count();
        assert_eq!(rows, positive[t].min(8), "topic {}: {csv}", t + 1);
        assert_eq!(rows == 0, is_empty);
    }
    assert!(
        !csv.lines().skip(1).any(|line| line.ends_with(",0")),
        "{csv}"
    );

    let out = topicmill(d, &["topics", "sparse.model"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Columns cut at their headers' positions: an empty column leaves blank cells.
    let table = stdout(&out);
    let lines: Vec<&str> = table.lines().collect();
    let starts: Vec<usize> = lines[0].match_indices("Topic #").map(|(i, _)| i).collect();
    assert_eq!(starts.len(), 3, "{table}");
    for (t, &is_empty) in empty.iter().enumerate() {
        let words = lines[2..]
            .iter()
            .filter_map(|line| {
                let end = starts.get(t + 1).map_or(line.len(), |&e| e.min(line.len()));
                line.get(starts[t].min(end)..end)
            })
            .filter(|cell| !cell.trim().is_empty())
            .count();
        assert_eq!(words, positive[t].min(8), "topic {}: {table}", t + 1);
        assert_eq!(words == 0, is_empty);
    }
}

/// QA D11: a time budget out of range says what is wrong with it (a usage
/// error), and `sweep` checks every k before its first fit.
#[test]
fn parameters_out_of_range_are_named_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    vectorize_sample(d, "sample");
    let budgets = [
        ("1e20", "1e20 seconds is too long to represent"),
        ("inf", "inf seconds is too long to represent"),
        (
            "1e-10",
            "1e-10 seconds is below the clock's resolution of 1 nanosecond",
        ),
        ("0", "the time budget must be positive, got 0"),
        ("-2", "the time budget must be positive, got -2"),
        ("nan", "NaN is not a number of seconds"),
        ("soon", "\"soon\" is not a number of seconds"),
    ];
    for (budget, needle) in budgets {
        let out = topicmill(
            d,
            &[
                "fit",
                "sample",
                "-k",
                "3",
                "-o",
                "m.model",
                "--time-budget",
                budget,
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{budget}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{budget}: {}", stderr(&out));
    }
    let out = topicmill(
        d,
        &[
            "fit",
            "sample",
            "-k",
            "3",
            "-o",
            "m.model",
            "--time-budget",
            "1e-9",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    // Counts that must be positive (coherence: at least a pair) are usage
    // errors, as `topics -n 0` is.
    let sample = sample_jsonl();
    let usage = [
        (
            vec!["evaluate", "m.model", "sample", "--coherence-words", "1"],
            "give at least 2 words per topic: coherence scores pairs of them",
        ),
        (
            vec!["evaluate", "m.model", "sample", "--diversity-words", "0"],
            "give at least 1 word per topic or component",
        ),
        (
            vec![
                "vectorize",
                "--input",
                "jsonl",
                sample.to_str().unwrap(),
                "--streaming",
                "--chunk-docs",
                "0",
                "-o",
                "chunked",
            ],
            "a chunk holds at least 1 document",
        ),
    ];
    for (args, needle) in usage {
        let out = topicmill(d, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
    assert!(!d.join("chunked").exists());

    let out = topicmill(d, &["sweep", "sample", "--k", "2,19", "--seeds", "2"]);
    assert_fails(&out, "cannot fit k=19 on sample");
    assert!(stderr(&out).contains("larger than min(rows, columns) = 18"));
    assert!(!stderr(&out).contains("k=2 seed=0"), "k=2 was fitted first");
}

/// A fit whose final W (solved again from H alone, as `transform` solves
/// it) stops short of the iterate says so on stderr, and the solve's cap and
/// tolerance are flags: KL on a near-exact fit (k = n = 20), where the
/// W-only solve's tolerance stops it after a few hundred sweeps.
#[test]
fn a_final_w_short_of_the_iterations_is_reported_and_can_be_solved_further() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = topicmill(
        d,
        &[
            "generate",
            "-o",
            "g",
            "--shape",
            "20x300x60x1",
            "--background",
            "0",
            "--zipf",
            "2",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let fit = |name: &str, extra: &[&str]| {
        let mut args = vec![
            "fit",
            "g",
            "-k",
            "20",
            "--solver",
            "mu",
            "--loss",
            "kl",
            "--tol",
            "0",
            "--max-iter",
            "300",
            "-o",
            name,
        ];
        args.extend(extra);
        topicmill(d, &args)
    };
    let kl_error = |out: &std::process::Output| -> f64 {
        let text = stdout(out);
        let tail = text.split("√(2·D_KL) ").nth(1).expect("the KL error");
        tail.split(',').next().unwrap().parse().unwrap()
    };
    let short = fit("short.model", &[]);
    assert!(short.status.success(), "{}", stderr(&short));
    let err = stderr(&short);
    assert!(
        err.contains("warning: the model's W, solved again with H fixed")
            && err.contains("at most 500 sweeps, tolerance 0.0001")
            && err.contains("above iteration 300's"),
        "{err}"
    );
    let further = fit(
        "further.model",
        &[
            "--transform-max-iter",
            "5000",
            "--transform-tol",
            "0",
            "--doc-topics",
            "fit.csv",
        ],
    );
    assert!(further.status.success(), "{}", stderr(&further));
    assert!(
        kl_error(&further) < 0.1 * kl_error(&short),
        "{} / {}",
        stdout(&further),
        stdout(&short)
    );
    // The model keeps them: `transform` of the fitted documents gives its W.
    let out = topicmill(d, &["transform", "further.model", "g", "-o", "w.csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let read = |name: &str| std::fs::read_to_string(d.join(name)).unwrap();
    assert_eq!(read("w.csv"), read("fit.csv"));

    for (flag, value, needle) in [
        (
            "--transform-max-iter",
            "0",
            "transform_max_iter must be at least 1",
        ),
        (
            "--transform-tol",
            "-1",
            "transform_tol must be a finite number ≥ 0, got -1",
        ),
    ] {
        let out = fit("bad.model", &[flag, value]);
        assert_fails(&out, needle);
        assert!(!d.join("bad.model").exists());
    }
}

/// An output path that cannot name a file is refused before any work, and
/// the other outputs are left as they were: a path ending in `/` (which the
/// final rename refused only after the model had replaced its file), a
/// FIFO and a symbolic link (which the rename replaced with a regular file).
#[test]
fn outputs_that_are_not_files_are_refused_before_the_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    vectorize_sample(d, "sample");
    std::fs::write(d.join("old.model"), "OLD").unwrap();
    let fit = |extra: &[&str]| {
        let mut args = vec!["fit", "sample", "-k", "3", "-o", "old.model"];
        args.extend(extra);
        topicmill(d, &args)
    };
    for (extra, needle) in [
        (
            &["--doc-topics", "dt/"][..],
            "cannot write dt/: it names a directory",
        ),
        (
            &["--loss-history", ".."][..],
            "cannot write ..: it names a directory",
        ),
        (
            &["--w-npy", "sample"][..],
            "cannot write sample: it is a directory",
        ),
    ] {
        let out = fit(extra);
        assert_fails(&out, needle);
        assert_eq!(std::fs::read_to_string(d.join("old.model")).unwrap(), "OLD");
    }
    let out = topicmill(d, &["fit", "sample", "-k", "3", "-o", "new/"]);
    assert_fails(&out, "cannot write new/: it names a directory");
    assert!(!stdout(&out).contains("fitted"), "{}", stdout(&out));

    let made = Command::new("mkfifo").arg(d.join("fifo")).status();
    std::os::unix::fs::symlink("target.csv", d.join("link.csv")).unwrap();
    let mut cases = vec![(
        "link.csv",
        "cannot write link.csv: it is a symbolic link, which the output (renamed into place) \
         would replace",
    )];
    if made.is_ok_and(|s| s.success()) {
        cases.push((
            "fifo",
            "cannot write fifo: it is not a regular file (a device, a FIFO or a socket)",
        ));
    }
    let out = fit(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    for (target, needle) in cases {
        let out = topicmill(d, &["transform", "old.model", "sample", "-o", target]);
        assert_fails(&out, needle);
        let kind = std::fs::symlink_metadata(d.join(target))
            .unwrap()
            .file_type();
        assert!(!kind.is_file(), "{target} was replaced by a file");
    }
    assert!(!d.join("target.csv").exists());
}

/// `evaluate` and `report` score a model's own W only on the documents it
/// was fitted on: another corpus of as many documents on the same terms
/// (the sample reversed, new ids, vectorized by the model's vectorizer) is
/// refused, since its error under that W is not the one the fit recorded;
/// with `--transform` it is scored.
#[test]
fn a_models_w_is_scored_only_on_its_own_documents() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    vectorize_sample(d, "sample");
    let out = topicmill(d, &["fit", "sample", "-k", "3", "-o", "m.model"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = fs::read_to_string(sample_jsonl()).unwrap();
    let reversed: String = text
        .lines()
        .rev()
        .enumerate()
        .map(|(i, line)| {
            let mut doc: serde_json::Value = serde_json::from_str(line).unwrap();
            doc["id"] = format!("r{i}").into();
            format!("{doc}\n")
        })
        .collect();
    fs::write(d.join("reversed.jsonl"), reversed).unwrap();
    let out = topicmill(
        d,
        &[
            "vectorize",
            "--input",
            "jsonl",
            "reversed.jsonl",
            "--label-field",
            "label",
            "--vectorizer-from",
            "m.model",
            "-o",
            "reversed",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = topicmill(d, &["evaluate", "m.model", "sample"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for args in [
        &["evaluate", "m.model", "reversed"][..],
        &["report", "m.model", "reversed", "-o", "r.html"][..],
    ] {
        let out = topicmill(d, args);
        assert_fails(
            &out,
            "these are not the documents it was fitted on; pass --transform",
        );
    }
    assert!(!d.join("r.html").exists());
    let out = topicmill(d, &["evaluate", "m.model", "reversed", "--transform"]);
    assert!(out.status.success(), "{}", stderr(&out));
}
