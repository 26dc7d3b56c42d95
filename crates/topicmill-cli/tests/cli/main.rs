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

use std::path::Path;
use std::process::{Command, Output};

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
