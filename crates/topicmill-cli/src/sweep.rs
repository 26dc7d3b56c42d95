//! `topicmill sweep`: fit several k with several seeds, score each fit, and
//! recommend a k.
//!
//! For every k and seed: relative reconstruction error, NPMI coherence of the
//! top words, topic diversity; for every k: stability, the mean over pairs of
//! seeds of the mean best-match cosine between their topics (Hungarian
//! matching of H rows). The seeds perturb the initialization: by default
//! NNDSVDar, whose zeros are filled with seeded random values, so stability
//! measures how robust a k's topics are to a perturbed start (plain NNDSVD's
//! only randomness is the SVD sketch, which would make stability meaningless);
//! `--init random` asks the harder question of agreement from arbitrary starts.
//!
//! The recommendation combines the two usual criteria. Stability, after Greene,
//! O'Callaghan and Cunningham (2014, "How many topics?"): a k whose topics the
//! data determine comes back from every seed, while a k that splits or merges
//! real topics arbitrarily does not. Coherence: among the stable k (stability
//! at least `--min-stability`), the one whose topics' top words co-occur most
//! (highest mean NPMI) wins; ties go to the smaller k. When no k is stable
//! enough, the most stable one is recommended, and the reason says so. Error
//! always falls as k grows, so it informs but does not decide.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use serde::Serialize;
use topicmill_eval::{evaluate, stability, EvalOptions, Factors};
use topicmill_nmf::{Init, Nmf, Solver};
use topicmill_sparse::Corpus;

use crate::output::{check_outputs, frobenius_norm, write_atomic};
use crate::svg::{self, Panel};

/// Fit a range of k with several seeds; report error, coherence, diversity and
/// stability; recommend a k.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Corpus directory.
    pub corpus: PathBuf,
    /// The numbers of topics to try, comma-separated.
    #[arg(long = "k", value_delimiter = ',', default_value = "5,10,20,40")]
    pub ks: Vec<usize>,
    /// Seeds per k (at least 2, for stability).
    #[arg(long, default_value_t = 3)]
    pub seeds: u64,
    /// Update rule.
    #[arg(long, value_enum, default_value = "hals")]
    pub solver: crate::nmf_args::SolverArg,
    /// Initialization; the seed changes it only for random and NNDSVDar.
    #[arg(long, value_enum, default_value = "nndsvdar")]
    pub init: crate::nmf_args::InitArg,
    /// Iteration cap per fit.
    #[arg(long, default_value_t = 200)]
    pub max_iter: usize,
    /// Relative tolerance on the loss decrease.
    #[arg(long, default_value_t = 1e-4, allow_negative_numbers = true)]
    pub tol: f64,
    /// A k is stable when its topics match across seeds at least this well
    /// (mean best-match cosine similarity).
    #[arg(long, default_value_t = 0.9, allow_negative_numbers = true)]
    pub min_stability: f64,
    /// Write the curves (error, coherence, diversity, stability against k) as SVG.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The scores of one k.
#[derive(Debug, Clone, Serialize)]
pub struct KScores {
    pub k: usize,
    /// Mean over seeds.
    pub relative_error: f64,
    pub coherence: f64,
    pub diversity: f64,
    /// Mean over pairs of seeds of the mean best-match cosine similarity.
    pub stability: f64,
    /// Per seed: (seed, relative error, coherence, diversity).
    pub runs: Vec<Run>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub seed: u64,
    pub relative_error: f64,
    pub coherence: f64,
    pub diversity: f64,
    pub iterations: usize,
}

#[derive(Debug, Serialize)]
struct Sweep {
    corpus: String,
    documents: usize,
    terms: usize,
    seeds: u64,
    scores: Vec<KScores>,
    recommended_k: usize,
    reason: String,
}

pub fn run(args: Args) -> Result<()> {
    ensure!(!args.ks.is_empty(), "--k needs at least one value");
    ensure!(
        args.seeds >= 2,
        "--seeds must be at least 2 (stability compares seeds)"
    );
    ensure!(
        (0.0..=1.0).contains(&args.min_stability),
        "--min-stability must be a cosine similarity in [0, 1], got {}",
        args.min_stability
    );
    let mut ks = args.ks.clone();
    ks.sort_unstable();
    ks.dedup();
    let corpus = Corpus::open(&args.corpus)
        .with_context(|| format!("cannot open corpus {}", args.corpus.display()))?;
    check_outputs(&[args.svg.as_deref()], &[&args.corpus])?;
    corpus
        .check_values()
        .with_context(|| format!("cannot sweep {}", args.corpus.display()))?;
    let (x, xt) = (corpus.matrix(), corpus.transpose());
    let norm = frobenius_norm(&x);
    let solver: Solver = args.solver.into();
    let init: Init = args.init.into();
    let options = EvalOptions::default();
    let params = |k: usize, seed: u64| {
        Nmf::params(k)
            .solver(solver)
            .init(init)
            .max_iter(args.max_iter)
            .tol(args.tol)
            .seed(seed)
    };
    // Every k is checked against the corpus (and every parameter) before
    // the first fit: a bad k fails at once, not after the fits of the others.
    for &k in &ks {
        params(k, 0)
            .validate_for(&x)
            .with_context(|| format!("cannot fit k={k} on {}", args.corpus.display()))?;
    }

    let mut scores = Vec::with_capacity(ks.len());
    for &k in &ks {
        let started = Instant::now();
        let mut runs = Vec::new();
        let mut hts = Vec::new();
        for seed in 0..args.seeds {
            let model = params(k, seed)
                .fit_with(&x, Some(&xt), |_| std::ops::ControlFlow::Continue(()))
                .with_context(|| format!("cannot fit k={k} (seed {seed})"))?;
            let factors = Factors::new(model.w(), model.ht(), k)
                .with_context(|| format!("bad factors for k={k}"))?;
            let eval = evaluate(x, xt, &factors, None::<&[String]>, &options)
                .with_context(|| format!("cannot score k={k}"))?;
            runs.push(Run {
                seed,
                relative_error: if norm > 0.0 {
                    model.reconstruction_err() / norm
                } else {
                    0.0
                },
                coherence: eval.coherence,
                diversity: eval.diversity,
                iterations: model.iterations(),
            });
            hts.push(model.ht().to_vec());
            eprintln!(
                "k={k} seed={seed}: error {:.6}, coherence {:.4}, diversity {:.3}",
                runs.last().unwrap().relative_error,
                eval.coherence,
                eval.diversity
            );
        }
        let mut pairs = Vec::new();
        for a in 0..hts.len() {
            for b in a + 1..hts.len() {
                pairs.push(stability(&hts[a], &hts[b], k).context("cannot compare seeds")?);
            }
        }
        let mean = |f: fn(&Run) -> f64| runs.iter().map(f).sum::<f64>() / runs.len() as f64;
        scores.push(KScores {
            k,
            relative_error: mean(|r| r.relative_error),
            coherence: mean(|r| r.coherence),
            diversity: mean(|r| r.diversity),
            stability: pairs.iter().sum::<f64>() / pairs.len() as f64,
            runs,
            seconds: started.elapsed().as_secs_f64(),
        });
    }

    let (recommended_k, reason) = recommend(&scores, args.min_stability)?;
    if let Some(path) = &args.svg {
        let mark = Some(recommended_k as f64);
        let curve = |title, f: fn(&KScores) -> f64| Panel {
            title,
            points: scores.iter().map(|s| (s.k as f64, f(s))).collect(),
            mark,
        };
        let chart = svg::panels(
            &[
                curve("relative error", |s| s.relative_error),
                curve("coherence (NPMI)", |s| s.coherence),
                curve("diversity", |s| s.diversity),
                curve("stability", |s| s.stability),
            ],
            "k",
        );
        write_atomic(path, |out| out.write_all(chart.as_bytes()))?;
    }

    let sweep = Sweep {
        corpus: args.corpus.display().to_string(),
        documents: x.rows(),
        terms: x.cols(),
        seeds: args.seeds,
        scores,
        recommended_k,
        reason,
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let text = serde_json::to_string_pretty(&sweep)?;
        writeln!(out, "{text}")?;
    } else {
        writeln!(
            out,
            "{:>5}  {:>9}  {:>9}  {:>9}  {:>9}  {:>8}",
            "k", "error", "coherence", "diversity", "stability", "seconds"
        )?;
        for s in &sweep.scores {
            writeln!(
                out,
                "{:>5}  {:>9.6}  {:>9.4}  {:>9.3}  {:>9.3}  {:>8.2}{}",
                s.k,
                s.relative_error,
                s.coherence,
                s.diversity,
                s.stability,
                s.seconds,
                if s.k == sweep.recommended_k {
                    "  <- recommended"
                } else {
                    ""
                }
            )?;
        }
        writeln!(
            out,
            "\nrecommended k = {}: {}",
            sweep.recommended_k, sweep.reason
        )?;
    }
    Ok(())
}

/// The item with the largest `key`; the first of equals.
fn best_by<'a>(items: &[&'a KScores], key: fn(&KScores) -> f64) -> Option<&'a KScores> {
    items
        .iter()
        .copied()
        .fold(None::<&KScores>, |best, s| match best {
            Some(b) if key(b) >= key(s) => Some(b),
            _ => Some(s),
        })
}

/// The most coherent stable k; when no k is stable, the most stable one.
pub fn recommend(scores: &[KScores], min_stability: f64) -> Result<(usize, String)> {
    let finite: Vec<&KScores> = scores
        .iter()
        .filter(|s| s.stability.is_finite() && s.coherence.is_finite())
        .collect();
    // `fold` keeps the first of equals: scores are sorted by k, so ties go to
    // the smaller k.
    let stable: Vec<&KScores> = finite
        .iter()
        .copied()
        .filter(|s| s.stability >= min_stability)
        .collect();
    if let Some(chosen) = best_by(&stable, |s| s.coherence) {
        let others: Vec<String> = stable
            .iter()
            .filter(|s| s.k != chosen.k)
            .map(|s| format!("k={} {:.4}", s.k, s.coherence))
            .collect();
        let unstable: Vec<String> = finite
            .iter()
            .filter(|s| s.stability < min_stability)
            .map(|s| format!("k={} ({:.3})", s.k, s.stability))
            .collect();
        let mut reason = format!(
            "the most coherent of the stable k: NPMI {:.4}, stability {:.3}",
            chosen.coherence, chosen.stability
        );
        if !others.is_empty() {
            reason.push_str(&format!("; other stable k: {}", others.join(", ")));
        }
        if !unstable.is_empty() {
            reason.push_str(&format!(
                "; below stability {min_stability}: {}",
                unstable.join(", ")
            ));
        }
        return Ok((chosen.k, reason));
    }
    let Some(chosen) = best_by(&finite, |s| s.stability) else {
        bail!("no k could be scored");
    };
    Ok((
        chosen.k,
        format!(
            "no k reached stability {min_stability}; k={} is the most stable ({:.3}) — \
             more seeds, more iterations or other k may settle it",
            chosen.k, chosen.stability
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(k: usize, coherence: f64, stability: f64) -> KScores {
        KScores {
            k,
            relative_error: 0.9,
            coherence,
            diversity: 0.9,
            stability,
            runs: Vec::new(),
            seconds: 0.0,
        }
    }

    #[test]
    fn recommends_the_most_coherent_stable_k() {
        let all = [
            scores(3, 0.30, 0.95),
            scores(4, 0.35, 0.94),
            scores(5, 0.40, 0.80),
            scores(6, 0.20, 0.96),
        ];
        let (k, reason) = recommend(&all, 0.9).unwrap();
        assert_eq!(k, 4, "{reason}");
        assert!(reason.contains("k=5 (0.800)"), "{reason}");
        assert_eq!(recommend(&all, 0.5).unwrap().0, 5);
        // Nothing stable enough: the most stable.
        let (k, reason) = recommend(&all, 0.99).unwrap();
        assert_eq!(k, 6);
        assert!(reason.contains("no k reached"), "{reason}");
    }

    #[test]
    fn ties_go_to_the_smaller_k_and_nan_is_skipped() {
        let all = [
            scores(2, f64::NAN, 1.0),
            scores(3, 0.3, 0.9),
            scores(4, 0.3, 0.9),
        ];
        assert_eq!(recommend(&all, 0.9).unwrap().0, 3);
        assert!(recommend(&[scores(2, f64::NAN, 1.0)], 0.9).is_err());
    }
}
