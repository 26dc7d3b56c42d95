//! `topicmill report`: one self-contained HTML page about a model — per topic
//! its top words as bars, its share of documents, its coherence and example
//! documents; the summary scores; the loss curve. Inline CSS and SVG, no
//! network, readable without JavaScript (a small inline script only adds a
//! table of contents).

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use topicmill_eval::{top_documents, EvalOptions, Evaluation};

use crate::evaluate::{
    check_values, load_model_for_factors, model_factors, open_corpus, score, LoadedFactors,
};
use crate::output::{check_outputs, topic_words, write_atomic};
use crate::svg::escape as esc;

/// Write an HTML report of a model on its corpus (self-contained, no network).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model file (`topicmill fit -o`).
    pub model: PathBuf,
    /// The corpus directory the model is scored on.
    pub corpus: PathBuf,
    /// Where to write the HTML page (atomically).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Top words shown per topic (at least 1).
    #[arg(long, default_value_t = 15, value_parser = crate::topics::parse_top)]
    pub words: usize,
    /// Example documents listed per topic (those with the largest weight).
    #[arg(long, default_value_t = 5)]
    pub examples: usize,
    /// Compute W for the corpus's documents (a corpus other than the fitted one).
    #[arg(long)]
    pub transform: bool,
}

pub fn run(args: Args) -> Result<()> {
    let corpus = open_corpus(&args.corpus)?;
    let model = load_model_for_factors(&args.model, args.transform)?;
    check_outputs(&[Some(&args.output)], &[&args.model, &args.corpus])?;
    check_values(&corpus)?;
    let factors = model_factors(&model, &args.model, &corpus, args.transform)?;
    let options = EvalOptions::default();
    let evaluation = score(&corpus, &factors, &options)?;
    let page = Page {
        title: format!(
            "topicmill report: {}",
            args.model.file_name().map_or_else(
                || args.model.display().to_string(),
                |n| n.to_string_lossy().into_owned()
            )
        ),
        corpus: args.corpus.display().to_string(),
        factors: &factors,
        evaluation: &evaluation,
        topic_words: topic_words(&model, corpus.vocabulary(), args.words),
        doc_ids: corpus.doc_ids(),
        examples: args.examples,
        loss: model.loss_history(),
        iterations: model.iterations(),
        options: &options,
    };
    let html = page.render();
    write_atomic(&args.output, |out| out.write_all(html.as_bytes()))
        .with_context(|| format!("cannot write report {}", args.output.display()))?;
    println!(
        "report on {} topics written to {}",
        factors.k,
        args.output.display()
    );
    Ok(())
}

struct Page<'a> {
    title: String,
    corpus: String,
    factors: &'a LoadedFactors,
    evaluation: &'a Evaluation,
    /// Each topic's top words with weights (the model's H, `topic_words`).
    topic_words: Vec<Vec<(String, f32)>>,
    doc_ids: &'a [String],
    examples: usize,
    loss: &'a [(usize, f64)],
    iterations: usize,
    options: &'a EvalOptions,
}

const STYLE: &str = "
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1100px;padding:1.5em;color:#222;background:#fafafa}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.15em;margin:0 0 .4em}
table.summary{border-collapse:collapse;margin:.8em 0}table.summary td{padding:.15em 1em .15em 0}
table.summary td:first-child{color:#555}
nav#toc{margin:1em 0;line-height:2}nav#toc a{margin-right:.6em;padding:.1em .4em;background:#e8eef7;border-radius:3px;text-decoration:none;color:#1f4f8f}
.topics{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:1em}
section.topic{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.8em 1em}
.meta{color:#555;font-size:.9em;margin-bottom:.5em}
.bar-row{display:flex;align-items:center;margin:1px 0;font-size:.9em}
.bar-row .word{width:9em;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.bar-row .bar{height:.9em;background:#4a7fc1;border-radius:2px}
.docs{font-size:.85em;color:#444;margin-top:.5em;word-break:break-all}
svg text{font-size:11px;fill:#444}
";

impl Page<'_> {
    fn render(&self) -> String {
        let e = self.evaluation;
        let k = self.factors.k;
        let n = self.factors.w.len() / k;
        let m = self.factors.ht.len() / k;
        let mut h = String::new();
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
            esc(&self.title),
            esc(&self.title)
        );
        h.push_str("<table class=\"summary\">\n");
        let mut row = |name: &str, value: String| {
            let _ = writeln!(h, "<tr><td>{}</td><td>{}</td></tr>", esc(name), value);
        };
        row("model", esc(&self.factors.source));
        row(
            "corpus",
            format!("{} ({n} documents × {m} terms)", esc(&self.corpus)),
        );
        row("topics", k.to_string());
        row(
            "coherence",
            format!(
                "{:.4} (mean NPMI of the top {} words; pairs that never co-occur score −1)",
                e.coherence, self.options.coherence_words
            ),
        );
        row(
            "diversity",
            format!(
                "{:.4} (unique fraction of the top {} words)",
                e.diversity, self.options.diversity_words
            ),
        );
        row(
            "relative error",
            format!(
                "{:.6} (‖X − WH‖<sub>F</sub> / ‖X‖<sub>F</sub>)",
                e.reconstruction.relative
            ),
        );
        if let Some(c) = &e.clustering {
            row(
                "dominant topic vs labels",
                format!(
                    "NMI {:.4}, ARI {:.4}, purity {:.4} ({} labels)",
                    c.nmi, c.ari, c.purity, c.classes
                ),
            );
        }
        row(
            "documents without a topic",
            e.unassigned_documents.to_string(),
        );
        h.push_str("</table>\n<nav id=\"toc\"></nav>\n");
        h.push_str("<h2>Loss</h2>\n");
        h.push_str(&self.loss_svg());
        h.push_str("<h2>Topics</h2>\n<div class=\"topics\">\n");
        let examples = top_documents(&self.factors.w, k, self.examples);
        for (t, topic) in e.topics.iter().enumerate() {
            let words: Vec<&(String, f32)> = self.topic_words[t]
                .iter()
                .filter(|(_, v)| *v > 0.0)
                .collect();
            let top = words.first().map_or(1.0, |(_, v)| *v);
            let _ = write!(
                h,
                "<section class=\"topic\" id=\"topic-{:02}\" data-topic=\"{}\">\n<h2>Topic {}</h2>\n\
                 <div class=\"meta\">coherence <b class=\"coherence\">{:.3}</b> · \
                 dominant in <b class=\"share\">{:.1}%</b> of documents ({})</div>\n",
                t + 1,
                t + 1,
                t + 1,
                topic.coherence,
                100.0 * topic.share,
                topic.documents
            );
            for (word, v) in words {
                let word = esc(word);
                let _ = writeln!(
                    h,
                    "<div class=\"bar-row\"><span class=\"word\" title=\"{word} {v:.4}\">{word}</span>\
                     <span class=\"bar\" style=\"width:{:.1}%\"></span></div>",
                    60.0 * f64::from(v / top)
                );
            }
            let ids: Vec<String> = examples[t]
                .iter()
                .map(|&d| format!("<code>{}</code>", esc(&self.doc_ids[d as usize])))
                .collect();
            let _ = write!(
                h,
                "<div class=\"docs\">examples: {}</div>\n</section>\n",
                if ids.is_empty() {
                    "none".to_owned()
                } else {
                    ids.join(", ")
                }
            );
        }
        h.push_str("</div>\n");
        // Progressive enhancement only: the page is complete without it.
        h.push_str(
            "<script>\n(function(){var nav=document.getElementById('toc');\
             document.querySelectorAll('section.topic').forEach(function(s){\
             var a=document.createElement('a');a.href='#'+s.id;a.className='toc-entry';\
             var w=s.querySelector('.word');a.textContent=s.dataset.topic+': '+(w?w.textContent:'');\
             nav.appendChild(a);});})();\n</script>\n",
        );
        h.push_str("</body>\n</html>\n");
        h
    }

    /// The loss history as an inline SVG line chart.
    fn loss_svg(&self) -> String {
        let points: Vec<(f64, f64)> = self
            .loss
            .iter()
            .filter(|(_, l)| l.is_finite())
            .map(|&(i, l)| (i as f64, l))
            .collect();
        if points.is_empty() {
            return format!(
                "<p class=\"no-loss\">No loss history recorded ({} iterations).</p>\n",
                self.iterations
            );
        }
        let (w, h, left, bottom, pad) = (640.0, 240.0, 70.0, 30.0, 10.0);
        let (x0, x1) = (
            points[0].0,
            points[points.len() - 1].0.max(points[0].0 + 1.0),
        );
        let lo = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let hi = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        let span = if hi > lo { hi - lo } else { 1.0 };
        let px = |x: f64| left + (x - x0) / (x1 - x0) * (w - left - pad);
        let py = |y: f64| pad + (hi - y) / span * (h - bottom - pad);
        let path: Vec<String> = points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let mut s = String::new();
        let _ = write!(
            s,
            "<svg id=\"loss\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"loss by iteration\">\n\
             <rect x=\"{left}\" y=\"{pad}\" width=\"{}\" height=\"{}\" fill=\"#fff\" stroke=\"#ccc\"/>\n\
             <polyline fill=\"none\" stroke=\"#c1464a\" stroke-width=\"2\" points=\"{}\"/>\n\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n\
             <text x=\"{left}\" y=\"{}\">iteration {x0}</text>\n\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{x1}</text>\n</svg>\n",
            w - left - pad,
            h - bottom - pad,
            path.join(" "),
            left - 4.0,
            pad + 10.0,
            format_loss(hi),
            left - 4.0,
            h - bottom,
            format_loss(lo),
            h - bottom + 16.0,
            w - pad,
            h - bottom + 16.0,
        );
        s
    }
}

fn format_loss(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-3) {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}
