//! Small self-contained SVG line charts (no dependency, no network): the
//! `sweep` curves; and HTML/SVG escaping, shared with the report.

use std::fmt::Write as _;

/// One chart panel: a title and points (x, y), drawn as a polyline with dots.
pub struct Panel<'a> {
    pub title: &'a str,
    pub points: Vec<(f64, f64)>,
    /// An x to highlight (the recommendation), if any.
    pub mark: Option<f64>,
}

/// Text for an HTML or SVG element body or attribute value.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Formats an axis value compactly.
fn tick(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e4 || v.abs() < 1e-3) {
        format!("{v:.2e}")
    } else {
        format!("{v:.3}")
    }
}

/// Panels side by side in one SVG document, `x_label` under each.
pub fn panels(panels: &[Panel<'_>], x_label: &str) -> String {
    let (pw, ph) = (300.0_f64, 220.0_f64);
    let (left, right, top, bottom) = (58.0, 12.0, 28.0, 40.0);
    let width = pw * panels.len().max(1) as f64;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{ph}\" \
         viewBox=\"0 0 {width} {ph}\" font-family=\"sans-serif\" font-size=\"11\">"
    );
    let _ = writeln!(
        s,
        "<rect width=\"{width}\" height=\"{ph}\" fill=\"#ffffff\"/>"
    );
    for (p, panel) in panels.iter().enumerate() {
        let ox = p as f64 * pw;
        let pts: Vec<(f64, f64)> = panel
            .points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"16\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>",
            ox + pw / 2.0,
            escape(panel.title)
        );
        let (x0, x1) = bounds(pts.iter().map(|p| p.0));
        let (y0, y1) = bounds(pts.iter().map(|p| p.1));
        let px = |x: f64| ox + left + (x - x0) / (x1 - x0) * (pw - left - right);
        let py = |y: f64| top + (y1 - y) / (y1 - y0) * (ph - top - bottom);
        let _ = writeln!(
            s,
            "<rect x=\"{:.1}\" y=\"{top}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"none\" stroke=\"#bbbbbb\"/>",
            ox + left,
            pw - left - right,
            ph - top - bottom
        );
        for (v, anchor_y) in [(y1, top + 4.0), (y0, ph - bottom)] {
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{anchor_y:.1}\" text-anchor=\"end\">{}</text>",
                ox + left - 4.0,
                tick(v)
            );
        }
        for &(x, _) in &pts {
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{x}</text>",
                px(x),
                ph - bottom + 14.0
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            ox + left + (pw - left - right) / 2.0,
            ph - 6.0,
            escape(x_label)
        );
        if let Some(mark) = panel.mark.filter(|m| m.is_finite()) {
            let _ = writeln!(
                s,
                "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{top}\" y2=\"{1:.1}\" stroke=\"#2a9d8f\" stroke-dasharray=\"4 3\"/>",
                px(mark),
                ph - bottom
            );
        }
        let line: Vec<String> = pts
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = writeln!(
            s,
            "<polyline fill=\"none\" stroke=\"#c1464a\" stroke-width=\"2\" points=\"{}\"/>",
            line.join(" ")
        );
        for &(x, y) in &pts {
            let _ = writeln!(
                s,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#c1464a\"><title>{x}: {}</title></circle>",
                px(x),
                py(y),
                tick(y)
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

/// The range of the values, widened when degenerate.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() || !hi.is_finite() {
        (0.0, 1.0)
    } else if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, hi + 0.5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panels_are_well_formed_and_skip_non_finite_points() {
        let svg = panels(
            &[
                Panel {
                    title: "error <rel>",
                    points: vec![(3.0, 0.9), (4.0, f64::NAN), (5.0, 0.8)],
                    mark: Some(4.0),
                },
                Panel {
                    title: "flat",
                    points: vec![(3.0, 1.0)],
                    mark: None,
                },
            ],
            "k",
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("error &lt;rel&gt;"));
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(!svg.contains("NaN"));
    }
}
