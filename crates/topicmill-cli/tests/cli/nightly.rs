//! Choosing k (`topicmill sweep`) and the nightly workflow (`vectorize
//! --vocabulary-from`, `fit --warm-start`) on the 4-category 20 Newsgroups set.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use crate::{stderr, topicmill};

const CATEGORIES: &str = "alt.atheism,talk.religion.misc,comp.graphics,sci.space";

/// Vectorizes the 4 categories of `subset` into `dir/name`, optionally on the
/// vocabulary of `previous`.
fn vectorize(dir: &Path, archive: &Path, subset: &str, name: &str, previous: Option<&str>) {
    let mut args = vec![
        "vectorize",
        "--input",
        "20news",
        archive.to_str().unwrap(),
        "--subset",
        subset,
        "--categories",
        CATEGORIES,
        "--remove",
        "headers,footers,quotes",
        "--stop-words",
        "english",
        "-o",
        name,
    ];
    if let Some(previous) = previous {
        args.extend(["--vocabulary-from", previous]);
    }
    let out = topicmill(dir, &args);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn sweep_recommends_a_k_between_3_and_6_on_the_seed_set() {
    let Some(archive) = topicmill_testdata::require("20news-bydate/20news-bydate.tar.gz") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    vectorize(dir.path(), &archive, "train", "c4", None);
    let out = topicmill(
        dir.path(),
        &[
            "sweep",
            "c4",
            "--k",
            "2,3,4,5,6,8,10",
            "--seeds",
            "2",
            "--json",
            "--svg",
            "sweep.svg",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let sweep: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let k = sweep["recommended_k"].as_u64().unwrap();
    assert!((3..=6).contains(&k), "recommended {k}: {sweep}");
    assert!(!sweep["reason"].as_str().unwrap().is_empty());
    let scores = sweep["scores"].as_array().unwrap();
    assert_eq!(scores.len(), 7);
    for s in scores {
        for key in ["relative_error", "coherence", "diversity", "stability"] {
            assert!(s[key].as_f64().unwrap().is_finite(), "{key} in {s}");
        }
    }
    // The error falls as k grows.
    let errors: Vec<f64> = scores
        .iter()
        .map(|s| s["relative_error"].as_f64().unwrap())
        .collect();
    assert!(errors.windows(2).all(|w| w[1] < w[0]), "{errors:?}");
    let svg = fs::read_to_string(dir.path().join("sweep.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("stability"));
}

#[test]
fn warm_start_keeps_the_ids_of_topics_that_barely_changed() {
    let Some(archive) = topicmill_testdata::require("20news-bydate/20news-bydate.tar.gz") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Yesterday: the train split. Today: train + test, on yesterday's vocabulary.
    vectorize(d, &archive, "train", "yesterday", None);
    let out = topicmill(
        d,
        &[
            "fit",
            "yesterday",
            "-k",
            "4",
            "--seed",
            "0",
            "-o",
            "yesterday.model",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    vectorize(d, &archive, "all", "today", Some("yesterday.model"));

    // Today's columns start with yesterday's terms, in yesterday's order.
    let yesterday_vocab = fs::read_to_string(d.join("yesterday/vocab.txt")).unwrap();
    let today_vocab = fs::read_to_string(d.join("today/vocab.txt")).unwrap();
    assert!(today_vocab.starts_with(&yesterday_vocab));
    assert!(today_vocab.lines().count() > yesterday_vocab.lines().count());

    let out = topicmill(
        d,
        &[
            "fit",
            "today",
            "-k",
            "4",
            "--seed",
            "0",
            "-o",
            "today.model",
            "--warm-start",
            "yesterday.model",
            "--change-report",
            "change.json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value =
        serde_json::from_slice(&fs::read(d.join("change.json")).unwrap()).unwrap();
    let topics = report["topics"].as_array().unwrap();
    assert_eq!(topics.len(), 4);

    // Today's topics, numbered as the model file numbers them.
    let out = topicmill(
        d,
        &["topics", "today.model", "-n", "10", "--format", "json"],
    );
    assert!(out.status.success());
    let today: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let out = topicmill(
        d,
        &["topics", "yesterday.model", "-n", "10", "--format", "json"],
    );
    let yesterday: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let words = |v: &serde_json::Value, t: usize| -> BTreeSet<String> {
        v[t]["words"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap().to_owned())
            .collect()
    };

    // Every pair of topics (yesterday a, today b) whose top-10 words barely
    // changed (at least 7 in common) has a == b, and such topics are "kept".
    let mut barely_changed = 0;
    for a in 0..4 {
        for (b, topic) in topics.iter().enumerate() {
            let common = words(&yesterday, a).intersection(&words(&today, b)).count();
            if common >= 7 {
                assert_eq!(a, b, "yesterday's topic {a} is today's {b}: {report}");
                assert_eq!(topic["status"], "kept", "{report}");
                barely_changed += 1;
            }
        }
    }
    assert!(
        barely_changed >= 3,
        "only {barely_changed} stable topics: {report}"
    );
    for t in topics {
        let sim = t["similarity"].as_f64().unwrap();
        assert!((0.0..=1.0 + 1e-9).contains(&sim), "{t}");
    }

    // A corpus not vectorized on yesterday's vocabulary is refused.
    let out = topicmill(
        d,
        &[
            "fit",
            "yesterday",
            "-k",
            "4",
            "-o",
            "bad.model",
            "--warm-start",
            "today.model",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--vocabulary-from"),
        "{}",
        stderr(&out)
    );
    assert!(!d.join("bad.model").exists());
}
