//! `topicmill evaluate` and `topicmill report` on a small labelled corpus with
//! three obvious topics; the report is opened in headless Chromium.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{stderr, stdout, topicmill};

const TOPICS: [&[&str]; 3] = [
    &[
        "galaxy", "orbit", "rocket", "planet", "launch", "comet", "lunar", "nebula",
    ],
    &[
        "guitar", "melody", "chord", "drummer", "concert", "album", "tempo", "lyric",
    ],
    &[
        "pasta", "garlic", "recipe", "oven", "basil", "butter", "flour", "simmer",
    ],
];

/// Writes `docs.jsonl` (90 documents, 30 per topic, label = topic), vectorizes
/// it into `corpus`, fits k = 3 into `model` (also W.npy and H.npy).
fn labelled_corpus_and_model(dir: &Path) {
    let mut lines = String::new();
    let mut state = 7u64;
    for d in 0..90 {
        let t = d % 3;
        let words: Vec<&str> = (0..8)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                TOPICS[t][(state >> 33) as usize % 8]
            })
            .collect();
        lines.push_str(&format!(
            "{{\"id\": \"doc-{d:03}\", \"label\": \"{}\", \"text\": \"{}\"}}\n",
            ["space", "music", "food"][t],
            words.join(" ")
        ));
    }
    std::fs::write(dir.join("docs.jsonl"), lines).unwrap();
    let out = topicmill(
        dir,
        &[
            "vectorize",
            "--input",
            "jsonl",
            "docs.jsonl",
            "--id-field",
            "id",
            "--label-field",
            "label",
            "-o",
            "corpus",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = topicmill(
        dir,
        &[
            "fit", "corpus", "-k", "3", "-o", "model", "--w-npy", "W.npy", "--h-npy", "H.npy",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let out = topicmill(dir, args);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).expect("evaluate --json prints JSON")
}

#[test]
fn evaluate_scores_obvious_topics() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    labelled_corpus_and_model(dir);
    let e = json(dir, &["evaluate", "model", "corpus", "--json"]);
    assert_eq!(
        (
            e["k"].as_u64(),
            e["documents"].as_u64(),
            e["terms"].as_u64()
        ),
        (Some(3), Some(90), Some(24))
    );
    // Each topic is one of the three word families: the clustering recovers
    // the labels exactly, no top-8 word is shared.
    let c = &e["clustering"];
    assert!((c["nmi"].as_f64().unwrap() - 1.0).abs() < 1e-12, "{c}");
    assert_eq!(
        (c["ari"].as_f64(), c["purity"].as_f64()),
        (Some(1.0), Some(1.0))
    );
    let mut families = Vec::new();
    for topic in e["topics"].as_array().unwrap() {
        let words: Vec<&str> = topic["words"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        assert!((8..=10).contains(&words.len()), "{topic}");
        // The 8 heaviest words are one whole family (HALS may leave small
        // positive weights on the other families' words after them).
        let family = TOPICS.iter().position(|f| f.contains(&words[0])).unwrap();
        assert!(
            words[..8].iter().all(|w| TOPICS[family].contains(w)),
            "{words:?}"
        );
        families.push(family);
        assert!((topic["share"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-12);
    }
    families.sort_unstable();
    assert_eq!(families, [0, 1, 2]);
    // 3 topics × min(25, m = 24) slots; the three disjoint families alone
    // give 24 unique words.
    let diversity = e["diversity"].as_f64().unwrap();
    assert!((24.0 / 72.0..=1.0).contains(&diversity), "{e}");
    assert!(e["coherence"].as_f64().unwrap() > 0.0);
    let rel = e["relative_error"].as_f64().unwrap();
    assert!(rel > 0.0 && rel < 1.0);

    // The same factors as .npy files score identically.
    let n = json(
        dir,
        &[
            "evaluate", "--w-npy", "W.npy", "--h-npy", "H.npy", "corpus", "--json",
        ],
    );
    for key in [
        "coherence",
        "diversity",
        "relative_error",
        "clustering",
        "topics",
    ] {
        assert_eq!(e[key], n[key], "{key}");
    }

    // The text output names every score.
    let out = topicmill(dir, &["evaluate", "model", "corpus"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in [
        "coherence",
        "diversity",
        "relative error",
        "NMI",
        "ARI",
        "purity",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
}

#[test]
fn evaluate_refuses_mismatched_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    labelled_corpus_and_model(dir);
    // H and W swapped: 3 columns of W vs the 24 columns of H.T.
    let out = topicmill(
        dir,
        &["evaluate", "--w-npy", "H.npy", "--h-npy", "W.npy", "corpus"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("has 24 columns (topics) but H in W.npy has 90 rows"),
        "{}",
        stderr(&out)
    );
    // QA D12: the wrong sets of paths are usage errors (exit 2), named by clap.
    let usage = [
        (&["evaluate", "model"][..], "<MODEL>"),
        (
            &[
                "evaluate", "--w-npy", "W.npy", "--h-npy", "H.npy", "model", "corpus",
            ],
            "cannot be used with",
        ),
        (
            &["evaluate", "--h-npy", "H.npy", "model", "corpus"],
            "cannot be used with",
        ),
        (&["evaluate", "--w-npy", "W.npy", "corpus"], "--h-npy"),
        (&["evaluate"], "<CORPUS>"),
    ];
    for (args, needle) in usage {
        let out = topicmill(dir, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
}

/// QA D2: `report` refuses to write over its model or into its corpus.
#[test]
fn report_never_overwrites_its_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    labelled_corpus_and_model(dir);
    let model = std::fs::read(dir.join("model")).unwrap();
    let matrix = std::fs::read(dir.join("corpus/matrix.csr")).unwrap();
    for (output, needle) in [
        ("model", "cannot write model: it is the input model"),
        (
            "corpus/matrix.csr",
            "cannot write corpus/matrix.csr: it lies inside the input directory corpus",
        ),
        (
            "./corpus/new.html",
            "lies inside the input directory corpus",
        ),
    ] {
        let out = topicmill(dir, &["report", "model", "corpus", "-o", output]);
        assert_eq!(out.status.code(), Some(1), "{output}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{output}: {}", stderr(&out));
        assert!(stdout(&out).is_empty());
    }
    assert_eq!(std::fs::read(dir.join("model")).unwrap(), model);
    assert_eq!(
        std::fs::read(dir.join("corpus/matrix.csr")).unwrap(),
        matrix
    );
    assert!(!dir.join("corpus/new.html").exists());
}

/// `report --words 0` is a usage error, as `topics -n 0` is: it wrote a
/// report without words.
#[test]
fn report_wants_at_least_one_word() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    labelled_corpus_and_model(dir);
    let out = topicmill(
        dir,
        &["report", "model", "corpus", "-o", "r.html", "--words", "0"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("give at least 1 word"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.join("r.html").exists());
}

/// QA D4: `evaluate` and `report` refuse a corpus with a NaN, where they
/// printed a relative error of NaN.
#[test]
fn evaluate_and_report_refuse_a_corpus_with_a_nan() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    labelled_corpus_and_model(dir);
    let matrix = dir.join("corpus/matrix.csr");
    let mut bytes = std::fs::read(&matrix).unwrap();
    // The data section's offset is the u64 at byte 80 of the header.
    let data = u64::from_le_bytes(bytes[80..88].try_into().unwrap()) as usize;
    bytes[data + 20..data + 24].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&matrix, bytes).unwrap();
    let needle = format!(
        "corpus/matrix.csr: section data, byte offset {}, row ",
        data + 20
    );
    for args in [
        &["evaluate", "model", "corpus"][..],
        &["evaluate", "--w-npy", "W.npy", "--h-npy", "H.npy", "corpus"],
        &["report", "model", "corpus", "-o", "r.html"],
    ] {
        let out = topicmill(dir, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&needle) && err.contains("invalid value NaN"),
            "{err}"
        );
        assert!(stdout(&out).is_empty(), "{args:?}: {}", stdout(&out));
    }
    assert!(!dir.join("r.html").exists());
}

/// Headless Chromium, or `None` (skip) outside CI when it is not installed.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("TOPICMILL_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    if path.exists() {
        return Some(path);
    }
    assert!(
        !topicmill_testdata::under_ci(),
        "{} is missing under CI: install the Debian packages chromium and chromium-driver",
        path.display()
    );
    eprintln!(
        "skipping: {} not found (apt-get install chromium chromium-driver)",
        path.display()
    );
    None
}

#[test]
fn report_renders_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    labelled_corpus_and_model(dir);
    let out = topicmill(dir, &["report", "model", "corpus", "-o", "report.html"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    // Self-contained: nothing is fetched (the SVG namespace is a name, not a request).
    for needle in ["src=", "<link", "@import", "url("] {
        assert!(!html.contains(needle), "the report references {needle}");
    }
    assert_eq!(
        html.matches("http").count(),
        html.matches("http://www.w3.org/2000/svg").count()
    );
    // No temporary file left beside it.
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());

    let Some(chromium) = chromium() else { return };
    let profile = tempfile::tempdir().unwrap();
    let page = std::fs::canonicalize(dir.join("report.html")).unwrap();
    let rendered = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        rendered.status.success(),
        "chromium failed: {}",
        stderr(&rendered)
    );
    let dom = stdout(&rendered);
    // Three topic sections, each with its words as bars.
    assert_eq!(dom.matches("<section class=\"topic\"").count(), 3, "{dom}");
    for family in TOPICS {
        for word in family {
            assert!(
                dom.contains(&format!(">{word}</span>")),
                "{word} missing from the rendered page"
            );
        }
    }
    assert!(dom.matches("class=\"bar\"").count() >= 24);
    // The inline script ran: it built one table-of-contents link per topic,
    // which exists only in the rendered DOM, not in the file.
    assert!(!html.contains("class=\"toc-entry\""));
    assert_eq!(
        dom.matches("class=\"toc-entry\"").count(),
        3,
        "the inline script did not run"
    );
    // Example documents and the loss curve.
    assert!(dom.contains("<code>doc-0"), "no example document ids");
    assert!(dom.contains("<polyline"), "no loss curve");
}
