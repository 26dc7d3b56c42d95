//! The figures for the sparse-storage note, outside criterion because they are
//! about memory and one-shot times on a large generated file:
//!
//! ```text
//! cargo run --release -p topicmill-benches --bin sparse_figures -- [NNZ] [DIR]
//! ```
//!
//! 1. Writes a generated matrix of NNZ entries (default 50 000 000; 100 per row)
//!    with `MatrixWriter` into a temporary directory under DIR (default /tmp),
//!    reports the write time and the peak resident memory of the writer.
//! 2. Opens it with `MappedMatrix::open` and reports the open time and the
//!    resident memory (anonymous vs file-backed) before and after: opening maps
//!    and checks, it copies nothing, so anonymous memory must not grow with nnz.
//! 3. Runs `verify` and `write_transpose` and reports their times.
//! 4. Imports the UCI KOS and NIPS sets (when `$TOPICMILL_DATA` has them) and
//!    reports throughput in MB/s of decompressed input.
//!
//! The temporary directory is removed at the end.

use std::io::Read;
use std::time::Instant;

use topicmill_sparse::{read_docword, write_transpose, MappedMatrix, MatrixWriter};

/// (VmRSS, RssAnon, RssFile, VmHWM) in MiB from /proc/self/status.
fn memory() -> [f64; 4] {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    [
        field("VmRSS:"),
        field("RssAnon:"),
        field("RssFile:"),
        field("VmHWM:"),
    ]
}

fn show(label: &str) {
    let [rss, anon, file, hwm] = memory();
    println!(
        "  {label:<28} VmRSS {rss:8.1} MiB   RssAnon {anon:7.1} MiB   RssFile {file:8.1} MiB   peak {hwm:8.1} MiB"
    );
}

/// splitmix64: a tiny deterministic generator, enough for synthetic structure.
struct SplitMix(u64);
impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let nnz: u64 = args
        .next()
        .map_or(50_000_000, |s| s.parse().expect("NNZ is an integer"));
    let base = args.next().unwrap_or_else(|| "/tmp".to_string());
    let per_row: u64 = 100;
    let nrows = nnz.div_ceil(per_row);
    let ncols: u64 = 100_000;
    let band = ncols / per_row;

    let dir = tempfile::Builder::new()
        .prefix("topicmill-open-bench-")
        .tempdir_in(&base)
        .expect("temporary directory");
    let path = dir.path().join("big.csr");
    println!(
        "generated matrix: {nrows} x {ncols}, {} nnz",
        nrows * per_row
    );
    show("start");

    let t = Instant::now();
    let mut writer = MatrixWriter::create(&path, ncols as usize).expect("create");
    let mut rng = SplitMix(42);
    let mut idx = vec![0u32; per_row as usize];
    let mut val = vec![0f32; per_row as usize];
    for _ in 0..nrows {
        for k in 0..per_row as usize {
            let r = rng.next();
            // One column in each band of `band` columns: sorted and distinct.
            idx[k] = (k as u64 * band + r % band) as u32;
            val[k] = ((r >> 32) % 1000) as f32 / 100.0 + 0.01;
        }
        writer.push_row(&idx, &val).expect("push_row");
    }
    let summary = writer.finish().expect("finish");
    let write_s = t.elapsed().as_secs_f64();
    println!(
        "write: {:.2} s, {:.1} MiB file, {:.0} MB/s",
        write_s,
        summary.file_len as f64 / (1 << 20) as f64,
        summary.file_len as f64 / 1e6 / write_s
    );
    show("after write");

    show("before open");
    let t = Instant::now();
    let m = MappedMatrix::open(&path).expect("open");
    let open_s = t.elapsed().as_secs_f64();
    let view = m.view();
    println!(
        "open (header + structure checks, warm page cache): {:.1} ms for {} nnz",
        open_s * 1e3,
        view.nnz()
    );
    show("after open + view");
    // Touch a row to show the view reads the map.
    let row = view.outer_view(nrows as usize / 2).expect("row");
    assert_eq!(row.nnz(), per_row as usize);

    let t = Instant::now();
    m.verify().expect("verify");
    println!(
        "verify (CRC-32 + values): {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    show("after verify");

    let t = Instant::now();
    let tpath = dir.path().join("big_t.csr");
    write_transpose(&tpath, view).expect("transpose");
    println!("write_transpose: {:.2} s", t.elapsed().as_secs_f64());
    show("after transpose");
    drop(m);
    drop(dir);

    for name in ["kos", "nips"] {
        let rel = format!("uci-bow/docword.{name}.txt.gz");
        let Some(p) = topicmill_testdata::require(&rel) else {
            continue;
        };
        let mut raw = Vec::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(&p).unwrap())
            .read_to_end(&mut raw)
            .unwrap();
        let plain = std::env::temp_dir().join(format!("topicmill-bench-docword.{name}.txt"));
        std::fs::write(&plain, &raw).unwrap();
        for (label, input) in [("gzip", &p), ("plain", &plain)] {
            let mut best = f64::INFINITY;
            let mut shape = (0, 0, 0);
            for _ in 0..5 {
                let t = Instant::now();
                let x = read_docword(input).expect("import");
                best = best.min(t.elapsed().as_secs_f64());
                shape = (x.rows(), x.cols(), x.nnz());
            }
            println!(
                "import {name} ({label}): {} x {} nnz {}: best of 5 {:.1} ms, {:.0} MB/s of decompressed text ({:.1} MB)",
                shape.0,
                shape.1,
                shape.2,
                best * 1e3,
                raw.len() as f64 / 1e6 / best,
                raw.len() as f64 / 1e6
            );
        }
        std::fs::remove_file(&plain).ok();
    }
}
