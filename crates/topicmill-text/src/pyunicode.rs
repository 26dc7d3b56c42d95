//! Python's character semantics, from tables generated off CPython (see
//! `tools/gen_unicode_tables.py`): `re`'s Unicode `\w`, `str.lower()` with its
//! Final_Sigma rule, and `str.isspace()`.

use crate::unicode_tables::{CASED, CASE_IGNORABLE, LOWER_MULTI, LOWER_SINGLE, SPACE, WORD};

const CAPITAL_SIGMA: char = '\u{3A3}';

fn in_ranges(ranges: &[(u32, u32)], c: char) -> bool {
    let cp = c as u32;
    ranges
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                std::cmp::Ordering::Less
            } else if lo > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Whether Python's `re` matches `c` with `\w` (a Unicode pattern): letters,
/// digits and numerics as `str.isalnum()` sees them, plus `_`.
pub(crate) fn is_word(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || c == '_'
    } else {
        in_ranges(WORD, c)
    }
}

/// Whether `str.isspace()` holds for `c`.
pub(crate) fn is_space(c: char) -> bool {
    if c.is_ascii() {
        matches!(
            c,
            '\t' | '\n' | '\x0B' | '\x0C' | '\r' | '\x1C'..='\x1F' | ' '
        )
    } else {
        in_ranges(SPACE, c)
    }
}

/// The lower-case form of `c` under `str.lower()`, outside of any context: the
/// caller handles capital sigma (see [`sigma_is_final`]).
pub(crate) enum Lower {
    One(char),
    Many(&'static str),
}

pub(crate) fn lower_char(c: char) -> Lower {
    if c.is_ascii() {
        return Lower::One(c.to_ascii_lowercase());
    }
    let cp = c as u32;
    if let Ok(i) = LOWER_SINGLE.binary_search_by_key(&cp, |&(from, _)| from) {
        // The table holds scalar values read off Python's own `str`.
        return Lower::One(char::from_u32(LOWER_SINGLE[i].1).unwrap_or(c));
    }
    if let Ok(i) = LOWER_MULTI.binary_search_by_key(&cp, |&(from, _)| from) {
        return Lower::Many(LOWER_MULTI[i].1);
    }
    Lower::One(c)
}

/// CPython's Final_Sigma rule for the capital sigma at byte `at` of `text`:
/// final when, skipping case-ignorable characters, a cased character comes
/// before it and none comes after it.
pub(crate) fn sigma_is_final(text: &str, at: usize) -> bool {
    let is_cased = |c: char| in_ranges(CASED, c);
    let is_ignorable = |c: char| in_ranges(CASE_IGNORABLE, c);
    let before = text[..at].chars().rev().find(|&c| !is_ignorable(c));
    if !before.is_some_and(is_cased) {
        return false;
    }
    let after = text[at + CAPITAL_SIGMA.len_utf8()..]
        .chars()
        .find(|&c| !is_ignorable(c));
    !after.is_some_and(is_cased)
}

/// Python's `str.lower()` of a whole string (full case mapping, with the
/// Final_Sigma rule): the lowercasing of scikit-learn's default preprocessor.
pub fn lower(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (at, c) in text.char_indices() {
        push_lower(&mut out, text, at, c);
    }
    out
}

/// Appends the lower-case form of `c`, found at byte `at` of `text`.
fn push_lower(out: &mut String, text: &str, at: usize, c: char) {
    if c == CAPITAL_SIGMA {
        out.push(if sigma_is_final(text, at) {
            '\u{3C2}'
        } else {
            '\u{3C3}'
        });
        return;
    }
    match lower_char(c) {
        Lower::One(l) => out.push(l),
        Lower::Many(s) => out.push_str(s),
    }
}

/// Python's `str.strip()`.
pub(crate) fn strip(text: &str) -> &str {
    text.trim_matches(is_space)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_characters_follow_python_not_rust() {
        // Python's \w is str.isalnum() + '_': letters are categories L*, so a
        // combining vowel sign (Mc, Alphabetic in Rust's sense) is not a word char.
        assert!(!is_word('\u{0903}'));
        assert!('\u{0903}'.is_alphabetic());
        assert!(is_word('_') && is_word('é') && is_word('\u{00B2}') && is_word('\u{2160}'));
        assert!(!is_word('\u{00A0}') && !is_word('-') && !is_word('\u{0307}'));
        // Ⓐ is Alphabetic for Rust, not alnum for Python.
        assert!('\u{24B6}'.is_alphabetic() && !is_word('\u{24B6}'));
    }

    #[test]
    fn lower_matches_python() {
        assert_eq!(lower("HeLLo ÀÉ"), "hello àé");
        assert_eq!(lower("İ"), "i\u{307}");
        // Final sigma: word-final after a cased letter, else medial.
        assert_eq!(lower("ΟΔΟΣ"), "οδος");
        assert_eq!(lower("ΟΔΟΣ ΣΑ"), "οδος σα");
        assert_eq!(lower("Σ"), "σ");
        assert_eq!(lower("AΣ'"), "aς'");
        assert_eq!(lower("AΣ'B"), "aσ'b");
    }

    #[test]
    fn python_whitespace() {
        assert_eq!(strip("\u{85}\u{A0} x \x1c\t"), "x");
        assert!(!is_space('\u{200B}'));
    }
}
