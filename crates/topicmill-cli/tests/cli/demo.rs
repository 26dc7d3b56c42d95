//! `topicmill demo`: where it looks for the 20 Newsgroups archive (`--data-dir`,
//! then `$TOPICMILL_DATA`, then `./datasets`), where a download goes (the first
//! of them), and that a failed download leaves no directory behind. (The seed
//! table and the offline message are in `nmf.rs`.)

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::{file_names, stderr};

const ARCHIVE: &str = "20news-bydate.tar.gz";

/// A URL on a loopback port that nothing listens on: a download fails at once.
fn closed_url() -> String {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}/files/5975967", closed.local_addr().unwrap())
}

/// A URL whose server answers the first request with 200 and bytes that are
/// not the archive.
fn wrong_bytes_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut stream = listener.incoming().next().unwrap().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
            line.clear();
        }
        let body = b"not the archive";
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
    });
    format!("http://{addr}/files/5975967")
}

/// Runs `demo` in `cwd` with `args`, `$TOPICMILL_DATA` set to `data` (or
/// unset) and the download URL `url`.
fn demo(cwd: &Path, args: &[&str], data: Option<&Path>, url: &str) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_topicmill"));
    command
        .arg("demo")
        .args(args)
        .current_dir(cwd)
        .env("TOPICMILL_20NEWS_URL", url);
    match data {
        Some(dir) => command.env("TOPICMILL_DATA", dir),
        None => command.env_remove("TOPICMILL_DATA"),
    };
    command.output().unwrap()
}

/// Writes at `path` (making its directory) a .tar.gz with the corpus' layout
/// holding `train` and `test` documents: not the archive, which the demo
/// says by its counts, so that the message tells which copy it read.
pub fn foreign_archive(path: &Path, train: usize, test: usize) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    ));
    let names = (0..train)
        .map(|i| format!("20news-bydate-train/sci.space/{i}"))
        .chain((0..test).map(|i| format!("20news-bydate-test/sci.space/{i}")));
    for name in names {
        let mut header = tar::Header::new_gnu();
        header.set_size(5);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, name, &b"hello"[..])
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap();
}

/// Says which copy it reads and where it found it (`origin`: the flag,
/// the variable or ./datasets) before reading, then exits 1 and says which
/// copy it read, by that copy's counts.
fn assert_read(out: &Output, archive: &Path, origin: &str, train: usize, test: usize) {
    assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
    let err = stderr(out);
    let reading = format!(
        "reading the 20 Newsgroups archive {} (found in {origin})\n",
        archive.display()
    );
    assert!(
        err.starts_with(&reading),
        "want {reading:?} first in\n{err}"
    );
    let want = format!(
        "{} is not the 20 Newsgroups \"bydate\" archive: it holds {train} train and {test} test",
        archive.display()
    );
    assert!(err.contains(&want), "want {want:?} in\n{err}");
}

/// Exits 1 and says where to put the archive.
fn assert_offline(out: &Output, dest: &Path) {
    assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
    let err = stderr(out);
    let want = format!("put it at {}", dest.display());
    assert!(err.contains(&want), "want {want:?} in\n{err}");
}

#[test]
fn demo_offline_makes_no_directory() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let url = closed_url();
    let out = demo(cwd, &["--data-dir", "a/b/c"], None, &url);
    assert_offline(&out, &Path::new("a/b/c").join(ARCHIVE));
    assert!(file_names(cwd).is_empty(), "{:?}", file_names(cwd));
    // Without --data-dir nor $TOPICMILL_DATA: ./datasets, not made either.
    let out = demo(cwd, &[], None, &url);
    assert_offline(&out, &Path::new("datasets").join(ARCHIVE));
    assert!(file_names(cwd).is_empty(), "{:?}", file_names(cwd));
}

#[test]
fn demo_a_failed_download_removes_the_directories_it_made() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let out = demo(cwd, &["--data-dir", "a/b"], None, &wrong_bytes_url());
    assert_offline(&out, &Path::new("a/b").join(ARCHIVE));
    assert!(
        stderr(&out)
            .contains("expected 8f1b2514ca22a5ade8fbb9cfa5727df95fa587f4c87b786e15c759fa66d95610"),
        "{}",
        stderr(&out)
    );
    assert!(file_names(cwd).is_empty(), "{:?}", file_names(cwd));
}

#[test]
fn demo_looks_in_the_flag_then_the_environment_then_datasets() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let url = closed_url();
    let env: PathBuf = cwd.join("env");
    let in_env = env.join("20news-bydate").join(ARCHIVE);
    let in_datasets = cwd.join("datasets").join(ARCHIVE);
    foreign_archive(&in_env, 2, 1);
    foreign_archive(&in_datasets, 3, 1);

    // A --data-dir without the archive (not even existing) falls back to
    // $TOPICMILL_DATA, and is left unmade.
    let out = demo(cwd, &["--data-dir", "missing"], Some(&env), &url);
    assert_read(&out, &in_env, "$TOPICMILL_DATA", 2, 1);
    assert!(!cwd.join("missing").exists());

    // The flag's copy comes first.
    let flag = cwd.join("flag");
    foreign_archive(&flag.join(ARCHIVE), 1, 1);
    let out = demo(cwd, &["--data-dir", "flag"], Some(&env), &url);
    assert_read(
        &out,
        Path::new("flag/20news-bydate.tar.gz"),
        "--data-dir",
        1,
        1,
    );
    // A directory given both ways is the flag's.
    let out = demo(cwd, &["--data-dir", "flag"], Some(Path::new("flag")), &url);
    assert_read(
        &out,
        Path::new("flag/20news-bydate.tar.gz"),
        "--data-dir",
        1,
        1,
    );

    // Neither has it: ./datasets.
    let empty = cwd.join("empty");
    fs::create_dir(&empty).unwrap();
    let out = demo(cwd, &["--data-dir", "missing"], Some(&empty), &url);
    assert_read(
        &out,
        Path::new("datasets/20news-bydate.tar.gz"),
        "./datasets",
        3,
        1,
    );

    // None has it: the download goes into --data-dir if given, else into
    // $TOPICMILL_DATA (neither made when it fails).
    fs::remove_file(&in_datasets).unwrap();
    let out = demo(cwd, &["--data-dir", "missing"], Some(&empty), &url);
    assert_offline(&out, &Path::new("missing").join(ARCHIVE));
    let unmade = cwd.join("unmade");
    let out = demo(cwd, &[], Some(&unmade), &url);
    assert_offline(&out, &unmade.join(ARCHIVE));
    assert!(!cwd.join("missing").exists());
    assert!(!unmade.exists());
    assert!(file_names(&empty).is_empty());
}
