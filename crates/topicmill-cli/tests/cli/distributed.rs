//! `topicmill fit --distributed`: without the `mpi` feature, a clear error;
//! with it, `mpirun` on the real binary: the same model as the
//! single-process fit for 1–4 ranks, every rank stopping when one cannot read
//! its part or dies, and a killed run resumed from its checkpoint.
//!
//! mpirun is looked up on PATH; when it is missing the MPI tests say so and
//! pass, except under CI (`CI` set), where a missing mpirun fails them.

use std::path::Path;

/// A corpus of `n` documents × `m` terms with about `density` of the
/// entries set (deterministic pseudo-random values in [0.1, 1.1)), one empty
/// document and one unused term.
fn write_random_corpus(dir: &Path, n: usize, m: usize, density: f64, seed: u64) {
    write_corpus_with(dir, n, m, density, seed, |v| v);
}

/// [`write_random_corpus`] with every stored value `v` replaced by `value(v)`
/// (the same entries stored).
fn write_corpus_with(
    dir: &Path,
    n: usize,
    m: usize,
    density: f64,
    seed: u64,
    value: impl Fn(f32) -> f32,
) {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let (mut indptr, mut indices, mut data) = (vec![0u64], Vec::new(), Vec::new());
    for i in 0..n {
        if i != 3 {
            // Two loose topic groups so that the factorization has structure.
            for j in 0..m - 1 {
                let boost = if (i % 2 == 0) == (j < m / 2) {
                    2.0
                } else {
                    1.0
                };
                if next() < density * boost {
                    indices.push(j as u32);
                    data.push(value((0.1 + next()) as f32));
                }
            }
        }
        indptr.push(indices.len() as u64);
    }
    let x = topicmill_sparse::CsrMatrix::new((n, m), indptr, indices, data);
    let vocab: Vec<String> = (0..m).map(|j| format!("t{j}")).collect();
    let ids: Vec<String> = (0..n).map(|i| format!("d{i}")).collect();
    topicmill_sparse::write_corpus(dir, x.view(), &vocab, &ids, None, serde_json::Value::Null)
        .unwrap();
}

#[cfg(not(feature = "mpi"))]
#[test]
fn distributed_without_the_feature_says_how_to_get_it() {
    use crate::{stderr, topicmill};

    let dir = tempfile::tempdir().unwrap();
    write_random_corpus(&dir.path().join("c"), 20, 10, 0.3, 1);
    let out = topicmill(
        dir.path(),
        &["fit", "c", "-k", "2", "-o", "m.bin", "--distributed"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("built without MPI support; rebuild with --features mpi"),
        "{err}"
    );
    assert!(!dir.path().join("m.bin").exists());
}

#[cfg(feature = "mpi")]
mod with_mpi {
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Output, Stdio};
    use std::time::{Duration, Instant};

    use topicmill_nmf::NmfModel;

    use super::{write_corpus_with, write_random_corpus};
    use crate::{stderr, stdout, topicmill};

    /// No MPI test may hang: a run taking longer than this is killed and fails.
    const TIMEOUT: Duration = Duration::from_secs(300);

    /// mpirun's path, or None (with a message) when it is absent outside CI.
    fn mpirun() -> Option<PathBuf> {
        let found = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join("mpirun"))
                .find(|p| p.is_file())
        });
        if found.is_none() {
            assert!(
                std::env::var_os("CI").is_none(),
                "mpirun not found on PATH: CI must run the MPI tests (apt-get install openmpi-bin)"
            );
            eprintln!(
                "skipped: mpirun not found on PATH (install openmpi-bin to run the MPI tests)"
            );
        }
        found
    }

    /// `mpirun` with the flags this machine needs (root, more ranks than
    /// cores, no cross-memory attach in containers), then `apps`: one
    /// `(ranks, topicmill arguments)` per application context. Its session
    /// directory goes under `cwd` (the test's own temporary directory):
    /// under the shared `/tmp`, two tests starting `mpirun` at once race to
    /// create `/tmp/ompi.<host>.<uid>` and one fails in `orte_init`.
    fn mpirun_command(mpirun: &Path, cwd: &Path, apps: &[(usize, Vec<String>)]) -> Command {
        let mut cmd = Command::new(mpirun);
        cmd.current_dir(cwd)
            .args(["--allow-run-as-root", "--oversubscribe"])
            .args(["--mca", "btl_vader_single_copy_mechanism", "none"])
            .env("RAYON_NUM_THREADS", "1")
            .env("TMPDIR", cwd);
        for (i, (np, args)) in apps.iter().enumerate() {
            if i > 0 {
                cmd.arg(":");
            }
            cmd.args(["-np", &np.to_string(), env!("CARGO_BIN_EXE_topicmill")]);
            cmd.args(args);
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd
    }

    /// Waits for `child`, killing it and failing after [`TIMEOUT`].
    fn wait_bounded(mut child: Child) -> Output {
        let start = Instant::now();
        loop {
            if child.try_wait().unwrap().is_some() {
                return child.wait_with_output().unwrap();
            }
            if start.elapsed() > TIMEOUT {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!("mpirun hung; stderr:\n{}", stderr(&out));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn run_mpi(mpirun: &Path, cwd: &Path, np: usize, args: &[&str]) -> Output {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        wait_bounded(mpirun_command(mpirun, cwd, &[(np, args)]).spawn().unwrap())
    }

    /// `fit c -k 3 -o m.bin FLAGS --distributed` on two ranks in `dir`, which
    /// must stop before the fit: it fails, prints no summary and writes no
    /// model. Returns its stderr.
    fn refused_fit(mpirun: &Path, dir: &Path, flags: &[&str]) -> String {
        let args = [
            &["fit", "c", "-k", "3", "-o", "m.bin"],
            flags,
            &["--distributed"],
        ]
        .concat();
        let out = run_mpi(mpirun, dir, 2, &args);
        assert!(!out.status.success());
        assert!(stdout(&out).is_empty(), "no fit summary");
        assert!(!dir.join("m.bin").exists(), "no model");
        stderr(&out)
    }

    fn load(path: &Path) -> NmfModel {
        NmfModel::load(std::fs::File::open(path).unwrap()).unwrap()
    }

    /// ‖a − b‖_F / ‖b‖_F.
    fn rel_diff(a: &[f32], b: &[f32]) -> f64 {
        assert_eq!(a.len(), b.len());
        let num: f64 = a
            .iter()
            .zip(b)
            .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
            .sum();
        let den: f64 = b.iter().map(|&y| (y as f64).powi(2)).sum();
        (num / den).sqrt()
    }

    /// The stated tolerance: factors within 1e-5 (relative Frobenius) of the
    /// single-process fit, the final error within 1e-7 (relative). Observed:
    /// below 6e-7 and 2e-9.
    fn assert_same_answer(got: &NmfModel, want: &NmfModel, what: &str) {
        assert_eq!(got.iterations(), want.iterations(), "{what}: iterations");
        assert_eq!(got.stop_reason(), want.stop_reason(), "{what}: stop reason");
        assert_eq!(
            (got.n_docs(), got.n_features()),
            (want.n_docs(), want.n_features())
        );
        let dh = rel_diff(got.ht(), want.ht());
        let dw = rel_diff(got.w(), want.w());
        let de = (got.reconstruction_err() - want.reconstruction_err()).abs()
            / want.reconstruction_err();
        eprintln!("{what}: relative differences Hᵀ {dh:.1e}, W {dw:.1e}, error {de:.1e}");
        assert!(dh < 1e-5, "{what}: Hᵀ differs by {dh:e}");
        assert!(dw < 1e-5, "{what}: W differs by {dw:e}");
        assert!(de < 1e-7, "{what}: error differs by {de:e}");
        assert!(got
            .ht()
            .iter()
            .chain(got.w())
            .all(|v| v.is_finite() && *v >= 0.0));
        // The empty document keeps an exactly zero row of W.
        assert!(got.w()[3 * got.k()..4 * got.k()].iter().all(|&v| v == 0.0));
        assert_eq!(got.vocabulary(), want.vocabulary());
    }

    #[test]
    fn same_model_as_one_process_for_one_to_four_ranks() {
        let Some(mpirun) = mpirun() else { return };
        let dir = tempfile::tempdir().unwrap();
        write_random_corpus(&dir.path().join("c"), 300, 120, 0.08, 7);
        // k = 4 has kernels compiled for it; k = 6 runs them at 8, with zero
        // columns, on every rank as in one process.
        let cases: [(&str, &[&str]); 4] = [
            (
                "4",
                &["--solver", "hals", "--init", "nndsvda", "--max-iter", "60"],
            ),
            (
                "4",
                &["--solver", "mu", "--init", "nndsvd", "--max-iter", "60"],
            ),
            (
                "4",
                &[
                    "--solver",
                    "mu",
                    "--init",
                    "random",
                    "--seed",
                    "3",
                    "--max-iter",
                    "40",
                    "--tol",
                    "0",
                ],
            ),
            (
                "6",
                &["--solver", "hals", "--init", "nndsvda", "--max-iter", "60"],
            ),
        ];
        for (c, &(k, case)) in cases.iter().enumerate() {
            let base = ["fit", "c", "-k", k];
            let single = format!("single{c}.bin");
            let mut args: Vec<&str> = base.to_vec();
            args.extend_from_slice(case);
            args.extend_from_slice(&["-o", &single]);
            let out = topicmill(dir.path(), &args);
            assert!(out.status.success(), "{}", stderr(&out));
            let want = load(&dir.path().join(&single));
            for np in 1..=4 {
                let output = format!("dist{c}_{np}.bin");
                let mut args = args.clone();
                args.truncate(args.len() - 1);
                args.push(&output);
                args.push("--distributed");
                let out = run_mpi(&mpirun, dir.path(), np, &args);
                assert!(out.status.success(), "np {np}: {}", stderr(&out));
                // Logs from rank 0 only: one summary line.
                let text = stdout(&out);
                assert_eq!(text.lines().count(), 1, "{text}");
                assert!(text.contains(&format!("over {np} MPI ranks")), "{text}");
                let got = load(&dir.path().join(&output));
                assert_same_answer(&got, &want, &format!("case {case:?}, {np} ranks"));
            }
        }
    }

    /// `v` with every value multiplied by 2^e.
    fn scaled(v: &[f32], e: i32) -> Vec<f32> {
        let f = 2f64.powi(e);
        v.iter().map(|&x| (x as f64 * f) as f32).collect()
    }

    fn same_bits(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
    }

    /// Data of any magnitude, as one process fits them (topicmill-nmf's
    /// tests/magnitudes.rs): over two ranks, the fit of X·2^e is the fit of X
    /// with W and H scaled by 2^(e/2) and the errors by 2^e, bitwise. X's
    /// largest value lies in [1, 4), so X·2^e is fitted as X itself. The
    /// distributed fit ran such data as given: NNDSVD's SVD did not converge
    /// (at each of these exponents), and a random start gave other factors
    /// than X's, scaled.
    #[test]
    fn a_fit_of_scaled_data_is_the_fit_scaled() {
        let Some(mpirun) = mpirun() else { return };
        let dir = tempfile::tempdir().unwrap();
        let (n, m, density, seed) = (80, 50, 0.15, 4);
        write_random_corpus(&dir.path().join("c"), n, m, density, seed);
        let max = topicmill_sparse::Corpus::open(dir.path().join("c"))
            .unwrap()
            .matrix()
            .data()
            .iter()
            .fold(0f32, |a, &v| a.max(v));
        assert!((1.0..4.0).contains(&max), "{max}");
        const EXPONENTS: [i32; 3] = [70, -70, 100];
        for e in EXPONENTS {
            let f = 2f64.powi(e);
            write_corpus_with(
                &dir.path().join(format!("c{e}")),
                n,
                m,
                density,
                seed,
                |v| (v as f64 * f) as f32,
            );
        }
        let cases: [&[&str]; 3] = [
            &["--solver", "hals", "--init", "nndsvda"],
            &["--solver", "mu", "--init", "nndsvd"],
            &[
                "--solver", "mu", "--init", "random", "--seed", "5", "--tol", "0",
            ],
        ];
        for case in cases {
            let fit = |corpus: &str, output: &str| -> NmfModel {
                let mut args = vec!["fit", corpus, "-k", "3", "--max-iter", "50"];
                args.extend_from_slice(case);
                args.extend_from_slice(&["-o", output, "--distributed"]);
                let out = run_mpi(&mpirun, dir.path(), 2, &args);
                assert!(out.status.success(), "{case:?} {corpus}: {}", stderr(&out));
                load(&dir.path().join(output))
            };
            let reference = fit("c", "ref.bin");
            for e in EXPONENTS {
                let what = format!("{case:?}, 2^{e}");
                let model = fit(&format!("c{e}"), &format!("m{e}.bin"));
                assert!(
                    same_bits(model.w(), &scaled(reference.w(), e / 2)),
                    "W, {what}"
                );
                assert!(
                    same_bits(model.ht(), &scaled(reference.ht(), e / 2)),
                    "H, {what}"
                );
                let f = 2f64.powi(e);
                assert_eq!(model.iterations(), reference.iterations(), "{what}");
                assert_eq!(
                    model.reconstruction_err(),
                    reference.reconstruction_err() * f,
                    "{what}"
                );
                let history: Vec<_> = reference
                    .loss_history()
                    .iter()
                    .map(|&(i, l)| (i, l * f))
                    .collect();
                assert_eq!(model.loss_history(), &history[..], "{what}");
            }
        }
    }

    /// Stored values that are all zero are an empty matrix, as for one
    /// process: every rank says so (they agree on X's largest value, 0) and
    /// nothing is written. The distributed fit counted stored entries: with
    /// NNDSVD only rank 0 (which computes it) found the matrix empty, with a
    /// random start no rank did.
    #[test]
    fn stored_zeros_only_are_an_empty_matrix() {
        let Some(mpirun) = mpirun() else { return };
        let dir = tempfile::tempdir().unwrap();
        write_corpus_with(&dir.path().join("c"), 40, 20, 0.2, 3, |_| 0.0);
        for init in ["nndsvda", "random"] {
            let out = run_mpi(
                &mpirun,
                dir.path(),
                2,
                &[
                    "fit",
                    "c",
                    "-k",
                    "3",
                    "--init",
                    init,
                    "-o",
                    "m.bin",
                    "--distributed",
                ],
            );
            assert_eq!(out.status.code(), Some(1), "{init}: {}", stderr(&out));
            let err = stderr(&out);
            for rank in 0..2 {
                assert!(
                    err.contains(&format!(
                        "cannot fit c over MPI: rank {rank}: the matrix is empty (40×20 with "
                    )),
                    "{init}, rank {rank}: {err}"
                );
            }
            assert!(err.contains("none of them positive"), "{err}");
            assert!(!err.contains("failed (see their messages)"), "{err}");
            assert!(stdout(&out).is_empty(), "no fit summary");
            assert!(!dir.path().join("m.bin").exists(), "{init}: no model");
        }
    }

    #[test]
    fn a_rank_that_cannot_read_its_part_stops_every_rank() {
        let Some(mpirun) = mpirun() else { return };
        let dir = tempfile::tempdir().unwrap();
        write_random_corpus(&dir.path().join("good"), 50, 30, 0.2, 2);
        // Rank 1 is given a copy whose matrix file was cut short.
        let bad = dir.path().join("bad");
        std::fs::create_dir(&bad).unwrap();
        for e in std::fs::read_dir(dir.path().join("good")).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), bad.join(e.file_name())).unwrap();
        }
        let matrix = std::fs::read(bad.join("matrix.csr")).unwrap();
        std::fs::write(bad.join("matrix.csr"), &matrix[..matrix.len() / 2]).unwrap();
        let args = |corpus: &str| -> Vec<String> {
            ["fit", corpus, "-k", "3", "-o", "m.bin", "--distributed"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        };
        let cmd = mpirun_command(&mpirun, dir.path(), &[(1, args("good")), (1, args("bad"))]);
        let out = wait_bounded({ cmd }.spawn().unwrap());
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(
            err.contains("rank 1: cannot read its part of the corpus"),
            "{err}"
        );
        assert!(err.contains("rank(s) [1] failed"), "{err}");
        assert!(!dir.path().join("m.bin").exists(), "no partial model");
    }

    #[test]
    fn an_output_that_cannot_be_written_stops_every_rank_before_the_fit() {
        let Some(mpirun) = mpirun() else { return };
        let dir = tempfile::tempdir().unwrap();
        write_random_corpus(&dir.path().join("c"), 50, 30, 0.2, 2);
        let err = refused_fit(
            &mpirun,
            dir.path(),
            &["--w-npy", "missing/w.npy", "--checkpoint-every", "1"],
        );
        assert!(err.contains("cannot create missing/w.npy"), "{err}");
        // Rank 0 names the cause; rank 1 stops with it, silently.
        assert!(!err.contains("rank(s) [0] failed"), "{err}");
        // The fit did not start: it would have left a checkpoint behind.
        assert!(!dir.path().join("m.bin.ckpt").exists(), "the fit ran");
    }

    /// No output is the corpus or lies inside it, and the checkpoint is not
    /// the model: each is refused before the fit, the corpus left as it was.
    #[test]
    fn an_output_over_an_input_stops_every_rank_before_the_fit() {
        let Some(mpirun) = mpirun() else { return };
        let dir = tempfile::tempdir().unwrap();
        write_random_corpus(&dir.path().join("c"), 50, 30, 0.2, 2);
        let matrix = std::fs::read(dir.path().join("c/matrix.csr")).unwrap();
        for (flags, cause) in [
            (
                &["--w-npy", "c/matrix.csr"][..],
                "cannot write c/matrix.csr: it lies inside the input directory c",
            ),
            (
                &["--checkpoint-every", "5", "--checkpoint", "c/matrix.csr"][..],
                "cannot write c/matrix.csr: it lies inside the input directory c",
            ),
            (
                &["--checkpoint-every", "5", "--checkpoint", "m.bin"][..],
                "two outputs are both m.bin",
            ),
        ] {
            let err = refused_fit(&mpirun, dir.path(), flags);
            assert!(err.contains(cause), "{flags:?}: {err}");
            let now = std::fs::read(dir.path().join("c/matrix.csr")).unwrap();
            assert!(now == matrix, "{flags:?}: the corpus changed");
        }
    }

    #[test]
    fn a_checkpoint_that_cannot_be_written_stops_every_rank_before_the_fit() {
        let Some(mpirun) = mpirun() else { return };
        let dir = tempfile::tempdir().unwrap();
        write_random_corpus(&dir.path().join("c"), 50, 30, 0.2, 2);
        std::fs::create_dir(dir.path().join("ckpt")).unwrap();
        for (checkpoint, cause) in [
            (
                "missing/m.ckpt",
                "checkpoint missing/m.ckpt: cannot create a file in missing",
            ),
            ("ckpt", "checkpoint ckpt: is a directory"),
        ] {
            let err = refused_fit(
                &mpirun,
                dir.path(),
                &["--checkpoint-every", "5", "--checkpoint", checkpoint],
            );
            assert!(err.contains(&format!("rank 0: {cause}")), "{err}");
        }
    }

    #[test]
    fn a_bad_manifest_is_named_once_by_every_rank() {
        let Some(mpirun) = mpirun() else { return };
        let dir = tempfile::tempdir().unwrap();
        let corpus = dir.path().join("c");
        write_random_corpus(&corpus, 50, 30, 0.2, 2);
        let manifest = std::fs::read_to_string(corpus.join("manifest.json")).unwrap();
        let edit = |from: &str, to: &str| {
            assert!(manifest.contains(from), "{manifest}");
            manifest.replacen(from, to, 1)
        };
        // The manifest as written, the file the error names, its cause.
        for (text, file, cause) in [
            (
                edit("\"version\": 1", "\"version\": 99"),
                "c/manifest.json",
                "corpus version 99 is not supported",
            ),
            (
                edit("\"matrix\": \"", "\"matrix\": \"../"),
                "c/manifest.json",
                "must be a plain name inside the corpus directory",
            ),
            (
                edit("\"nrows\": 50,", "\"nrows\": 51,"),
                "c/matrix.csr",
                "the manifest says 51 x 30",
            ),
            (
                String::new(),
                "c/manifest.json",
                "cannot read corpus manifest",
            ),
        ] {
            if text.is_empty() {
                std::fs::remove_file(corpus.join("manifest.json")).unwrap();
            } else {
                std::fs::write(corpus.join("manifest.json"), text).unwrap();
            }
            let err = refused_fit(&mpirun, dir.path(), &[]);
            for rank in 0..2 {
                let line = err
                    .lines()
                    .find(|l| l.contains(&format!("rank {rank}: cannot read its part")))
                    .unwrap_or_else(|| panic!("no line of rank {rank}: {err}"));
                assert!(
                    line.contains(&format!("{file}: ")) && line.contains(cause),
                    "{line}"
                );
                assert_eq!(line.matches(file).count(), 1, "{line}");
            }
        }
    }

    #[test]
    fn each_rank_checks_only_its_own_rows() {
        let Some(mpirun) = mpirun() else { return };
        let dir = tempfile::tempdir().unwrap();
        write_random_corpus(&dir.path().join("c"), 50, 30, 0.2, 2);
        // The last stored value (the last document: rank 1's rows with two
        // ranks) is made negative; the checksum is left stale, which a rank
        // does not check (`topicmill inspect --verify` does).
        let path = dir.path().join("c/matrix.csr");
        let mut bytes = std::fs::read(&path).unwrap();
        let u64_at = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
        let (data_offset, data_len) = (u64_at(&bytes, 80), u64_at(&bytes, 88));
        let last = (data_offset + data_len - 4) as usize;
        bytes[last..last + 4].copy_from_slice(&(-1.5f32).to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();

        let out = run_mpi(
            &mpirun,
            dir.path(),
            2,
            &["fit", "c", "-k", "3", "-o", "m.bin", "--distributed"],
        );
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(
            err.contains(&format!(
                "rank 1: cannot read its part of the corpus: c/matrix.csr: section data, byte offset {last}, row 49"
            )),
            "{err}"
        );
        assert!(err.contains("invalid value -1.5 (negative)"), "{err}");
        assert!(
            !err.contains("rank 0: cannot read"),
            "rank 0 never reads row 49: {err}"
        );
        assert!(err.contains("rank(s) [1] failed"), "{err}");
        assert!(!dir.path().join("m.bin").exists(), "no partial model");
    }

    /// PIDs of the `topicmill` processes mpirun started.
    fn rank_pids(mpirun_pid: u32) -> Vec<u32> {
        let mut pids = Vec::new();
        let tasks = format!("/proc/{mpirun_pid}/task");
        for task in std::fs::read_dir(tasks).into_iter().flatten().flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for pid in children
                .split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok())
            {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                if comm.trim() == "topicmill" {
                    pids.push(pid);
                }
            }
        }
        pids.sort_unstable();
        pids
    }

    /// A run killed after its first checkpoint and resumed gives the model
    /// of an uninterrupted run, bitwise; also on data of extreme magnitude
    /// (X·2^-70, run at 2^70: the checkpoints hold the iterates as they are,
    /// with their scale, and the losses scaled back, as the model).
    #[test]
    fn a_killed_run_resumes_to_the_uninterrupted_model() {
        let Some(mpirun) = mpirun() else { return };
        for e in [0, -70] {
            killed_run_resumes(&mpirun, e);
        }
    }

    /// [`a_killed_run_resumes_to_the_uninterrupted_model`] on the corpus
    /// with its values multiplied by 2^e.
    fn killed_run_resumes(mpirun: &Path, e: i32) {
        let dir = tempfile::tempdir().unwrap();
        let f = 2f64.powi(e);
        write_corpus_with(&dir.path().join("c"), 1500, 800, 0.05, 11, |v| {
            (v as f64 * f) as f32
        });
        // k = 6: the ranks run at 8 (zero columns), the checkpoints hold 6.
        let common = [
            "fit",
            "c",
            "-k",
            "6",
            "--solver",
            "mu",
            "--max-iter",
            "600",
            "--tol",
            "0",
            "--distributed",
        ];
        let with = |extra: &[&str]| -> Vec<String> {
            common.iter().chain(extra).map(|s| s.to_string()).collect()
        };

        let out = wait_bounded(
            mpirun_command(mpirun, dir.path(), &[(2, with(&["-o", "whole.bin"]))])
                .spawn()
                .unwrap(),
        );
        assert!(out.status.success(), "{}", stderr(&out));

        // Kill rank 1 once the first checkpoint is on disk.
        let ckpt = dir.path().join("cut.bin.ckpt");
        let interrupted = with(&["-o", "cut.bin", "--checkpoint-every", "5"]);
        let child = mpirun_command(mpirun, dir.path(), &[(2, interrupted.clone())])
            .spawn()
            .unwrap();
        let start = Instant::now();
        while !ckpt.exists() {
            assert!(start.elapsed() < TIMEOUT, "no checkpoint appeared");
            std::thread::sleep(Duration::from_millis(2));
        }
        let pids = rank_pids(child.id());
        assert_eq!(pids.len(), 2, "rank processes {pids:?}");
        let killed = Command::new("kill")
            .args(["-KILL", &pids[1].to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let out = wait_bounded(child);
        assert!(!out.status.success(), "the job went on without a rank");
        assert!(!dir.path().join("cut.bin").exists(), "no partial model");
        assert!(ckpt.exists());

        let mut resume = interrupted;
        resume.push("--resume".into());
        let out = wait_bounded(
            mpirun_command(mpirun, dir.path(), &[(2, resume)])
                .spawn()
                .unwrap(),
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        let from: usize = text
            .split("resumed from iteration ")
            .nth(1)
            .and_then(|s| s.split(')').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no resume in {text}"));
        assert!((5..600).contains(&from), "{text}");
        // Same ranks, same state at the checkpoint: bitwise the same model.
        let whole = std::fs::read(dir.path().join("whole.bin")).unwrap();
        let resumed = std::fs::read(dir.path().join("cut.bin")).unwrap();
        assert!(
            whole == resumed,
            "the resumed model differs from the uninterrupted one"
        );
        assert!(!ckpt.exists(), "the model supersedes the checkpoint");
    }

    #[test]
    fn resume_without_a_checkpoint_is_an_error_on_every_rank() {
        let Some(mpirun) = mpirun() else { return };
        let dir = tempfile::tempdir().unwrap();
        write_random_corpus(&dir.path().join("c"), 60, 40, 0.2, 5);
        let base = [
            "fit",
            "c",
            "-k",
            "3",
            "--tol",
            "0",
            "-o",
            "m.bin",
            "--distributed",
        ];
        let mut args = base.to_vec();
        args.extend_from_slice(&[
            "--max-iter",
            "20",
            "--checkpoint",
            "keep.ckpt",
            "--checkpoint-every",
            "5",
        ]);
        let out = run_mpi(&mpirun, dir.path(), 2, &args);
        assert!(out.status.success(), "{}", stderr(&out));
        // The finished run removed its checkpoint: resuming now is an error.
        let mut resume = base.to_vec();
        resume.extend_from_slice(&["--checkpoint", "keep.ckpt", "--resume"]);
        let out = run_mpi(&mpirun, dir.path(), 2, &resume);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("keep.ckpt: cannot open"),
            "{}",
            stderr(&out)
        );
    }
}
