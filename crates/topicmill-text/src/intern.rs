//! A term interner for the counting pass: each distinct term gets a dense id in
//! order of first sight, its bytes are stored once in one arena.
//!
//! Open addressing with linear probing over a power-of-two table of 16-byte
//! slots. A term of at most 8 bytes is its own key: its length and one 64-bit
//! word holding all its bytes, so looking it up compares two integers and
//! never touches the arena. Longer terms are keyed by a 64-bit hash and
//! compared byte for byte on a hash match. Much faster than a
//! `HashMap<Box<str>, u32>` on this workload: no allocation per term, no
//! out-of-line `memcmp`, a hash made for short strings.

/// Multiplier of the hash (rustc-hash's): odd, with well-spread bits.
const K: u64 = 0xf135_7aea_2e62_a9c5;

/// The key of `bytes`: for at most 8 bytes, a word from which the bytes and
/// the length give back the term (so equal keys and lengths mean equal terms);
/// for longer terms a hash.
#[inline(always)]
fn key(bytes: &[u8]) -> u64 {
    let len = bytes.len();
    if len >= 4 {
        if len <= 8 {
            // Two overlapping 4-byte loads cover every byte.
            let lo = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"));
            let hi = u32::from_le_bytes(bytes[len - 4..].try_into().expect("4 bytes"));
            return u64::from(lo) | (u64::from(hi) << 32);
        }
        let mut h = (len as u64).wrapping_mul(K);
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            h = (h.rotate_left(23) ^ w).wrapping_mul(K);
        }
        if !chunks.remainder().is_empty() {
            // The last 8 bytes, overlapping the previous word.
            let w = u64::from_le_bytes(bytes[len - 8..].try_into().expect("8 bytes"));
            h = (h.rotate_left(23) ^ w).wrapping_mul(K);
        }
        h
    } else if len > 0 {
        // Bytes 0, len/2 and len-1 cover every byte of 1 to 3.
        u64::from(bytes[0]) | (u64::from(bytes[len / 2]) << 8) | (u64::from(bytes[len - 1]) << 16)
    } else {
        0
    }
}

/// The table position of a key: the top bits of a multiplicative hash.
#[inline]
fn spread(key: u64, len: usize) -> u64 {
    (key ^ (len as u64)).wrapping_mul(K)
}

/// How far ahead [`Interner::merge`] prefetches.
const MERGE_AHEAD: u32 = 8;

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    key: u64,
    /// `(len << 32) | (id + 1)`, 0 for an empty slot.
    meta: u64,
}

/// Distinct terms with dense ids, `0..len()` in order of first sight.
#[derive(Debug, Clone)]
pub(crate) struct Interner {
    slots: Vec<Slot>,
    /// `64 - log2(slots.len())`: the slot of a key is its spread's top bits.
    shift: u32,
    /// End of each term's bytes in `arena` (its start is the previous end).
    ends: Vec<usize>,
    arena: Vec<u8>,
}

impl Default for Interner {
    fn default() -> Self {
        Self::with_capacity(1024)
    }
}

impl Interner {
    /// An interner sized for about `terms` distinct terms before it grows.
    pub(crate) fn with_capacity(terms: usize) -> Self {
        let slots = (terms.max(8) * 2).next_power_of_two();
        Self {
            slots: vec![Slot::default(); slots],
            shift: 64 - slots.trailing_zeros(),
            ends: Vec::with_capacity(terms),
            arena: Vec::with_capacity(terms * 8),
        }
    }

    /// Forgets every term, keeping the memory (table and arena) for reuse.
    pub(crate) fn clear(&mut self) {
        self.slots.fill(Slot::default());
        self.ends.clear();
        self.arena.clear();
    }

    /// The number of distinct terms.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// The bytes of term `id`.
    #[inline]
    pub(crate) fn get(&self, id: u32) -> &[u8] {
        let id = id as usize;
        let start = if id == 0 { 0 } else { self.ends[id - 1] };
        &self.arena[start..self.ends[id]]
    }

    /// The term `id` as a string.
    pub(crate) fn get_str(&self, id: u32) -> &str {
        // SAFETY: terms enter only through `intern(&str)` and `merge` (the
        // terms of another interner), so every term's bytes are a whole `str`.
        unsafe { std::str::from_utf8_unchecked(self.get(id)) }
    }

    /// Interns every term of `other`; returns the id here of each of its ids.
    ///
    /// A merged table is larger than a core's cache, so each look-up would
    /// wait on memory: the slot of the term [`MERGE_AHEAD`] places ahead is
    /// prefetched, and the waits overlap.
    pub(crate) fn merge(&mut self, other: &Interner) -> Vec<u32> {
        let n = other.len() as u32;
        (0..n)
            .map(|id| {
                if id + MERGE_AHEAD < n {
                    self.prefetch(other.get(id + MERGE_AHEAD));
                }
                self.intern_bytes(other.get(id))
            })
            .collect()
    }

    /// Hints the CPU to fetch the first slot `bytes` would probe.
    #[inline(always)]
    fn prefetch(&self, bytes: &[u8]) {
        #[cfg(target_arch = "x86_64")]
        {
            let at = (spread(key(bytes), bytes.len()) >> self.shift) as usize;
            let slot: *const Slot = &self.slots[at];
            // SAFETY: a prefetch has no effect on memory or on program
            // semantics; the address is that of a valid slot anyway.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    slot.cast::<i8>(),
                );
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = bytes;
    }

    /// All terms in id order.
    pub(crate) fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len() as u32).map(|id| self.get_str(id))
    }

    /// The slot holding `bytes`, or the empty slot where it would go.
    #[inline(always)]
    fn probe(&self, bytes: &[u8], key: u64) -> usize {
        let len = bytes.len() as u64;
        let mask = self.slots.len() - 1;
        let mut at = (spread(key, bytes.len()) >> self.shift) as usize;
        loop {
            let slot = self.slots[at];
            if slot.meta == 0 {
                return at;
            }
            if slot.key == key && slot.meta >> 32 == len {
                let id = (slot.meta as u32) - 1;
                if len <= 8 || self.get(id) == bytes {
                    return at;
                }
            }
            at = (at + 1) & mask;
        }
    }

    /// The id of `term`, adding it when new.
    #[inline(always)]
    pub(crate) fn intern(&mut self, term: &str) -> u32 {
        self.intern_bytes(term.as_bytes())
    }

    /// `intern` for the bytes of a `str` (see [`Interner::get_str`]).
    #[inline(always)]
    fn intern_bytes(&mut self, bytes: &[u8]) -> u32 {
        let key = key(bytes);
        let at = self.probe(bytes, key);
        let meta = self.slots[at].meta;
        if meta != 0 {
            return (meta as u32) - 1;
        }
        let id = self.ends.len() as u32;
        self.arena.extend_from_slice(bytes);
        self.ends.push(self.arena.len());
        self.slots[at] = Slot {
            key,
            meta: ((bytes.len() as u64) << 32) | u64::from(id + 1),
        };
        if self.ends.len() * 4 > self.slots.len() * 3 {
            self.grow();
        }
        id
    }

    /// The id of `term`, if interned.
    pub(crate) fn find(&self, term: &str) -> Option<u32> {
        let bytes = term.as_bytes();
        let meta = self.slots[self.probe(bytes, key(bytes))].meta;
        (meta != 0).then(|| (meta as u32) - 1)
    }

    /// Doubles the table (load factor at most three quarters).
    fn grow(&mut self) {
        let size = self.slots.len() * 2;
        self.shift -= 1;
        let mask = size - 1;
        let mut slots = vec![Slot::default(); size];
        for old in &self.slots {
            if old.meta == 0 {
                continue;
            }
            let len = (old.meta >> 32) as usize;
            let mut at = (spread(old.key, len) >> self.shift) as usize;
            while slots[at].meta != 0 {
                at = (at + 1) & mask;
            }
            slots[at] = *old;
        }
        self.slots = slots;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_in_order_of_first_sight() {
        let mut t = Interner::with_capacity(1);
        // "ab" and "abb" share a key word: the length tells them apart.
        let words = [
            "b",
            "a",
            "",
            "b",
            "ab",
            "a",
            "été",
            "abcdefghi",
            "abcdefgh",
            "abb",
        ];
        let ids: Vec<u32> = words.iter().map(|w| t.intern(w)).collect();
        assert_eq!(ids, [0, 1, 2, 0, 3, 1, 4, 5, 6, 7]);
        assert_eq!(
            t.iter().collect::<Vec<_>>(),
            ["b", "a", "", "ab", "été", "abcdefghi", "abcdefgh", "abb"]
        );
        assert_eq!(t.find("ab"), Some(3));
        assert_eq!(t.find("abc"), None);
    }

    proptest! {
        #[test]
        fn agrees_with_a_hash_map(words in proptest::collection::vec("[a-e]{0,12}", 0..400)) {
            let mut t = Interner::with_capacity(4);
            let mut map = std::collections::HashMap::new();
            for w in &words {
                let next = map.len() as u32;
                let want = *map.entry(w.clone()).or_insert(next);
                prop_assert_eq!(t.intern(w), want);
            }
            prop_assert_eq!(t.len(), map.len());
            for (w, &id) in &map {
                prop_assert_eq!(t.get_str(id), w.as_str());
                prop_assert_eq!(t.find(w), Some(id));
            }
        }
    }
}
