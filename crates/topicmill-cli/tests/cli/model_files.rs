//! Model files: damaged ones refused with what and where, yesterday's still
//! read; fits that cannot give finite factors write nothing.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::{stderr, stdout, topicmill, vectorize_sample};

/// The repository's sample corpus vectorized into `dir/s`, and a model of it
/// fitted into `dir/s.model`.
fn sample_model(dir: &Path) {
    vectorize_sample(dir, "s");
    let out = topicmill(
        dir,
        &["fit", "s", "-k", "3", "--seed", "0", "-o", "s.model"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The model the previous build wrote for the same fit (format version 2,
/// no checksum).
fn version_2_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../topicmill-nmf/tests/fixtures/sample-k3-v2.model")
}

/// Exit code 1 and a single error line holding every one of `needles`.
fn assert_fails_with(out: &Output, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    for needle in needles {
        assert!(err.contains(needle), "expected {needle:?} in stderr: {err}");
    }
}

/// Every command that reads a model, on `model` (with the corpus `s`).
fn model_commands(model: &str) -> Vec<Vec<&str>> {
    vec![
        vec!["inspect", model],
        vec!["topics", model],
        vec!["transform", model, "s", "-o", "t.csv"],
        vec!["report", model, "s", "-o", "r.html"],
        vec!["evaluate", model, "s"],
    ]
}

/// QA D10: bytes appended to a model (of this version or the previous one)
/// are refused by every command, naming the file and where they start.
#[test]
fn bytes_after_a_model_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    sample_model(d);
    for (from, name) in [
        (d.join("s.model"), "j.model"),
        (version_2_model(), "j2.model"),
    ] {
        let mut bytes = fs::read(&from).unwrap();
        let end = bytes.len().to_string();
        bytes.extend_from_slice(b"junk\n");
        fs::write(d.join(name), &bytes).unwrap();
        for args in model_commands(name) {
            let out = topicmill(d, &args);
            assert_fails_with(
                &out,
                &[name, &format!("5 unexpected bytes at byte offset {end}")],
            );
        }
        assert!(!d.join("t.csv").exists() && !d.join("r.html").exists());
    }
}

/// QA D10: a byte changed inside a model's factors is caught by the
/// checksum; the previous build's models (no checksum) still load.
#[test]
fn a_changed_byte_is_a_checksum_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    sample_model(d);
    let good = fs::read(d.join("s.model")).unwrap();
    // Byte 400 is inside H (after the parameters and W's 18 × 3 values);
    // the low bit of a value's byte keeps it finite and ≥ 0: the previous
    // build loaded such a model.
    let mut bad = good.clone();
    bad[400] ^= 1;
    fs::write(d.join("f.model"), &bad).unwrap();
    let end = (good.len() - 4).to_string();
    for args in model_commands("f.model") {
        assert_fails_with(
            &topicmill(d, &args),
            &[
                "f.model",
                &format!("checksum mismatch at byte offset {end}"),
                "the file is corrupt",
            ],
        );
    }
    // The previous build's model of the same fit: the same topics.
    fs::copy(version_2_model(), d.join("old.model")).unwrap();
    let new = topicmill(d, &["topics", "s.model"]);
    let old = topicmill(d, &["topics", "old.model"]);
    assert!(old.status.success(), "{}", stderr(&old));
    assert_eq!(stdout(&old), stdout(&new));
}

/// QA D11: what is wrong with a model is a sentence, not bincode's `Debug`
/// form, and a truncated header counts the bytes that are there.
#[test]
fn a_damaged_model_is_described_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The QA's case: byte 1809 of a version-2 model (no checksum) flipped.
    let mut old = fs::read(version_2_model()).unwrap();
    let end = old.len().to_string();
    old[1809] ^= 0xff;
    fs::write(d.join("f.model"), &old).unwrap();
    let out = topicmill(d, &["topics", "f.model"]);
    assert_fails_with(
        &out,
        &[
            "f.model",
            &format!("at byte offset {end}: the payload ends in the middle of a value"),
        ],
    );
    assert!(!stderr(&out).contains("Io {"), "{}", stderr(&out));
    let good = fs::read(version_2_model()).unwrap();
    for cut in [8, 12, 19] {
        fs::write(d.join("t.model"), &good[..cut]).unwrap();
        assert_fails_with(
            &topicmill(d, &["topics", "t.model"]),
            &[
                "t.model",
                &format!("its header is 20 bytes, the file has {cut}"),
            ],
        );
    }
}

/// The QA's 4 × 5 MatrixMarket matrix, its 8 entries all `value`, imported
/// into `dir/name`.
fn import_equal_values(dir: &Path, name: &str, value: &str) {
    let cells = "1 1\n1 2\n2 2\n2 3\n3 4\n3 5\n4 1\n4 5\n";
    let mut mtx = String::from("%%MatrixMarket matrix coordinate real general\n4 5 8\n");
    for cell in cells.lines() {
        mtx.push_str(&format!("{cell} {value}\n"));
    }
    fs::write(dir.join(format!("{name}.mtx")), mtx).unwrap();
    let out = topicmill(
        dir,
        &["import", "--mtx", &format!("{name}.mtx"), "-o", name],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The number after `label` in `text`.
fn number_after(text: &str, label: &str) -> f64 {
    let rest = text
        .split(label)
        .nth(1)
        .unwrap_or_else(|| panic!("{label:?} in {text}"));
    let number: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    number.parse().unwrap()
}

/// W as written by `--w-npy`: the f32 values after the header.
fn npy_values(path: &Path) -> Vec<f32> {
    let bytes = fs::read(path).unwrap();
    let header = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    bytes[10 + header..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

/// QA D5: values of 1e19, 1e20 and 1e-20 made the SVD fail (fit and lsi),
/// 1e30 left inf in W and a model `evaluate` refused; each now fits, with
/// the relative error of the same matrix at value 1, finite factors, and
/// the error `evaluate` reports.
#[test]
fn extreme_magnitudes_fit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    import_equal_values(d, "one", "1");
    let out = topicmill(d, &["fit", "one", "-k", "2", "-o", "one.model"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let want = number_after(&stdout(&out), "relative error");
    for (name, value) in [("a", "1e19"), ("b", "1e20"), ("c", "1e-20"), ("d", "1e30")] {
        import_equal_values(d, name, value);
        for init in ["nndsvda", "random"] {
            let model = format!("{name}-{init}.model");
            let out = topicmill(
                d,
                &[
                    "fit", name, "-k", "2", "--init", init, "-o", &model, "--w-npy", "w.npy",
                ],
            );
            assert!(out.status.success(), "{value}: {}", stderr(&out));
            let got = number_after(&stdout(&out), "relative error");
            assert!((got - want).abs() < 1e-3, "{value} {init}: {got} vs {want}");
            assert!(npy_values(&d.join("w.npy")).iter().all(|v| v.is_finite()));
            let out = topicmill(d, &["evaluate", &model, name]);
            assert!(out.status.success(), "{value}: {}", stderr(&out));
            let evaluated = number_after(&stdout(&out), "relative error");
            assert!(
                (evaluated - got).abs() < 2e-6,
                "{value}: {evaluated} vs {got}"
            );
        }
        let out = topicmill(d, &["lsi", name, "-k", "2"]);
        assert!(out.status.success(), "lsi {value}: {}", stderr(&out));
    }
}

/// QA D5: a KL fit printed √(2·D_KL)/‖X‖_F as its "relative error"
/// (0.000000 at 1e30, where `evaluate` says 0.499992): it now prints the
/// relative error `evaluate` reports, and its KL error under its own name.
#[test]
fn a_kl_fit_prints_the_relative_error_evaluate_reports() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    sample_model(d);
    import_equal_values(d, "big", "1e30");
    for corpus in ["big", "s"] {
        let out = topicmill(
            d,
            &["fit", corpus, "-k", "2", "--loss", "kl", "-o", "kl.model"],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let line = stdout(&out);
        assert!(line.contains(", KL error √(2·D_KL) "), "{line}");
        let printed = number_after(&line, "relative error");
        let out = topicmill(d, &["evaluate", "kl.model", corpus]);
        assert!(out.status.success(), "{}", stderr(&out));
        let evaluated = number_after(&stdout(&out), "relative error");
        assert!(
            (printed - evaluated).abs() < 2e-6,
            "{corpus}: {printed} vs {evaluated}"
        );
        assert!(printed > 0.1, "{corpus}: {printed}");
    }
}

/// QA D5's last guard, where f32 cannot hold the answer: documents of
/// values 1e30 transformed with a model of values 1e-30 (W about 1e45) are
/// an error naming what is not finite, and no output is written.
#[test]
fn a_transform_f32_cannot_hold_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    import_equal_values(d, "tiny", "1e-30");
    import_equal_values(d, "huge", "1e30");
    let out = topicmill(d, &["fit", "tiny", "-k", "2", "-o", "tiny.model"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = topicmill(
        d,
        &[
            "transform",
            "tiny.model",
            "huge",
            "-o",
            "t.csv",
            "--w-npy",
            "t.npy",
        ],
    );
    assert_fails_with(
        &out,
        &[
            "huge",
            "the result is not finite: W holds inf at document 1",
            "rescale them",
        ],
    );
    assert!(!d.join("t.csv").exists() && !d.join("t.npy").exists());
}
