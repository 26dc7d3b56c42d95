//! Synthetic corpora: see [`GenerateParams`].

use std::path::Path;

use rayon::prelude::*;

use crate::corpus::{CorpusWriter, Manifest};
use crate::error::SparseError;

/// The shape and model of a synthetic corpus with planted topics and
/// Zipf-distributed term frequencies, of any shape, written straight to a
/// corpus directory.
///
/// The model, per document `i` (everything drawn from a generator seeded by
/// `(seed, i)` alone, so the output does not depend on the thread count):
///
/// - term `j` has the Zipf weight `z_j = 1 / (j + 1)^s` (term 0 is the most
///   frequent) and a *home topic* `home(j)`, a hash of `(seed, j)` modulo k;
/// - topic `t` draws a token from its own terms (`home(j) = t`, in proportion to
///   `z_j`) with probability `1 − background`, else from the whole vocabulary
///   (in proportion to `z_j`): the frequent words are shared, as in real text;
/// - the document has a dominant topic (its label) and a second one; a token
///   comes from the dominant topic with probability 0.8;
/// - tokens are drawn until the document holds its number of distinct terms
///   (the row lengths sum to exactly `nnz`, varying ±75 % around the mean in
///   pairs of rows); values are the token counts.
///
/// Rows are generated in parallel in chunks and written in order by a
/// [`CorpusWriter`], so memory is O(rows + terms + chunk), never O(nnz); the
/// transpose written at the end adds its bounded output buffer (see
/// [`write_transpose`](crate::write_transpose)).
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateParams {
    /// Documents (rows).
    pub docs: usize,
    /// Vocabulary size (columns).
    pub terms: usize,
    /// Stored entries, exactly (unless a row would need more terms than exist).
    pub nnz: u64,
    /// Planted topics.
    pub k: usize,
    /// Seed: the same parameters and seed give the same bytes.
    pub seed: u64,
    /// Zipf exponent `s` of the term weights. Default 1.0 (natural text).
    pub zipf_exponent: f64,
    /// Probability that a token is drawn from the whole vocabulary rather than
    /// its topic's own terms. Default 0.2.
    pub background: f64,
}

impl GenerateParams {
    /// A corpus of the given shape with `k` planted topics, seed 0, Zipf
    /// exponent 1 and background 0.2.
    pub fn new(docs: usize, terms: usize, nnz: u64, k: usize) -> Self {
        GenerateParams {
            docs,
            terms,
            nnz,
            k,
            seed: 0,
            zipf_exponent: 1.0,
            background: 0.2,
        }
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    fn check(&self, dir: &Path) -> Result<(), SparseError> {
        let bad = |message: String| SparseError::InvalidGenerate {
            path: dir.to_path_buf(),
            message,
        };
        if self.docs == 0 || self.terms == 0 || self.k == 0 {
            return Err(bad(format!(
                "documents ({}), terms ({}) and k ({}) must be positive",
                self.docs, self.terms, self.k
            )));
        }
        if self.nnz == 0 {
            return Err(bad(
                "nnz must be positive: a corpus without entries cannot be fitted".to_string(),
            ));
        }
        if self.k > self.terms {
            return Err(bad(format!(
                "k = {} exceeds the {} terms",
                self.k, self.terms
            )));
        }
        if self.terms as u64 > u64::from(u32::MAX) || self.docs as u64 >= u64::from(u32::MAX) {
            return Err(bad("more than 2^32 documents or terms".to_string()));
        }
        if self.nnz > self.docs as u64 * self.terms as u64 {
            return Err(bad(format!(
                "nnz = {} exceeds documents × terms = {}",
                self.nnz,
                self.docs as u64 * self.terms as u64
            )));
        }
        if !(self.zipf_exponent.is_finite() && self.zipf_exponent >= 0.0) {
            return Err(bad(format!(
                "Zipf exponent {} must be finite and ≥ 0",
                self.zipf_exponent
            )));
        }
        if !(0.0..=1.0).contains(&self.background) {
            return Err(bad(format!(
                "background {} must be in [0, 1]",
                self.background
            )));
        }
        Ok(())
    }

    /// The planted topic of term `j`.
    ///
    /// # Panics
    /// If `k` is 0: no topic to plant a term in ([`write`](Self::write)
    /// refuses such parameters).
    pub fn home_topic(&self, j: usize) -> usize {
        assert!(self.k > 0, "GenerateParams::home_topic: k is 0, no topics");
        (mix(self.seed ^ 0x5eed_7e4d_0000_0000 ^ j as u64) % self.k as u64) as usize
    }

    /// Topic `t`'s term distribution (sums to 1), as the generator draws from it.
    ///
    /// # Panics
    /// If `t` is not below `k` (so also if `k` is 0).
    pub fn topic_distribution(&self, t: usize) -> Vec<f64> {
        assert!(
            t < self.k,
            "GenerateParams::topic_distribution: topic {t} of {} topics",
            self.k
        );
        let z: Vec<f64> = (0..self.terms).map(|j| self.zipf(j)).collect();
        let total: f64 = z.iter().sum();
        let own: f64 = (0..self.terms)
            .filter(|&j| self.home_topic(j) == t)
            .map(|j| z[j])
            .sum();
        // A topic without terms of its own draws every token from the
        // whole vocabulary (see `Sampler::draw`).
        if own == 0.0 {
            return z.iter().map(|&zj| zj / total).collect();
        }
        (0..self.terms)
            .map(|j| {
                let mut p = self.background * z[j] / total;
                if self.home_topic(j) == t && own > 0.0 {
                    p += (1.0 - self.background) * z[j] / own;
                }
                p
            })
            .collect()
    }

    fn zipf(&self, j: usize) -> f64 {
        ((j + 1) as f64).powf(-self.zipf_exponent)
    }

    /// Number of distinct terms in row `i`: the exact share of `nnz`, moved by
    /// ±75 % in pairs of rows so that the sum stays exact.
    fn row_len(&self, i: usize) -> usize {
        let n = self.docs as u128;
        let share = |r: usize| -> i64 {
            let r = r as u128;
            (((r + 1) * self.nnz as u128 / n) - (r * self.nnz as u128 / n)) as i64
        };
        let pair = i & !1;
        let base = share(i);
        if pair + 1 >= self.docs {
            return base.clamp(0, self.terms as i64) as usize;
        }
        let room = share(pair).min(share(pair + 1)) * 3 / 4;
        let mut rng = Rng::new(self.seed ^ 0x1e4_0000_0000, pair as u64);
        let delta = if room > 0 {
            (rng.next() % (2 * room as u64 + 1)) as i64 - room
        } else {
            0
        };
        let len = if i == pair {
            base + delta
        } else {
            base - delta
        };
        len.clamp(0, self.terms as i64) as usize
    }

    /// Generates the corpus into `dir` (which must not exist, or be empty,
    /// unless `overwrite`; only a corpus directory is replaced, see
    /// [`CorpusWriter::check_target`]). Documents are `d<i>`, terms `t<j>`, and each
    /// document's label is its dominant topic, `topic<t>`.
    pub fn write(&self, dir: impl AsRef<Path>, overwrite: bool) -> Result<Manifest, SparseError> {
        let dir = dir.as_ref();
        self.check(dir)?;
        CorpusWriter::check_target(dir, overwrite)?;
        let sampler = Sampler::new(self);
        let mut writer = CorpusWriter::create(dir, self.terms)?.overwrite(overwrite);
        let mut labels: Vec<u32> = Vec::with_capacity(self.docs);
        const CHUNK: usize = 8192;
        let mut start = 0;
        while start < self.docs {
            let end = (start + CHUNK).min(self.docs);
            let rows: Vec<(u32, Vec<u32>, Vec<f32>)> = (start..end)
                .into_par_iter()
                .map_init(
                    || Scratch::new(self.terms),
                    |scratch, i| sampler.row(self, i, scratch),
                )
                .collect();
            for (label, idx, val) in rows {
                writer.push_row(&idx, &val)?;
                labels.push(label);
            }
            start = end;
        }
        let vocabulary: Vec<String> = (0..self.terms).map(|j| format!("t{j}")).collect();
        let doc_ids: Vec<String> = (0..self.docs).map(|i| format!("d{i}")).collect();
        let names: Vec<String> = (0..self.k).map(|t| format!("topic{t}")).collect();
        let labels: Vec<&str> = labels.iter().map(|&t| names[t as usize].as_str()).collect();
        let doc_ids: Vec<&str> = doc_ids.iter().map(String::as_str).collect();
        let vocabulary: Vec<&str> = vocabulary.iter().map(String::as_str).collect();
        let extra = serde_json::json!({
            "generated": {
                "docs": self.docs,
                "terms": self.terms,
                "nnz": self.nnz,
                "k": self.k,
                "seed": self.seed,
                "zipf_exponent": self.zipf_exponent,
                "background": self.background,
            }
        });
        writer.finish(&vocabulary, &doc_ids, Some(&labels), extra)
    }
}

/// Cumulative weights for inverse-CDF draws: the whole vocabulary, and each
/// topic's own terms (one array, topic by topic).
struct Sampler {
    all: Vec<f64>,
    own_terms: Vec<u32>,
    own_cdf: Vec<f64>,
    /// `own_terms[starts[t]..starts[t + 1]]` are topic t's terms.
    starts: Vec<usize>,
}

impl Sampler {
    fn new(p: &GenerateParams) -> Self {
        let mut all = Vec::with_capacity(p.terms);
        let mut acc = 0.0;
        for j in 0..p.terms {
            acc += p.zipf(j);
            all.push(acc);
        }
        let homes: Vec<usize> = (0..p.terms).map(|j| p.home_topic(j)).collect();
        let mut starts = vec![0usize; p.k + 1];
        for &h in &homes {
            starts[h + 1] += 1;
        }
        for t in 0..p.k {
            starts[t + 1] += starts[t];
        }
        let mut cursor = starts.clone();
        let mut own_terms = vec![0u32; p.terms];
        for (j, &h) in homes.iter().enumerate() {
            own_terms[cursor[h]] = j as u32;
            cursor[h] += 1;
        }
        let mut own_cdf = vec![0.0; p.terms];
        for t in 0..p.k {
            let mut acc = 0.0;
            for s in starts[t]..starts[t + 1] {
                acc += p.zipf(own_terms[s] as usize);
                own_cdf[s] = acc;
            }
        }
        Sampler {
            all,
            own_terms,
            own_cdf,
            starts,
        }
    }

    /// A term of topic `t`.
    fn draw(&self, p: &GenerateParams, t: usize, rng: &mut Rng) -> u32 {
        let (lo, hi) = (self.starts[t], self.starts[t + 1]);
        if hi == lo || rng.unit() < p.background {
            let u = rng.unit() * self.all[self.all.len() - 1];
            return self
                .all
                .partition_point(|&c| c <= u)
                .min(self.all.len() - 1) as u32;
        }
        let cdf = &self.own_cdf[lo..hi];
        let u = rng.unit() * cdf[cdf.len() - 1];
        let s = cdf.partition_point(|&c| c <= u).min(cdf.len() - 1);
        self.own_terms[lo + s]
    }

    /// Row `i`: its dominant topic, sorted term indices and counts.
    fn row(
        &self,
        p: &GenerateParams,
        i: usize,
        scratch: &mut Scratch,
    ) -> (u32, Vec<u32>, Vec<f32>) {
        let len = p.row_len(i);
        let mut rng = Rng::new(p.seed, i as u64);
        let dominant = (rng.next() % p.k as u64) as usize;
        let second = (rng.next() % p.k as u64) as usize;
        scratch.stamp += 1;
        let stamp = scratch.stamp;
        let mut terms: Vec<u32> = Vec::with_capacity(len);
        // A Zipf head makes the last distinct terms of a long row slow to find:
        // after this many draws the row is completed from the rarest unused terms
        // of its dominant topic, then of the whole vocabulary.
        let budget = 64 * len + 1024;
        let mut draws = 0;
        while terms.len() < len && draws < budget {
            draws += 1;
            let t = if rng.unit() < 0.8 { dominant } else { second };
            let j = self.draw(p, t, &mut rng);
            let slot = &mut scratch.seen[j as usize];
            if *slot == stamp {
                scratch.count[j as usize] += 1;
            } else {
                *slot = stamp;
                scratch.count[j as usize] = 1;
                terms.push(j);
            }
        }
        let own = &self.own_terms[self.starts[dominant]..self.starts[dominant + 1]];
        let mut fill = own.iter().rev().copied().chain((0..p.terms as u32).rev());
        while terms.len() < len {
            let j = fill.next().expect("len ≤ terms");
            if scratch.seen[j as usize] != stamp {
                scratch.seen[j as usize] = stamp;
                scratch.count[j as usize] = 1;
                terms.push(j);
            }
        }
        terms.sort_unstable();
        let values = terms
            .iter()
            .map(|&j| scratch.count[j as usize] as f32)
            .collect();
        (dominant as u32, terms, values)
    }
}

/// Per-thread marks of the terms already in the current row (O(terms), reused).
struct Scratch {
    stamp: u32,
    seen: Vec<u32>,
    count: Vec<u32>,
}

impl Scratch {
    fn new(terms: usize) -> Self {
        Scratch {
            stamp: 0,
            seen: vec![0; terms],
            count: vec![0; terms],
        }
    }
}

/// SplitMix64 finalizer: a well-mixed 64-bit hash.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// xoshiro256++, seeded from `(seed, stream)` by SplitMix64. Written out here
/// (rather than taken from `rand`) so that a seed's corpus never changes with a
/// dependency upgrade.
struct Rng([u64; 4]);

impl Rng {
    fn new(seed: u64, stream: u64) -> Self {
        let mut z = mix(seed) ^ stream.wrapping_mul(0xd134_2543_de82_ef95);
        let mut s = [0u64; 4];
        for v in &mut s {
            z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
            *v = mix(z);
        }
        Rng(s)
    }

    fn next(&mut self) -> u64 {
        let s = &mut self.0;
        let result = (s[0].wrapping_add(s[3])).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Corpus;
    use std::fs;

    #[test]
    fn shape_nnz_and_labels_are_exact() {
        let dir = tempfile::tempdir().unwrap();
        let p = GenerateParams::new(301, 500, 9_001, 5).seed(3);
        let m = p.write(dir.path().join("c"), false).unwrap();
        assert_eq!((m.nrows, m.ncols, m.nnz), (301, 500, 9_001));
        let c = Corpus::open(dir.path().join("c")).unwrap();
        c.verify().unwrap();
        assert_eq!(c.labels().unwrap().len(), 301);
        assert!(c.labels().unwrap().iter().all(|l| l.starts_with("topic")));
        // Values are counts ≥ 1.
        assert!(c
            .matrix()
            .data()
            .iter()
            .all(|&v| v >= 1.0 && v.fract() == 0.0));
    }

    #[test]
    fn same_seed_same_bytes_whatever_the_thread_count() {
        let dir = tempfile::tempdir().unwrap();
        let p = GenerateParams::new(20_000, 3_000, 400_000, 7).seed(11);
        let run = |threads: usize, name: &str| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| p.write(dir.path().join(name), false))
                .unwrap();
            std::fs::read(dir.path().join(name).join("matrix.csr")).unwrap()
        };
        let one = run(1, "one");
        assert_eq!(one, run(2, "two"));
        let other = GenerateParams {
            seed: 12,
            ..p.clone()
        };
        other.write(dir.path().join("other"), false).unwrap();
        assert_ne!(
            one,
            std::fs::read(dir.path().join("other/matrix.csr")).unwrap()
        );
    }

    #[test]
    fn term_frequencies_follow_the_zipf_weights() {
        let dir = tempfile::tempdir().unwrap();
        let p = GenerateParams::new(2_000, 1_000, 60_000, 4);
        p.write(dir.path().join("c"), false).unwrap();
        let c = Corpus::open(dir.path().join("c")).unwrap();
        let xt = c.transpose();
        let df = |j: usize| xt.outer_view(j).unwrap().nnz();
        // Document frequency falls with the rank: the head is far above the tail.
        assert!(df(0) > df(10) && df(10) > df(100) && df(100) > df(900));
        assert!(df(0) > 1_000, "term 0 is in most documents: {}", df(0));
    }

    #[test]
    fn planted_distributions_sum_to_one() {
        let p = GenerateParams::new(10, 50, 100, 3);
        for t in 0..3 {
            let s: f64 = p.topic_distribution(t).iter().sum();
            assert!((s - 1.0).abs() < 1e-12, "{s}");
        }
    }

    /// A topic that no term calls home draws every token from the whole
    /// vocabulary: its distribution is the Zipf weights alone, summing to
    /// 1 (it summed to `background`).
    #[test]
    fn a_topic_without_terms_draws_from_the_whole_vocabulary() {
        let p = (0..64)
            .map(|seed| GenerateParams::new(10, 3, 10, 3).seed(seed))
            .find(|p| (0..3).any(|j| p.home_topic(j) == 0) && (0..3).all(|j| p.home_topic(j) != 2))
            .expect("a seed leaving topic 2 without terms");
        let z = [1.0, 0.5, 1.0 / 3.0];
        let total: f64 = z.iter().sum();
        let d = p.topic_distribution(2);
        for (j, (&dj, &zj)) in d.iter().zip(&z).enumerate() {
            assert!((dj - zj / total).abs() < 1e-15, "term {j}: {d:?}");
        }
    }

    /// Topics are asked for below k: the QA's `home_topic` with k = 0 was a
    /// remainder by zero, `topic_distribution(k)` summed to `background`.
    #[test]
    fn topics_beyond_k_are_a_documented_panic() {
        let message = |f: &dyn Fn()| -> String {
            let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_err();
            match payload.downcast::<String>() {
                Ok(s) => *s,
                Err(p) => p.downcast::<&str>().unwrap().to_string(),
            }
        };
        let msg = message(&|| {
            GenerateParams::new(3, 3, 3, 0).home_topic(1);
        });
        assert!(msg.contains("k is 0"), "{msg}");
        let msg = message(&|| {
            GenerateParams::new(3, 3, 3, 2).topic_distribution(2);
        });
        assert!(msg.contains("topic 2 of 2 topics"), "{msg}");
    }

    #[test]
    fn bad_shapes_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        for (p, what) in [
            (GenerateParams::new(0, 10, 0, 1), "must be positive"),
            (GenerateParams::new(10, 10, 0, 2), "nnz must be positive"),
            (GenerateParams::new(10, 10, 5, 11), "exceeds the 10 terms"),
            (
                GenerateParams::new(10, 10, 101, 2),
                "exceeds documents × terms",
            ),
        ] {
            let err = p.write(dir.path().join("c"), false).unwrap_err();
            assert!(err.to_string().contains(what), "{err}");
        }
        assert!(!dir.path().join("c").exists());
    }

    /// `overwrite` replaces a corpus, and nothing else: refused before
    /// any row is generated, and the directory is left as it was.
    #[test]
    fn overwrite_replaces_only_a_corpus() {
        let dir = tempfile::tempdir().unwrap();
        let p = GenerateParams::new(20, 30, 100, 2);
        let target = dir.path().join("c");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("thesis.tex"), "x").unwrap();
        let err = p.write(&target, true).unwrap_err();
        assert!(matches!(err, SparseError::NotACorpus { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "{}: exists and is not a corpus directory: refusing to replace it",
                target.display()
            )
        );
        let err = p.write(&target, false).unwrap_err();
        assert!(matches!(err, SparseError::AlreadyExists { .. }), "{err:?}");
        let file = dir.path().join("plain");
        fs::write(&file, "x").unwrap();
        let err = p.write(&file, true).unwrap_err();
        assert!(matches!(err, SparseError::NotACorpus { .. }), "{err:?}");
        assert_eq!(fs::read_to_string(&file).unwrap(), "x");
        assert_eq!(fs::read_to_string(target.join("thesis.tex")).unwrap(), "x");
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["c", "plain"]);
        // A corpus is replaced.
        let corpus = dir.path().join("corpus");
        p.write(&corpus, false).unwrap();
        p.clone().seed(1).write(&corpus, true).unwrap();
        assert_eq!(
            Corpus::open(&corpus).unwrap().manifest().extra["generated"]["seed"],
            1
        );
    }
}
