//! `topicmill topics`: the top words of each topic of a saved model.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::ValueEnum;

use crate::output::{csv_field, load_model_without_w, print_topics, topic_words};

/// Output format of `topics`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// Topics as columns, like the seed experiment's table.
    Table,
    Json,
    /// `topic,rank,word,weight`.
    Csv,
}

/// Print the top words of each topic of a model.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model file written by `topicmill fit`.
    pub model: PathBuf,
    /// Words per topic (at most: only words of positive weight are listed).
    #[arg(
        short = 'n',
        long,
        default_value_t = 8,
        value_parser = parse_top
    )]
    pub top: usize,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

/// A positive number of words: `-n` of `topics` and `lsi`, `--words` of
/// `report`.
pub(crate) fn parse_top(text: &str) -> Result<usize, String> {
    parse_at_least(
        text,
        1,
        "words",
        "give at least 1 word per topic or component",
    )
}

/// Words per topic for NPMI coherence, which scores pairs of them: at least
/// 2 (`--coherence-words` of `evaluate`).
pub(crate) fn parse_pair_words(text: &str) -> Result<usize, String> {
    parse_at_least(
        text,
        2,
        "words",
        "give at least 2 words per topic: coherence scores pairs of them",
    )
}

/// A count of `unit` of at least `least`, for clap: `too_few` below it.
pub(crate) fn parse_at_least(
    text: &str,
    least: usize,
    unit: &str,
    too_few: &str,
) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n < least => Err(too_few.to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{text:?} is not a number of {unit}: {e}")),
    }
}

pub fn run(args: Args) -> Result<()> {
    let model = load_model_without_w(&args.model)?;
    let vocabulary = model
        .vocabulary()
        .with_context(|| format!("model {} carries no vocabulary", args.model.display()))?;
    let topics = topic_words(&model, vocabulary, args.top);
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Table => print_topics(&mut out, &topics)?,
        Format::Json => {
            let json: Vec<_> = topics
                .iter()
                .enumerate()
                .map(|(t, words)| {
                    serde_json::json!({
                        "topic": t + 1,
                        "words": words.iter().map(|(w, _)| w).collect::<Vec<_>>(),
                        "weights": words.iter().map(|(_, v)| v).collect::<Vec<_>>(),
                    })
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &json)?;
            writeln!(out)?;
        }
        Format::Csv => {
            writeln!(out, "topic,rank,word,weight")?;
            for (t, words) in topics.iter().enumerate() {
                for (rank, (word, weight)) in words.iter().enumerate() {
                    writeln!(out, "{},{},{},{weight}", t + 1, rank + 1, csv_field(word))?;
                }
            }
        }
    }
    out.flush()?;
    Ok(())
}
