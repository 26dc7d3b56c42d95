//! A term interner for the counting pass: each distinct term gets a dense id in
//! order of first sight, its bytes are stored once in one arena.
//!
//! Open addressing with linear probing over a power-of-two table of `u64`
//! slots (a 32-bit hash tag and the id), so that most probes touch one cache
//! line and compare bytes only on a tag match. Faster than a `HashMap<Box<str>,
//! u32>` on this workload: no allocation per term, no out-of-line `memcmp` for
//! the short keys, a hash made for short strings.

/// Multiplier of the hash (rustc-hash's): odd, with well-spread bits.
const K: u64 = 0xf135_7aea_2e62_a9c5;

/// A hash of `bytes`, fast for short keys: one to three loads, one multiply
/// per 8 bytes. Equal byte strings hash equally; nothing else is promised (the
/// table does not depend on the hash for correctness, only for speed).
#[inline]
pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
    let len = bytes.len();
    let mut h = (len as u64).wrapping_mul(K);
    if len <= 8 {
        let w = if len >= 4 {
            let lo = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            let t = len - 4;
            let hi = u32::from_le_bytes([bytes[t], bytes[t + 1], bytes[t + 2], bytes[t + 3]]);
            u64::from(lo) | (u64::from(hi) << 32)
        } else if len > 0 {
            u64::from(bytes[0])
                | (u64::from(bytes[len / 2]) << 8)
                | (u64::from(bytes[len - 1]) << 16)
        } else {
            0
        };
        h = (h ^ w).wrapping_mul(K);
    } else {
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
    }
    h
}

/// Distinct terms with dense ids, `0..len()` in order of first sight.
#[derive(Debug, Clone)]
pub(crate) struct Interner {
    /// `(tag << 32) | (id + 1)`, 0 for an empty slot.
    slots: Vec<u64>,
    /// `64 - log2(slots.len())`: the slot of a hash is its top bits.
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
            slots: vec![0; slots],
            shift: 64 - slots.trailing_zeros(),
            ends: Vec::with_capacity(terms),
            arena: Vec::with_capacity(terms * 8),
        }
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

    /// The term `id` as a string (terms are interned from `&str`).
    pub(crate) fn get_str(&self, id: u32) -> &str {
        std::str::from_utf8(self.get(id)).expect("terms are interned from str")
    }

    /// All terms in id order.
    pub(crate) fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len() as u32).map(|id| self.get_str(id))
    }

    /// The id of `term`, adding it when new.
    #[inline]
    pub(crate) fn intern(&mut self, term: &str) -> u32 {
        let bytes = term.as_bytes();
        let h = hash_bytes(bytes);
        let tag = (h as u32) ^ ((h >> 32) as u32);
        let mask = self.slots.len() - 1;
        let mut at = (h >> self.shift) as usize;
        loop {
            let slot = self.slots[at];
            if slot == 0 {
                break;
            }
            if (slot >> 32) as u32 == tag {
                let id = (slot as u32) - 1;
                if self.get(id) == bytes {
                    return id;
                }
            }
            at = (at + 1) & mask;
        }
        let id = self.ends.len() as u32;
        self.arena.extend_from_slice(bytes);
        self.ends.push(self.arena.len());
        self.slots[at] = (u64::from(tag) << 32) | u64::from(id + 1);
        if self.ends.len() * 2 > self.slots.len() {
            self.grow();
        }
        id
    }

    /// The id of `term`, if interned.
    pub(crate) fn find(&self, term: &str) -> Option<u32> {
        let bytes = term.as_bytes();
        let h = hash_bytes(bytes);
        let tag = (h as u32) ^ ((h >> 32) as u32);
        let mask = self.slots.len() - 1;
        let mut at = (h >> self.shift) as usize;
        loop {
            let slot = self.slots[at];
            if slot == 0 {
                return None;
            }
            if (slot >> 32) as u32 == tag {
                let id = (slot as u32) - 1;
                if self.get(id) == bytes {
                    return Some(id);
                }
            }
            at = (at + 1) & mask;
        }
    }

    /// Doubles the table (load factor at most one half).
    fn grow(&mut self) {
        let size = self.slots.len() * 2;
        self.shift -= 1;
        let mask = size - 1;
        let mut slots = vec![0u64; size];
        for id in 0..self.ends.len() as u32 {
            let h = hash_bytes(self.get(id));
            let tag = (h as u32) ^ ((h >> 32) as u32);
            let mut at = (h >> self.shift) as usize;
            while slots[at] != 0 {
                at = (at + 1) & mask;
            }
            slots[at] = (u64::from(tag) << 32) | u64::from(id + 1);
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
        let words = ["b", "a", "", "b", "ab", "a", "été", "abcdefghi", "abcdefgh"];
        let ids: Vec<u32> = words.iter().map(|w| t.intern(w)).collect();
        assert_eq!(ids, [0, 1, 2, 0, 3, 1, 4, 5, 6]);
        assert_eq!(
            t.iter().collect::<Vec<_>>(),
            ["b", "a", "", "ab", "été", "abcdefghi", "abcdefgh"]
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
