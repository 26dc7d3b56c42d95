//! `topicmill generate`: a synthetic corpus with planted topics and Zipf term
//! frequencies, of any shape, written straight to a corpus directory.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use topicmill_sparse::GenerateParams;

/// Write a synthetic corpus (planted topics, Zipf term frequencies) of any shape.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output corpus directory.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Shape as DOCSxTERMSxNNZxK (e.g. 300000x102660x70000000x100; k, suffixes
    /// k/M/G allowed: 300kx102660x70Mx100), instead of the four flags.
    #[arg(long)]
    pub shape: Option<String>,
    /// Documents.
    #[arg(long, default_value_t = 10_000)]
    pub docs: usize,
    /// Vocabulary size.
    #[arg(long, default_value_t = 20_000)]
    pub terms: usize,
    /// Non-zeros (distinct document–term pairs).
    #[arg(long, default_value_t = 1_000_000)]
    pub nnz: u64,
    /// Planted topics.
    #[arg(short = 'k', long, default_value_t = 20)]
    pub k: usize,
    /// Random seed: the same flags give the same corpus, whatever the thread count.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Zipf exponent of the term frequencies.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub zipf: f64,
    /// Share of tokens drawn from the whole vocabulary instead of the topic's own terms.
    #[arg(long, default_value_t = 0.2, allow_negative_numbers = true)]
    pub background: f64,
    /// Replace an existing corpus at the output (only a corpus directory:
    /// anything else there is refused).
    #[arg(long)]
    pub force: bool,
}

/// Parses `DOCSxTERMSxNNZ[xK]` with optional k/M/G suffixes.
pub fn parse_shape(shape: &str) -> Result<(usize, usize, u64, Option<usize>)> {
    let parts: Vec<&str> = shape.split(['x', 'X', '×']).collect();
    if !(3..=4).contains(&parts.len()) {
        bail!("shape {shape:?}: expected DOCSxTERMSxNNZ or DOCSxTERMSxNNZxK");
    }
    let num = |s: &str| -> Result<u64> {
        let s = s.trim().replace('_', "");
        let (digits, mult) = match s.chars().last() {
            Some('k' | 'K') => (&s[..s.len() - 1], 1e3),
            Some('m' | 'M') => (&s[..s.len() - 1], 1e6),
            Some('g' | 'G') => (&s[..s.len() - 1], 1e9),
            _ => (&s[..], 1.0),
        };
        let v: f64 = digits
            .parse()
            .with_context(|| format!("shape {shape:?}: {s:?} is not a number"))?;
        Ok((v * mult).round() as u64)
    };
    Ok((
        num(parts[0])? as usize,
        num(parts[1])? as usize,
        num(parts[2])?,
        parts
            .get(3)
            .map(|p| num(p))
            .transpose()?
            .map(|k| k as usize),
    ))
}

impl Args {
    pub fn params(&self) -> Result<GenerateParams> {
        let (docs, terms, nnz, k) = match &self.shape {
            Some(shape) => {
                let (d, t, n, k) = parse_shape(shape)?;
                (d, t, n, k.unwrap_or(self.k))
            }
            None => (self.docs, self.terms, self.nnz, self.k),
        };
        Ok(GenerateParams {
            seed: self.seed,
            zipf_exponent: self.zipf,
            background: self.background,
            ..GenerateParams::new(docs, terms, nnz, k)
        })
    }
}

pub fn run(args: Args) -> Result<()> {
    let params = args.params()?;
    crate::output::recover_set_aside(&args.output)?;
    crate::interrupt::remove_unfinished_outputs_on_signal();
    let start = Instant::now();
    // Every error of the writer starts with the path it is about (the
    // output, or the directory that cannot hold it): no context repeats it.
    let manifest = params.write(&args.output, args.force)?;
    let seconds = start.elapsed().as_secs_f64();
    writeln!(
        std::io::stdout().lock(),
        "generated {} documents × {} terms, {} non-zeros, {} planted topics (seed {}) in {seconds:.2} s: {}",
        manifest.nrows,
        manifest.ncols,
        manifest.nnz,
        params.k,
        params.seed,
        args.output.display()
    )?;
    Ok(())
}
