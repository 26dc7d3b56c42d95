//! scikit-learn's default analyzer: `str.lower()`, then the tokens of
//! `(?u)\b\w\w+\b`, that is every maximal run of at least two word characters.

use crate::pyunicode::{is_word, lower_char, sigma_is_final, Lower};

/// Byte classes, as bit flags: [`WORD`] for `[0-9A-Za-z_]`, [`UPPER`] also set
/// for `[A-Z]`, [`HIGH`] for the bytes of non-ASCII characters; 0 for the other
/// ASCII bytes (separators).
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c >= 0x80 {
            HIGH
        } else if c.is_ascii_uppercase() {
            WORD | UPPER
        } else if c.is_ascii_alphanumeric() || c == b'_' {
            WORD
        } else {
            0
        };
        b += 1;
    }
    t
};
const WORD: u8 = 1;
const UPPER: u8 = 2;
const HIGH: u8 = 4;

/// Calls `emit` with every token of `text`, in order, lowercased as by
/// `str.lower()` when `lowercase` is set. `buf` is scratch space, reused across
/// calls to avoid allocating.
///
/// Lowercasing comes first in scikit-learn, so word boundaries are those of the
/// lowercased text: `İ` lowercases to `i` plus a combining dot, which is not a
/// word character and splits the token.
///
/// ASCII is the fast path: one table look-up per byte, and a token that is an
/// ASCII run without upper case is passed as a slice of `text`, uncopied.
/// Non-ASCII characters go through Python's tables.
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
        let class = CLASS[bytes[i] as usize];
        if class & WORD != 0 {
            let start = i;
            let (end, has_upper) = word_run(bytes, i + 1);
            i = end;
            let run = &text[start..i];
            let upper = lowercase && (has_upper || class & UPPER != 0);
            if chars == 0 && (i == n || CLASS[bytes[i] as usize] & HIGH == 0) {
                // The whole token is this ASCII run: no copy unless it
                // has upper case to lower.
                if i - start >= 2 {
                    if upper {
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
            if upper {
                let from = buf.len() - run.len();
                buf[from..].make_ascii_lowercase();
            }
            chars += run.len();
        } else if class & HIGH == 0 {
            flush(buf, &mut chars, &mut emit);
            i = skip_separators(bytes, i + 1);
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

/// The end of the run of ASCII word bytes (`[0-9A-Za-z_]`) that starts at
/// `i` or earlier, and whether it has upper case from `i` on.
///
/// Sixteen bytes at a time: the run's end is the first zero bit of a byte
/// mask, not the exit of a byte loop, whose unpredictable length cost a
/// mispredicted branch per token.
#[inline(always)]
fn word_run(bytes: &[u8], mut i: usize) -> (usize, bool) {
    let mut upper = false;
    #[cfg(target_arch = "x86_64")]
    while i + 16 <= bytes.len() {
        let m = simd::classify(&bytes[i..i + 16]);
        let not_word = !m.word & 0xffff;
        if not_word != 0 {
            let len = not_word.trailing_zeros();
            return (i + len as usize, upper || m.upper & ((1 << len) - 1) != 0);
        }
        upper |= m.upper != 0;
        i += 16;
    }
    while i < bytes.len() {
        let c = CLASS[bytes[i] as usize];
        if c & WORD == 0 {
            break;
        }
        upper |= c & UPPER != 0;
        i += 1;
    }
    (i, upper)
}

/// The first position at or after `i` that is not an ASCII separator (a
/// word byte or a byte of a non-ASCII character), or the end. Sixteen bytes
/// at a time, as [`word_run`].
#[inline(always)]
fn skip_separators(bytes: &[u8], mut i: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    while i + 16 <= bytes.len() {
        let m = simd::classify(&bytes[i..i + 16]);
        let other = m.word | m.high;
        if other != 0 {
            return i + other.trailing_zeros() as usize;
        }
        i += 16;
    }
    while i < bytes.len() && CLASS[bytes[i] as usize] == 0 {
        i += 1;
    }
    i
}

/// Byte classes of sixteen bytes at once (SSE2, part of every x86-64 CPU).
#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;

    /// Bit j set when byte j is of the class (as [`super::CLASS`] says).
    pub(super) struct Masks {
        /// `[0-9A-Za-z_]`.
        pub word: u32,
        /// `[A-Z]`.
        pub upper: u32,
        /// Bytes ≥ 0x80 (of non-ASCII characters).
        pub high: u32,
    }

    #[inline(always)]
    pub(super) fn classify(chunk: &[u8]) -> Masks {
        assert!(chunk.len() >= 16);
        // SAFETY: SSE2 is part of x86-64; the load reads the 16 bytes of
        // `chunk` checked above (unaligned load).
        unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast());
            // Signed compares: bytes ≥ 0x80 are negative, so they fall
            // outside every ASCII range.
            let within = |lo: u8, hi: u8, x: __m128i| {
                _mm_and_si128(
                    _mm_cmpgt_epi8(x, _mm_set1_epi8(lo as i8 - 1)),
                    _mm_cmplt_epi8(x, _mm_set1_epi8(hi as i8 + 1)),
                )
            };
            let upper = within(b'A', b'Z', v);
            // Setting bit 5 maps A–Z onto a–z (and nothing else onto them).
            let letter = within(b'a', b'z', _mm_or_si128(v, _mm_set1_epi8(0x20)));
            let digit = within(b'0', b'9', v);
            let underscore = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'_' as i8));
            let word = _mm_or_si128(_mm_or_si128(letter, digit), underscore);
            Masks {
                word: _mm_movemask_epi8(word) as u32,
                upper: _mm_movemask_epi8(upper) as u32,
                high: _mm_movemask_epi8(v) as u32,
            }
        }
    }
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

    /// The definition: `str.lower()` of the whole text, then every maximal
    /// run of at least two word characters.
    fn reference(text: &str) -> Vec<String> {
        let lowered = crate::pyunicode::lower(text);
        let mut out = Vec::new();
        let mut run = String::new();
        for c in lowered.chars().chain(std::iter::once(' ')) {
            if is_word(c) {
                run.push(c);
            } else {
                if run.chars().count() >= 2 {
                    out.push(run.clone());
                }
                run.clear();
            }
        }
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1024))]
        /// The tokenizer agrees with the definition, with long runs, upper
        /// case, non-ASCII and separators anywhere.
        #[test]
        fn tokens_follow_the_definition(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "a", "Z", "_", "9", "abcdefghijklmnopq", "ABCDEFGHIJKLMNOPQRS", " ", ", ",
                    "\n", "-", "@", "[", "`", "{", "\u{7f}", "é", "É", "\u{A0}", "ΟΔΟΣ", "İ",
                    "xyzw0123456789_", "                 ",
                ]),
                0..60,
            ),
        ) {
            let text: String = parts.concat();
            proptest::prop_assert_eq!(tokenize(&text), reference(&text));
        }
    }

    #[test]
    fn runs_longer_than_a_sixteen_byte_block() {
        // Upper case only past the first block, a run ending exactly at a
        // block edge, separators longer than a block, non-ASCII after them.
        let text = format!(
            "abcdefghijklmnopqrstuvwxyZ {}{}x{}é1",
            "0123456789abcdef",
            " ".repeat(40),
            "-".repeat(33)
        );
        assert_eq!(
            tokenize(&text),
            ["abcdefghijklmnopqrstuvwxyz", "0123456789abcdef", "é1"]
        );
        assert_eq!(word_run(b"abcdefghijklmnopqrstuvwxyz!", 0), (26, false));
        assert_eq!(word_run(b"abcdefghijklmnopqRstuvwxyz!", 0), (26, true));
        assert_eq!(word_run(b"abcdefghijklmnopqrstuvwxyz", 3), (26, false));
        assert_eq!(skip_separators(&[b' '; 40], 0), 40);
        assert_eq!(skip_separators(b"                   \xc3\xa9", 0), 19);
    }

    #[test]
    fn no_lowercase() {
        let mut buf = String::new();
        let mut out = Vec::new();
        for_each_token("AbC dÉ", false, &mut buf, |t| out.push(t.to_owned()));
        assert_eq!(out, ["AbC", "dÉ"]);
    }
}
