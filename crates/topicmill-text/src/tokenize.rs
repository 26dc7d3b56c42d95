//! scikit-learn's default analyzer: `str.lower()`, then the tokens of
//! `(?u)\b\w\w+\b`, that is every maximal run of at least two word characters.

use crate::pyunicode::{is_word, lower_char, sigma_is_final, Lower};

/// ASCII bytes that are word characters: `[0-9A-Za-z_]`.
static ASCII_WORD: [bool; 128] = {
    let mut t = [false; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'_';
        b += 1;
    }
    t
};

/// Calls `emit` with every token of `text`, in order, lowercased as by
/// `str.lower()` when `lowercase` is set. `buf` is scratch space, reused across
/// calls to avoid allocating.
///
/// Lowercasing comes first in scikit-learn, so word boundaries are those of the
/// lowercased text: `İ` lowercases to `i` plus a combining dot, which is not a
/// word character and splits the token.
pub(crate) fn for_each_token(
    text: &str,
    lowercase: bool,
    buf: &mut String,
    mut emit: impl FnMut(&str),
) {
    let bytes = text.as_bytes();
    buf.clear();
    // Code points in `buf`: the pattern asks for at least two.
    let mut chars = 0usize;
    let mut i = 0;
    let n = bytes.len();
    while i < n {
        let b = bytes[i];
        if b < 0x80 {
            if ASCII_WORD[b as usize] {
                let start = i;
                i += 1;
                while i < n && bytes[i] < 0x80 && ASCII_WORD[bytes[i] as usize] {
                    i += 1;
                }
                let run = &text[start..i];
                if chars == 0 && (i == n || bytes[i] < 0x80) {
                    // The whole token is this ASCII run: no copy unless it
                    // has upper case to lower.
                    if i - start >= 2 {
                        if lowercase && run.bytes().any(|b| b.is_ascii_uppercase()) {
                            buf.push_str(run);
                            buf.make_ascii_lowercase();
                            emit(buf);
                            buf.clear();
                        } else {
                            emit(run);
                        }
                    }
                    continue;
                }
                buf.push_str(run);
                if lowercase {
                    let from = buf.len() - run.len();
                    buf[from..].make_ascii_lowercase();
                }
                chars += run.len();
            } else {
                flush(buf, &mut chars, &mut emit);
                i += 1;
            }
        } else {
            let c = text[i..]
                .chars()
                .next()
                .expect("a non-ASCII byte at a char boundary starts a char");
            if lowercase {
                if c == '\u{3A3}' {
                    let l = if sigma_is_final(text, i) {
                        '\u{3C2}'
                    } else {
                        '\u{3C3}'
                    };
                    push_char(buf, &mut chars, l, &mut emit);
                } else {
                    match lower_char(c) {
                        Lower::One(l) => push_char(buf, &mut chars, l, &mut emit),
                        Lower::Many(s) => {
                            for l in s.chars() {
                                push_char(buf, &mut chars, l, &mut emit);
                            }
                        }
                    }
                }
            } else {
                push_char(buf, &mut chars, c, &mut emit);
            }
            i += c.len_utf8();
        }
    }
    flush(buf, &mut chars, &mut emit);
}

#[inline]
fn push_char(buf: &mut String, chars: &mut usize, c: char, emit: &mut impl FnMut(&str)) {
    if is_word(c) {
        buf.push(c);
        *chars += 1;
    } else {
        flush(buf, chars, emit);
    }
}

#[inline]
fn flush(buf: &mut String, chars: &mut usize, emit: &mut impl FnMut(&str)) {
    if *chars >= 2 {
        emit(buf);
    }
    buf.clear();
    *chars = 0;
}

/// The default analyzer with its scratch buffer, reused across documents.
#[derive(Debug, Default, Clone)]
pub struct Tokenizer {
    buf: String,
}

impl Tokenizer {
    /// A tokenizer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Calls `emit` with each token of `text`, lowercased, without allocating
    /// (beyond the scratch buffer's growth).
    pub fn for_each(&mut self, text: &str, emit: impl FnMut(&str)) {
        for_each_token(text, true, &mut self.buf, emit);
    }
}

/// The tokens of `text`, as owned strings (for tests and small inputs).
pub fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = String::new();
    for_each_token(text, true, &mut buf, |t| out.push(t.to_owned()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_tokens() {
        assert_eq!(
            tokenize("Hello, World! a b2 _x_ it's 3.14 foo-bar"),
            ["hello", "world", "b2", "_x_", "it", "14", "foo", "bar"]
        );
        assert!(tokenize("").is_empty());
        assert!(tokenize("a b c - !").is_empty());
    }

    #[test]
    fn unicode_tokens_follow_python() {
        // Latin-1 letters are word characters; NBSP (U+00A0) is not.
        assert_eq!(tokenize("Café\u{A0}CRÈME"), ["café", "crème"]);
        // Mixed ASCII and non-ASCII runs make one token.
        assert_eq!(tokenize("naïve ÉtÉ x9é"), ["naïve", "été", "x9é"]);
        // 'İ' lowercases to 'i' + U+0307, which is not \w: the token splits.
        assert_eq!(tokenize("İSTANBUL"), ["stanbul"]);
        // A single non-ASCII letter is one code point: not a token.
        assert!(tokenize("é ü").is_empty());
        assert_eq!(tokenize("ΟΔΟΣ."), ["οδος"]);
        // U+0903 (Mc) splits a Devanagari word in Python.
        assert_eq!(tokenize("कः ab"), ["ab"]);
    }

    #[test]
    fn no_lowercase() {
        let mut buf = String::new();
        let mut out = Vec::new();
        for_each_token("AbC dÉ", false, &mut buf, |t| out.push(t.to_owned()));
        assert_eq!(out, ["AbC", "dÉ"]);
    }
}
