//! Finding the 20 Newsgroups archive for `topicmill demo`, and fetching it the
//! way scikit-learn's `fetch_20newsgroups` does when it is absent: from the
//! canonical URL, checked against the original archive's sha256, written
//! atomically into the data directory.
//!
//! Where the archive is looked for, in order: the `--data-dir` flag if given,
//! then `$TOPICMILL_DATA` if set, then `./datasets/`. Inside a data directory the
//! archive may sit at its top (`20news-bydate.tar.gz`, where a download puts it)
//! or in a `20news-bydate/` sub-folder (the shared-datasets layout). When none
//! has it, it is downloaded into the first of them; a download that fails
//! leaves no file and no directory behind.
//!
//! A local copy is accepted when its contents check out: the 11 314 train and
//! 7 532 test documents of the "bydate" split, read through the gzip stream
//! (whose CRC-32 is checked on the way). A repacked archive has another
//! checksum than the original, so its sha256 proves nothing; the download,
//! which is the original, is checked by sha256.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use topicmill_sparse::MadeDirs;
use topicmill_text::{Documents, NewsgroupsOptions};

/// The archive's file name, as scikit-learn names it.
pub const ARCHIVE_NAME: &str = "20news-bydate.tar.gz";
/// Where scikit-learn downloads it from.
pub const ARCHIVE_URL: &str = "https://ndownloader.figshare.com/files/5975967";
/// The sha256 of the original archive, the one scikit-learn checks.
pub const ARCHIVE_SHA256: &str = "8f1b2514ca22a5ade8fbb9cfa5727df95fa587f4c87b786e15c759fa66d95610";
/// Documents per split of the "bydate" version: (train, test).
pub const SPLIT_COUNTS: (usize, usize) = (11_314, 7_532);
/// Environment variable naming the data directory.
pub const DATA_ENV: &str = "TOPICMILL_DATA";
/// Environment variable that replaces the download URL (a mirror, or a test
/// server); the checksum stays the original archive's.
pub const URL_ENV: &str = "TOPICMILL_20NEWS_URL";

/// A remote file and the checksum its bytes must have.
#[derive(Debug, Clone)]
pub struct Remote {
    pub url: String,
    pub sha256: String,
}

impl Default for Remote {
    fn default() -> Self {
        Remote {
            url: ARCHIVE_URL.to_owned(),
            sha256: ARCHIVE_SHA256.to_owned(),
        }
    }
}

impl Remote {
    /// The canonical archive, at the URL of `$TOPICMILL_20NEWS_URL` when set.
    pub fn from_env() -> Self {
        let mut remote = Remote::default();
        if let Some(url) = std::env::var_os(URL_ENV).filter(|v| !v.is_empty()) {
            remote.url = url.to_string_lossy().into_owned();
        }
        remote
    }
}

/// The data directories to search, most specific first: `flag` (`--data-dir`),
/// `$TOPICMILL_DATA`, `./datasets`. A download goes into the first.
pub fn data_dirs(flag: Option<&Path>) -> Vec<PathBuf> {
    data_dirs_with_origins(flag)
        .into_iter()
        .map(|(dir, _)| dir)
        .collect()
}

/// Where a data directory to search comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The `--data-dir` flag.
    Flag,
    /// `$TOPICMILL_DATA`.
    Env,
    /// `./datasets`, searched last.
    Datasets,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Flag => f.write_str("--data-dir"),
            Origin::Env => write!(f, "${DATA_ENV}"),
            Origin::Datasets => f.write_str("./datasets"),
        }
    }
}

/// [`data_dirs`], each with where it comes from.
pub fn data_dirs_with_origins(flag: Option<&Path>) -> Vec<(PathBuf, Origin)> {
    data_dirs_from(flag, std::env::var_os(DATA_ENV))
}

/// [`data_dirs_with_origins`] with the environment variable's value given;
/// an empty value is no value, and a directory named twice is searched once
/// (as the first that names it).
fn data_dirs_from(flag: Option<&Path>, env: Option<std::ffi::OsString>) -> Vec<(PathBuf, Origin)> {
    let env = env.filter(|v| !v.is_empty()).map(PathBuf::from);
    let mut dirs: Vec<(PathBuf, Origin)> = Vec::new();
    for (dir, origin) in [
        (flag.map(Path::to_path_buf), Origin::Flag),
        (env, Origin::Env),
        (Some(PathBuf::from("datasets")), Origin::Datasets),
    ] {
        let Some(dir) = dir else { continue };
        if !dirs.iter().any(|(d, _)| *d == dir) {
            dirs.push((dir, origin));
        }
    }
    dirs
}

/// The archive inside `dirs`, if any of them holds it, with the index of
/// the first that does.
pub fn find_archive(dirs: &[PathBuf]) -> Option<(PathBuf, usize)> {
    dirs.iter()
        .enumerate()
        .flat_map(|(i, dir)| {
            [
                (dir.join(ARCHIVE_NAME), i),
                (dir.join("20news-bydate").join(ARCHIVE_NAME), i),
            ]
        })
        .find(|(path, _)| path.is_file())
}

/// Where the archive is.
pub struct Located {
    pub path: PathBuf,
    /// Downloaded just now, its sha256 checked; otherwise a local copy, which
    /// [`load_checked`] checks.
    pub downloaded: bool,
    /// The index, in the directories searched, of the one it was found in
    /// or downloaded into.
    pub dir: usize,
}

impl Located {
    /// One line saying which archive is read and how it was found, `origin`
    /// being where its directory ([`Located::dir`]) comes from.
    pub fn describe(&self, origin: Origin) -> String {
        let how = if self.downloaded {
            "downloaded just now into"
        } else {
            "found in"
        };
        format!(
            "reading the 20 Newsgroups archive {} ({how} {origin})",
            self.path.display()
        )
    }
}

/// Finds the archive in `dirs`, or downloads it from `remote` into the first
/// of `dirs`. A local copy is not checked here: [`load_checked`] does it
/// while reading.
pub fn locate_or_download(dirs: &[PathBuf], remote: &Remote) -> Result<Located> {
    if let Some((path, dir)) = find_archive(dirs) {
        return Ok(Located {
            path,
            downloaded: false,
            dir,
        });
    }
    let dir = dirs.first().context("no data directory to download into")?;
    let dest = dir.join(ARCHIVE_NAME);
    download(remote, &dest).with_context(|| {
        format!(
            "the 20 Newsgroups archive is not in {searched} (nor their 20news-bydate/ \
             sub-folders), and downloading it failed; \
             fetch {url} (sha256 {sha}) by hand and put it at {dest}, or point --data-dir \
             or {DATA_ENV} at a directory that holds {ARCHIVE_NAME}",
            searched = dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            url = remote.url,
            sha = remote.sha256,
            dest = dest.display(),
        )
    })?;
    Ok(Located {
        path: dest,
        downloaded: true,
        dir: 0,
    })
}

/// The documents `options` select from the archive `found`, a local copy
/// being checked by its document counts per split, which the read takes in
/// passing (it inflates the whole archive anyway): no pass of its own.
pub fn load_checked(found: &Located, options: &NewsgroupsOptions) -> Result<Documents> {
    let archive = &found.path;
    let (docs, files) = match topicmill_text::load_20newsgroups_counting(archive, options) {
        Ok(loaded) => loaded,
        Err(e) => {
            // Another archive than 20 Newsgroups fails to load (no such
            // categories, say): its counts tell the user what is wrong.
            if !found.downloaded {
                check_local_copy(archive)?;
            }
            return Err(e).with_context(|| format!("cannot read {}", archive.display()));
        }
    };
    if !found.downloaded {
        match files {
            Some(counts) => check_counts(archive, counts)?,
            None => check_local_copy(archive)?,
        }
    }
    Ok(docs)
}

/// Accepts a copy of the archive (original or repacked) by its contents.
fn check_local_copy(path: &Path) -> Result<()> {
    let counts = topicmill_text::count_20newsgroups_files(path)
        .with_context(|| format!("{} is not a readable .tar.gz archive", path.display()))?;
    check_counts(path, counts)
}

/// Accepts the archive at `path` if it holds `(train, test)` documents as the
/// original does.
fn check_counts(path: &Path, (train, test): (usize, usize)) -> Result<()> {
    if (train, test) != SPLIT_COUNTS {
        bail!(
            "{} is not the 20 Newsgroups \"bydate\" archive: it holds {train} train and {test} \
             test documents, expected {} and {}",
            path.display(),
            SPLIT_COUNTS.0,
            SPLIT_COUNTS.1
        );
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Downloads `remote` to `dest` with a progress bar on stderr (hidden when stderr
/// is not a terminal). The bytes go to a temporary file in `dest`'s directory and
/// are renamed into place only once their sha256 matches: a failed or interrupted
/// download leaves nothing behind, neither the file nor the directories made
/// for it (which are made only once the server answers).
pub fn download(remote: &Remote, dest: &Path) -> Result<()> {
    let dir = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_recv_body(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut response = agent
        .get(&remote.url)
        .call()
        .with_context(|| format!("GET {}", remote.url))?;
    let length = response.body().content_length();

    let bar = match length {
        Some(len) => ProgressBar::new(len).with_style(
            ProgressStyle::with_template(
                "{msg} {bar:40} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            )
            .expect("static template"),
        ),
        None => ProgressBar::new_spinner(),
    };
    bar.set_message(format!("downloading {ARCHIVE_NAME}"));

    // Declared before the temporary file, so dropped after it: a failure
    // removes the file, then the directories it was in.
    let made = MadeDirs::create(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    let mut tmp = topicmill_sparse::atomic_temp_builder(".download-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    let mut hasher = Sha256::new();
    let mut body = response.body_mut().with_config().limit(u64::MAX).reader();
    let mut buf = vec![0u8; 1 << 16];
    let mut received = 0u64;
    loop {
        let n = body
            .read(&mut buf)
            .with_context(|| format!("reading {}", remote.url))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n])
            .with_context(|| format!("writing {}", tmp.path().display()))?;
        received += n as u64;
        bar.set_position(received);
    }
    bar.finish_and_clear();

    let digest = hex(&hasher.finalize());
    if digest != remote.sha256 {
        bail!(
            "{} has sha256 {digest}, expected {} ({received} bytes received)",
            remote.url,
            remote.sha256
        );
    }
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("syncing {}", tmp.path().display()))?;
    tmp.persist(dest)
        .with_context(|| format!("cannot move the download into {}", dest.display()))?;
    made.keep();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;
    use std::thread;

    /// Serves `status` and `body` to the first `requests` connections on a
    /// loopback port; returns the URL.
    fn serve(status: &'static str, body: Vec<u8>, requests: usize) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for stream in listener.incoming().take(requests) {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
                    line.clear();
                }
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                stream.write_all(head.as_bytes()).unwrap();
                stream.write_all(&body).unwrap();
            }
        });
        format!("http://{addr}/files/5975967")
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn downloads_and_checks_the_sha256() {
        let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let sha = hex(&Sha256::digest(&body));
        let remote = Remote {
            url: serve("200 OK", body.clone(), 1),
            sha256: sha,
        };
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("sub").join(ARCHIVE_NAME);
        download(&remote, &dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), body);
        assert_eq!(leftovers(&dir.path().join("sub")), vec![ARCHIVE_NAME]);
    }

    #[test]
    fn a_wrong_checksum_leaves_nothing_behind() {
        let remote = Remote {
            url: serve("200 OK", b"not the archive".to_vec(), 2),
            sha256: ARCHIVE_SHA256.to_owned(),
        };
        let dir = tempfile::tempdir().unwrap();
        let err = download(&remote, &dir.path().join(ARCHIVE_NAME)).unwrap_err();
        assert!(format!("{err:#}").contains("expected 8f1b2514"), "{err:#}");
        assert!(leftovers(dir.path()).is_empty());
        // Nor the directories made to hold it (they were made: the server
        // answered).
        let err = download(&remote, &dir.path().join("a/b/c").join(ARCHIVE_NAME)).unwrap_err();
        assert!(format!("{err:#}").contains("expected 8f1b2514"), "{err:#}");
        assert!(leftovers(dir.path()).is_empty());
    }

    /// `--data-dir` is searched first, then `$TOPICMILL_DATA`, then
    /// `./datasets`; a download goes into the first of them.
    #[test]
    fn the_flag_then_the_environment_then_datasets() {
        let flag = Path::new("mine");
        let env = || Some(std::ffi::OsString::from("/shared"));
        let paths = |dirs: &[&str]| dirs.iter().map(PathBuf::from).collect::<Vec<_>>();
        let data_dirs_from = |flag, env| -> Vec<PathBuf> {
            data_dirs_from(flag, env)
                .into_iter()
                .map(|(d, _)| d)
                .collect()
        };
        assert_eq!(
            data_dirs_from(Some(flag), env()),
            paths(&["mine", "/shared", "datasets"])
        );
        assert_eq!(data_dirs_from(None, env()), paths(&["/shared", "datasets"]));
        assert_eq!(
            data_dirs_from(Some(flag), None),
            paths(&["mine", "datasets"])
        );
        assert_eq!(data_dirs_from(None, Some("".into())), paths(&["datasets"]));
        assert_eq!(
            data_dirs_from(Some(Path::new("datasets")), Some("datasets".into())),
            paths(&["datasets"])
        );
        // Each named as the first that gave it.
        assert_eq!(
            super::data_dirs_from(Some(Path::new("/shared")), env()),
            [
                (PathBuf::from("/shared"), Origin::Flag),
                (PathBuf::from("datasets"), Origin::Datasets)
            ]
        );
        assert_eq!(
            super::data_dirs_from(None, env())
                .iter()
                .map(|(_, origin)| origin.to_string())
                .collect::<Vec<_>>(),
            ["$TOPICMILL_DATA", "./datasets"]
        );
    }

    /// Found nowhere, the archive is downloaded into the first directory
    /// (made for it), not into another that exists.
    #[test]
    fn a_download_goes_into_the_first_directory() {
        let body = b"a stand-in archive".to_vec();
        let remote = Remote {
            url: serve("200 OK", body.clone(), 1),
            sha256: hex(&Sha256::digest(&body)),
        };
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("flag/nested");
        let second = dir.path().join("env");
        std::fs::create_dir(&second).unwrap();
        let found = locate_or_download(&[first.clone(), second.clone()], &remote).unwrap();
        assert!(found.downloaded);
        assert_eq!(found.path, first.join(ARCHIVE_NAME));
        assert_eq!(found.dir, 0);
        assert_eq!(
            found.describe(Origin::Datasets),
            format!(
                "reading the 20 Newsgroups archive {} (downloaded just now into ./datasets)",
                found.path.display()
            )
        );
        assert_eq!(std::fs::read(&found.path).unwrap(), body);
        assert!(leftovers(&second).is_empty());
        // Found now: no second request (the server answers only one).
        let again = locate_or_download(&[second, first.clone()], &remote).unwrap();
        assert!(!again.downloaded);
        assert_eq!(again.path, first.join(ARCHIVE_NAME));
        assert_eq!(again.dir, 1);
        assert_eq!(
            again.describe(Origin::Env),
            format!(
                "reading the 20 Newsgroups archive {} (found in $TOPICMILL_DATA)",
                again.path.display()
            )
        );
    }

    #[test]
    fn an_http_error_leaves_nothing_behind() {
        let remote = Remote {
            url: serve("404 Not Found", Vec::new(), 1),
            sha256: ARCHIVE_SHA256.to_owned(),
        };
        let dir = tempfile::tempdir().unwrap();
        let err = download(&remote, &dir.path().join(ARCHIVE_NAME)).unwrap_err();
        assert!(format!("{err:#}").contains("404"), "{err:#}");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn offline_says_where_to_put_the_file() {
        // A port that was just free: nothing listens there.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let remote = Remote {
            url: format!("http://127.0.0.1:{port}/files/5975967"),
            sha256: ARCHIVE_SHA256.to_owned(),
        };
        let dir = tempfile::tempdir().unwrap();
        let err = match locate_or_download(&[dir.path().to_path_buf()], &remote) {
            Err(err) => err,
            Ok(_) => panic!("nothing to find or download"),
        };
        let msg = format!("{err:#}");
        let dest = dir.path().join(ARCHIVE_NAME);
        assert!(msg.contains(&dest.display().to_string()), "{msg}");
        assert!(msg.contains(ARCHIVE_SHA256), "{msg}");
        assert!(leftovers(dir.path()).is_empty());
        // A directory that does not exist is not made.
        let missing = dir.path().join("a/b");
        let err = match locate_or_download(std::slice::from_ref(&missing), &remote) {
            Err(err) => err,
            Ok(_) => panic!("nothing to find or download"),
        };
        let msg = format!("{err:#}");
        assert!(
            msg.contains(&missing.join(ARCHIVE_NAME).display().to_string()),
            "{msg}"
        );
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn finds_the_archive_in_either_layout() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(find_archive(&[dir.path().to_path_buf()]), None);
        // The index of the directory that holds it.
        let holder = [dir.path().join("none"), dir.path().to_path_buf()];
        let nested = dir.path().join("20news-bydate");
        std::fs::create_dir(&nested).unwrap();
        std::fs::write(nested.join(ARCHIVE_NAME), b"x").unwrap();
        assert_eq!(find_archive(&holder), Some((nested.join(ARCHIVE_NAME), 1)));
        std::fs::write(dir.path().join(ARCHIVE_NAME), b"x").unwrap();
        assert_eq!(
            find_archive(&holder),
            Some((dir.path().join(ARCHIVE_NAME), 1))
        );
    }

    #[test]
    fn counts_other_than_the_archive_are_rejected() {
        let path = Path::new("elsewhere.tar.gz");
        assert!(check_counts(path, SPLIT_COUNTS).is_ok());
        // (The CLI test `demo_rejects_another_archive_by_its_counts` reads a
        // foreign archive end to end.)
        let err = check_counts(path, (1, 1)).unwrap_err();
        assert!(
            format!("{err:#}").contains("holds 1 train and 1 test documents"),
            "{err:#}"
        );
    }

    #[test]
    fn the_shared_copy_checks_out_by_its_contents() {
        let Some(path) = topicmill_testdata::require("20news-bydate/20news-bydate.tar.gz") else {
            return;
        };
        check_local_copy(&path).unwrap();
    }
}
