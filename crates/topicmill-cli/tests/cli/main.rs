//! CLI integration tests: one test binary that runs the real `topicmill` binary
//! on real files, one module per subcommand.

mod demo;
mod distributed;
mod import_inspect;
mod model_files;
mod nightly;
mod nmf;
mod report;
mod vectorize;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's own sample corpus (18 labelled documents, three themes).
pub fn sample_jsonl() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/sample.jsonl")
}

/// Vectorizes the sample corpus into `dir/name`.
pub fn vectorize_sample(dir: &Path, name: &str) {
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

/// Once `ready()` holds (polled every millisecond, for at most `within`,
/// the child still running), sends `child` the signal `name` (`"INT"`,
/// `"TERM"`) and checks that it dies of it (`number`).
#[cfg(unix)]
pub fn interrupt_when(
    child: &mut std::process::Child,
    (name, number): (&str, i32),
    within: std::time::Duration,
    mut ready: impl FnMut() -> bool,
) {
    use std::os::unix::process::ExitStatusExt;
    let started = std::time::Instant::now();
    while !ready() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "{name}: it ended first"
        );
        assert!(
            started.elapsed() < within,
            "{name}: not ready in {within:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let kill = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(number), "{name}: {status:?}");
}

/// Run the built `topicmill` binary with `args`, in `cwd`.
pub fn topicmill(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_topicmill"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("the topicmill binary runs")
}

/// Standard output as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The names of the entries of `dir`, sorted.
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
