//! The fitted model: H, W of the fitted documents, history; `transform`;
//! persistence.

use std::io::{Read, Write};
use std::ops::Range;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use topicmill_sparse::CsrView;

use crate::column_tiles::{by_tiles, ColumnTiles};
use crate::error::{NmfError, Result};
use crate::fit::{check_finite, frob_err, kl_err};
use crate::kernel::{self, flush, gram, gram_partials_len, mu_row, Blocks, Csr, RowsPtr};
use crate::params::{exponent_for, factor_exponent, times_pow2, Loss, NmfParams, Reg};

/// Why the fit loop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopReason {
    /// `max_iter` iterations ran.
    MaxIter,
    /// The relative loss decrease fell below `tol`.
    Converged,
    /// The time budget was used up.
    TimeBudget,
    /// The callback asked to stop.
    Callback,
}

/// A fitted NMF model, X ≈ W·H.
///
/// H is stored transposed: `ht()` is Hᵀ, m × k row-major (term j's topic
/// weights are `ht[j*k .. j*k+k]`). W is n × k row-major.
///
/// Every way to make one checks it as [`NmfModel::load`] does (shapes,
/// parameters, finite non-negative factors and errors): `fit`,
/// [`NmfModel::from_parts`], `load`, and serde's `Deserialize` (through the
/// same checks, [`NmfError::InvalidModel`] as its error), so that `save`
/// never writes what `load` refuses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "UncheckedModel")]
pub struct NmfModel {
    // The order of the fields is the file format's: the loader reads it as
    // `BeforeW`, W, `AfterW` (so that W can be read past), which repeat it.
    params: NmfParams,
    n_docs: usize,
    n_features: usize,
    w: Vec<f32>,
    ht: Vec<f32>,
    history: Vec<(usize, f64)>,
    iterations: usize,
    stop: StopReason,
    reconstruction_err: f64,
    vocabulary: Option<Vec<String>>,
    /// Saved after the rest (format version 2), so that a version-1 payload
    /// is the rest alone.
    #[serde(skip)]
    vectorizer: Option<VectorizerRecord>,
}

/// [`NmfModel`]'s fields as serde reads them, unchecked: its
/// `Deserialize` reads these, then checks them ([`NmfModel::checked`]).
#[derive(Deserialize)]
struct UncheckedModel {
    params: NmfParams,
    n_docs: usize,
    n_features: usize,
    w: Vec<f32>,
    ht: Vec<f32>,
    history: Vec<(usize, f64)>,
    iterations: usize,
    stop: StopReason,
    reconstruction_err: f64,
    vocabulary: Option<Vec<String>>,
}

impl TryFrom<UncheckedModel> for NmfModel {
    type Error = NmfError;
    fn try_from(u: UncheckedModel) -> Result<Self> {
        let w_len = u.w.len() as u64;
        let model = NmfModel {
            params: u.params,
            n_docs: u.n_docs,
            n_features: u.n_features,
            w: u.w,
            ht: u.ht,
            history: u.history,
            iterations: u.iterations,
            stop: u.stop,
            reconstruction_err: u.reconstruction_err,
            vocabulary: u.vocabulary,
            vectorizer: None,
        };
        model.checked(w_len).map_err(NmfError::InvalidModel)?;
        Ok(model)
    }
}

/// The fields of a saved [`NmfModel`] before W, in its order.
#[derive(Deserialize)]
struct BeforeW {
    params: NmfParams,
    n_docs: usize,
    n_features: usize,
}

/// The fields of a saved [`NmfModel`] after W, in its order.
#[derive(Deserialize)]
struct AfterW {
    ht: Vec<f32>,
    history: Vec<(usize, f64)>,
    iterations: usize,
    stop: StopReason,
    reconstruction_err: f64,
    #[serde(deserialize_with = "decode_terms")]
    vocabulary: Option<Vec<String>>,
}

/// A saved [`VectorizerRecord`], its text read by [`decode_text`].
#[derive(Deserialize)]
struct SavedRecord {
    #[serde(deserialize_with = "decode_text")]
    options: String,
    document_frequencies: Vec<u64>,
}

/// A text value read as the list of bytes bincode encodes it as (a length,
/// then the bytes), rather than as a `String`: bincode allocates a string's
/// declared length before reading it, so a damaged length (up to 2^64) in a
/// file aborted the process; a list grows as its bytes are read, and a
/// length beyond the payload is the payload's end. `what` names the value
/// when it is not UTF-8.
fn decode_text_as<'de, D: serde::Deserializer<'de>>(
    d: D,
    what: &str,
) -> std::result::Result<String, D::Error> {
    let bytes = <Vec<u8>>::deserialize(d)?;
    String::from_utf8(bytes).map_err(|e| {
        serde::de::Error::custom(format!(
            "a text value ({what}) is not UTF-8: {}",
            e.utf8_error()
        ))
    })
}

/// The vectorizer record's options, read by [`decode_text_as`].
fn decode_text<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    decode_text_as(d, "the vectorizer's options")
}

/// The vocabulary, each term read by [`decode_text_as`].
fn decode_terms<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Vec<String>>, D::Error> {
    struct Term(String);
    impl<'de> Deserialize<'de> for Term {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            decode_text_as(d, "a vocabulary term").map(Term)
        }
    }
    let terms: Option<Vec<Term>> = Option::deserialize(d)?;
    Ok(terms.map(|t| t.into_iter().map(|Term(s)| s).collect()))
}

/// What a model records of the vectorizer that made the matrix it was fitted
/// on, so that new documents can be vectorized with the model alone (the
/// CLI's `vectorize --vectorizer-from MODEL`). The model only keeps it: the
/// options are the vectorizer's own serialization, opaque here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VectorizerRecord {
    /// The vectorizer's options, as its caller serialized them (JSON, for
    /// the CLI).
    pub options: String,
    /// Per term (column of X): how many of the fitted documents hold it.
    pub document_frequencies: Vec<u64>,
}

/// Magic bytes at the start of a saved model.
const MAGIC: &[u8; 8] = b"TMNMFMDL";
/// Format version written by this build. `load` also reads version 2, the
/// same without the checksum, and version 1, the same as 2 without the
/// vectorizer record.
pub const MODEL_FORMAT_VERSION: u32 = 3;
/// The header's bytes: magic, version, payload length.
const HEADER_LEN: u64 = 20;
/// The checksum's bytes, after the payload (from version 3).
const CHECKSUM_LEN: u64 = 4;

impl NmfModel {
    /// Assembles a model from its factors (`fit`, and the distributed fit of
    /// `topicmill-mpi`): W is `n_docs × k` and Hᵀ is `n_features × k`,
    /// row-major; `history` holds `(iteration, error)` pairs as
    /// [`NmfModel::loss_history`] does.
    ///
    /// # Errors
    /// [`NmfError::InvalidModel`] for what [`NmfModel::load`] would refuse
    /// in a file: factor lengths that do not match the shape (or k = 0),
    /// invalid parameters ([`NmfParams::validate`]), a factor entry or a
    /// recorded error that is not a finite number ≥ 0.
    #[allow(clippy::too_many_arguments)]
    pub fn from_parts(
        params: NmfParams,
        n_docs: usize,
        n_features: usize,
        w: Vec<f32>,
        ht: Vec<f32>,
        history: Vec<(usize, f64)>,
        iterations: usize,
        stop: StopReason,
        reconstruction_err: f64,
    ) -> Result<Self> {
        let w_len = w.len() as u64;
        let model = NmfModel {
            params,
            n_docs,
            n_features,
            w,
            ht,
            history,
            iterations,
            stop,
            reconstruction_err,
            vocabulary: None,
            vectorizer: None,
        };
        model.checked(w_len).map_err(NmfError::InvalidModel)?;
        Ok(model)
    }

    /// Number of components k.
    pub fn k(&self) -> usize {
        self.params.k
    }
    /// Number of terms m.
    pub fn n_features(&self) -> usize {
        self.n_features
    }
    /// Number of fitted documents n.
    pub fn n_docs(&self) -> usize {
        self.n_docs
    }
    /// Hᵀ, m × k row-major.
    pub fn ht(&self) -> &[f32] {
        &self.ht
    }
    /// H, k × m row-major (a copy).
    pub fn h(&self) -> Vec<f32> {
        let (k, m) = (self.k(), self.n_features);
        let mut h = vec![0f32; k * m];
        for j in 0..m {
            for t in 0..k {
                h[t * m + j] = self.ht[j * k + t];
            }
        }
        h
    }
    /// W of the fitted documents, n × k row-major; equal to `transform` of them.
    ///
    /// # Panics
    /// If the model was loaded by [`NmfModel::load_without_w`].
    pub fn w(&self) -> &[f32] {
        assert!(
            self.has_w(),
            "W was not loaded (the model comes from NmfModel::load_without_w)"
        );
        &self.w
    }

    /// Whether W is here: false for a model from [`NmfModel::load_without_w`],
    /// whose W is empty (a model has at least one document).
    pub fn has_w(&self) -> bool {
        self.w.len() == self.n_docs * self.params.k
    }
    /// `(iteration, error)` pairs; iteration 0 is the initialization. The
    /// error is scikit-learn's `reconstruction_err_` measure: `‖X − WH‖_F`,
    /// or `sqrt(2·D_KL(X‖WH))` for the KL loss (no regularization terms).
    pub fn loss_history(&self) -> &[(usize, f64)] {
        &self.history
    }
    /// Iterations of the fit loop that ran.
    pub fn iterations(&self) -> usize {
        self.iterations
    }
    /// Why the fit loop stopped.
    pub fn stop_reason(&self) -> StopReason {
        self.stop
    }
    /// The error (same measure as the history) of the returned W and H.
    pub fn reconstruction_err(&self) -> f64 {
        self.reconstruction_err
    }
    /// The parameters used.
    pub fn params(&self) -> &NmfParams {
        &self.params
    }
    /// The terms the columns of H refer to, in column order, when the caller
    /// attached them: a saved model then names its topics' words on its own.
    pub fn vocabulary(&self) -> Option<&[String]> {
        self.vocabulary.as_deref()
    }
    /// Attaches the vocabulary (one term per column of X).
    ///
    /// # Panics
    /// If its length is not the model's number of features: a vocabulary of
    /// another corpus is a caller's bug, not a user error.
    pub fn set_vocabulary(&mut self, vocabulary: Option<Vec<String>>) {
        if let Some(terms) = &vocabulary {
            assert_eq!(
                terms.len(),
                self.n_features,
                "vocabulary size is not the model's number of features"
            );
        }
        self.vocabulary = vocabulary;
    }
    /// The vectorizer of the fitted matrix, when the caller attached it.
    pub fn vectorizer(&self) -> Option<&VectorizerRecord> {
        self.vectorizer.as_ref()
    }
    /// Attaches the vectorizer of the fitted matrix.
    ///
    /// # Panics
    /// If it does not give one document frequency per feature, each at most
    /// the number of fitted documents: a record of another corpus is a
    /// caller's bug.
    pub fn set_vectorizer(&mut self, vectorizer: Option<VectorizerRecord>) {
        if let Some(record) = &vectorizer {
            assert!(
                self.vectorizer_fits(record),
                "the vectorizer's document frequencies do not fit the model's shape"
            );
        }
        self.vectorizer = vectorizer;
    }
    fn vectorizer_fits(&self, record: &VectorizerRecord) -> bool {
        record.document_frequencies.len() == self.n_features
            && record
                .document_frequencies
                .iter()
                .all(|&df| df <= self.n_docs as u64)
    }

    /// Renumbers the topics: new topic `t` is old topic `order[t]` (columns of
    /// W and of Hᵀ move together; the fit itself is unchanged). Used to keep a
    /// topic's id from one run to the next.
    ///
    /// # Panics
    /// If `order` is not a permutation of `0..k`.
    pub fn permute_topics(&mut self, order: &[usize]) {
        let k = self.k();
        let mut seen = vec![false; k];
        assert_eq!(order.len(), k, "a topic order lists every topic once");
        for &t in order {
            assert!(t < k && !seen[t], "a topic order lists every topic once");
            seen[t] = true;
        }
        for factor in [&mut self.w, &mut self.ht] {
            let mut row = vec![0.0f32; k];
            for chunk in factor.chunks_exact_mut(k) {
                for (slot, &from) in row.iter_mut().zip(order) {
                    *slot = chunk[from];
                }
                chunk.copy_from_slice(&row);
            }
        }
    }

    /// W for new documents (rows of `x`, with the model's m terms), H fixed.
    ///
    /// Each document is solved on its own, so a document's row does not
    /// depend on the other rows given: Frobenius loss, any solver: coordinate
    /// descent (the HALS row rule, scikit-learn's `cd` update) on the convex
    /// problem `min_w ½‖x − wH‖² + reg`; KL loss: MU rows. A row starts at the
    /// constant vector of the best single scale (`w = c·1`) and stops when no
    /// entry moved by more than `transform_tol · max(w)`, or after
    /// `transform_max_iter` sweeps. `fit` computes its W the same way.
    ///
    /// X and H whose largest values lie outside `[2^-16, 2^40]` are solved
    /// multiplied by powers of two, W scaled back; a W that f32 cannot hold
    /// (new documents far larger than the model's) is
    /// [`NmfError::NonFiniteResult`].
    ///
    /// `x` must be CSR storage ([`NmfError::NotCsr`] for a `transpose_view()`).
    pub fn transform(&self, x: &CsrView<'_>) -> Result<Vec<f32>> {
        crate::checks::csr_storage(x, "the documents")?;
        if x.cols() != self.n_features {
            return Err(NmfError::FeatureMismatch {
                expected: self.n_features,
                got: x.cols(),
            });
        }
        let d = exponent_for(crate::params::check_values(x)? as f64);
        transform_at(&self.params, &self.ht, x, d)
    }

    /// Writes the model: magic, format version (u32 LE), payload length
    /// (u64 LE), then the bincode-2 (serde) payload: the model, then its
    /// vectorizer record (an `Option`); last the CRC-32 (`crc32fast`, the
    /// matrix files' checksum) of every byte before it (u32 LE).
    ///
    /// The payload is encoded twice, once to count its bytes (the length
    /// comes first) and once into `out`, rather than into a copy in memory:
    /// give a buffered writer.
    ///
    /// # Panics
    /// If the model was loaded by [`NmfModel::load_without_w`] (it has no W
    /// to save).
    pub fn save<W: Write>(&self, out: W) -> Result<()> {
        assert!(self.has_w(), "a model loaded without W cannot be saved");
        let len = self.encode_payload(&mut std::io::sink())?;
        let mut out = Summed {
            inner: out,
            crc: crc32fast::Hasher::new(),
        };
        out.write_all(MAGIC)?;
        out.write_all(&MODEL_FORMAT_VERSION.to_le_bytes())?;
        out.write_all(&(len as u64).to_le_bytes())?;
        self.encode_payload(&mut out)?;
        let crc = out.crc.clone().finalize();
        out.write_all(&crc.to_le_bytes())?;
        out.flush()?;
        Ok(())
    }

    /// Writes the payload (the model, then its vectorizer record) into
    /// `out`; returns its length in bytes.
    fn encode_payload<W: Write>(&self, out: &mut W) -> Result<usize> {
        let config = bincode::config::standard();
        let encode = |e: bincode::error::EncodeError| match e {
            bincode::error::EncodeError::Io { inner, .. } => NmfError::from(inner),
            e => NmfError::Corrupt(e.to_string()),
        };
        let model = bincode::serde::encode_into_std_write(self, out, config).map_err(encode)?;
        let record =
            bincode::serde::encode_into_std_write(&self.vectorizer, out, config).map_err(encode)?;
        Ok(model + record)
    }

    /// Reads a model written by [`NmfModel::save`], of this format version,
    /// version 2 (no checksum) or version 1 (no checksum, no vectorizer
    /// record), checking in order: magic, version, header length, payload
    /// length, checksum, payload, that nothing follows, consistency of the
    /// shapes and values.
    pub fn load<R: Read>(input: R) -> Result<Self> {
        Self::load_with(input, true)
    }

    /// [`NmfModel::load`] without W, for what needs H alone (the top words,
    /// `transform`, the vectorizer record): W's bytes are read past, not
    /// decoded or checked, and [`NmfModel::w`] panics. W is most of a large
    /// fit's file (n × k values against m × k for H).
    pub fn load_without_w<R: Read>(input: R) -> Result<Self> {
        Self::load_with(input, false)
    }

    fn load_with<R: Read>(mut input: R, with_w: bool) -> Result<Self> {
        let mut header = [0u8; HEADER_LEN as usize];
        let got = read_up_to(&mut input, &mut header[..8])?;
        if got < 8 || &header[..8] != MAGIC {
            return Err(NmfError::NotAModel);
        }
        let got = 8 + read_up_to(&mut input, &mut header[8..12])?;
        let version = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
        if got == 12 && !(1..=MODEL_FORMAT_VERSION).contains(&version) {
            return Err(NmfError::UnsupportedVersion {
                found: version,
                supported: MODEL_FORMAT_VERSION,
            });
        }
        let got = got + read_up_to(&mut input, &mut header[got..])?;
        if got < header.len() {
            return Err(NmfError::TruncatedHeader { found: got as u64 });
        }
        let len = u64::from_le_bytes(header[12..20].try_into().expect("8 bytes"));
        // Decoded as it is read: no copy of the payload in memory beside the
        // model (a model's W alone can take gigabytes). The checksum is
        // summed on the way, over every byte read.
        let mut crc = crc32fast::Hasher::new();
        crc.update(&header);
        let mut counted = Counted {
            inner: input.by_ref().take(len),
            read: 0,
            crc,
        };
        // Buffered here, so that the decoder's many small reads do not each
        // go through the counting, the checksum and the length limit.
        let mut payload = std::io::BufReader::with_capacity(1 << 16, &mut counted);
        let decoded = decode_payload(&mut payload, version, with_w);
        // Where the decoder stopped: what it took of the buffer.
        let stopped = HEADER_LEN + payload.get_ref().read - payload.buffer().len() as u64;
        // The rest of the declared payload: nothing, unless damaged.
        let rest = std::io::copy(&mut payload, &mut std::io::sink())?;
        drop(payload);
        if counted.read < len {
            return Err(NmfError::Truncated {
                expected: len,
                found: counted.read,
            });
        }
        let computed = counted.crc.finalize();
        let payload_end = HEADER_LEN + len;
        let mut end = payload_end;
        if version >= 3 {
            // Any damage to the bytes is reported as such, before what the
            // damage made of the decoding.
            let mut footer = [0u8; CHECKSUM_LEN as usize];
            let got = read_up_to(&mut input, &mut footer)?;
            if got < footer.len() {
                return Err(NmfError::TruncatedChecksum {
                    offset: end,
                    found: got as u64,
                });
            }
            let stored = u32::from_le_bytes(footer);
            if stored != computed {
                return Err(NmfError::ChecksumMismatch {
                    offset: end,
                    stored,
                    computed,
                });
            }
            end += CHECKSUM_LEN;
        }
        let (model, w_len) = decoded.map_err(|e| match e {
            NmfError::Corrupt(what) => {
                NmfError::Corrupt(format!("at byte offset {stopped}: {what}"))
            }
            e => e,
        })?;
        if rest > 0 {
            return Err(NmfError::Corrupt(format!(
                "{rest} bytes after the model at byte offset {}, inside the declared payload",
                payload_end - rest
            )));
        }
        let mut one = [0u8; 1];
        if read_up_to(&mut input, &mut one)? > 0 {
            let count = 1 + std::io::copy(&mut input, &mut std::io::sink())?;
            return Err(NmfError::TrailingBytes { offset: end, count });
        }
        model.checked(w_len).map_err(NmfError::Corrupt)?;
        Ok(model)
    }

    /// What decoding alone cannot vouch for, checked by every way to make a
    /// model ([`NmfModel::load`], [`NmfModel::from_parts`], `Deserialize`):
    /// the shapes (W of `w_len` values, the declared length when W was read
    /// past), then the values ([`NmfModel::check_values`]). What is wrong,
    /// in words.
    fn checked(&self, w_len: u64) -> std::result::Result<(), String> {
        let k = self.params.k;
        let vocabulary_fits = self
            .vocabulary
            .as_ref()
            .is_none_or(|v| v.len() == self.n_features);
        // Checked products: the shape is read from the file.
        let values = |rows: usize| (rows as u64).checked_mul(k as u64);
        if k == 0
            || values(self.n_features) != Some(self.ht.len() as u64)
            || values(self.n_docs) != Some(w_len)
            || !vocabulary_fits
        {
            return Err("factor or vocabulary sizes do not match the shape".into());
        }
        if let Some(record) = &self.vectorizer {
            if !self.vectorizer_fits(record) {
                return Err("its vectorizer's document frequencies do not match the shape".into());
            }
        }
        self.check_values()
    }

    /// What decoding alone cannot vouch for: the parameters are valid, every
    /// factor entry is a finite number ≥ 0 (a fit never leaves anything
    /// else), and so are the recorded errors. A damaged value would
    /// otherwise load, and `transform` or `topics` would turn it into
    /// silently wrong output.
    fn check_values(&self) -> std::result::Result<(), String> {
        self.params
            .validate()
            .map_err(|e| format!("its parameters are invalid: {e}"))?;
        let k = self.params.k;
        // A skipped W is empty: nothing to check.
        for (name, factor, what) in [("W", &self.w, "document"), ("H", &self.ht, "term")] {
            if let Some(at) = factor.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
                let v = factor[at];
                // -1.7e38 rather than its 39 digits.
                let shown = if v.is_finite() && v.abs() >= 1e6 {
                    format!("{v:e}")
                } else {
                    v.to_string()
                };
                return Err(format!(
                    "{name} holds {shown} at {what} {}, topic {}",
                    at / k + 1,
                    at % k + 1
                ));
            }
        }
        let errors = self.history.iter().map(|&(_, e)| e);
        if let Some(e) = errors
            .chain([self.reconstruction_err])
            .find(|e| !(e.is_finite() && *e >= 0.0))
        {
            return Err(format!("a recorded error is {e}"));
        }
        Ok(())
    }
}

/// What went wrong in a bincode payload, in words: bincode's own `Display`
/// prints its `Debug` form (`UnexpectedVariant { type_name: "Option<T>", … }`).
/// Model files use it, and so do other topicmill files holding bincode
/// (the distributed fit's checkpoints).
pub fn describe_decode_error(e: &bincode::error::DecodeError) -> String {
    use bincode::error::DecodeError as E;
    match e {
        E::UnexpectedEnd { additional } => {
            format!("the payload ends in the middle of a value ({additional} more bytes needed)")
        }
        E::Io { inner, additional } if inner.kind() == std::io::ErrorKind::UnexpectedEof => {
            format!("the payload ends in the middle of a value ({additional} more bytes needed)")
        }
        E::Io { inner, .. } => format!("reading failed: {inner}"),
        E::Utf8 { inner } => format!("a text value (a vocabulary term) is not UTF-8: {inner}"),
        E::UnexpectedVariant {
            type_name, found, ..
        } => format!("a value of type {type_name} has the impossible tag {found}"),
        E::InvalidIntegerType { expected, found } => {
            format!("an integer is encoded as {found:?} where {expected:?} belongs")
        }
        E::InvalidBooleanValue(b) => format!("a yes/no value is the byte {b}"),
        E::OutsideUsizeRange(v) => format!("a length of {v} does not fit this machine"),
        E::LimitExceeded => "a length is larger than the payload allows".into(),
        E::NonZeroTypeIsZero { .. } => "a value that cannot be zero is zero".into(),
        E::InvalidCharEncoding(_) => "a character is not valid UTF-8".into(),
        E::ArrayLengthMismatch { required, found } => {
            format!("a list holds {found} values where {required} belong")
        }
        E::OtherString(s) => s.clone(),
        E::Other(s) => (*s).into(),
        // The rest are for types these files do not hold (times, C strings,
        // empty enums).
        _ => "a value of a type the file does not hold".into(),
    }
}

/// A payload's model, then from version 2 its vectorizer record; with W's
/// length as the payload declares it (W itself is read past unless
/// `with_w`).
fn decode_payload<R: Read>(payload: &mut R, version: u32, with_w: bool) -> Result<(NmfModel, u64)> {
    let config = bincode::config::standard();
    let corrupt = |e: bincode::error::DecodeError| NmfError::Corrupt(describe_decode_error(&e));
    // One path for both loads: the fields before W, W (decoded, or read
    // past), the fields after it; so the mirrors of the field order are
    // exercised by every load.
    let before: BeforeW =
        bincode::serde::decode_from_std_read(&mut *payload, config).map_err(corrupt)?;
    let (w, w_len) = if with_w {
        let w: Vec<f32> =
            bincode::serde::decode_from_std_read(&mut *payload, config).map_err(corrupt)?;
        let w_len = w.len() as u64;
        (w, w_len)
    } else {
        // A Vec<f32>: its length as a varint, then 4 bytes per value.
        let w_len: u64 =
            bincode::serde::decode_from_std_read(&mut *payload, config).map_err(corrupt)?;
        let bytes = w_len
            .checked_mul(4)
            .ok_or_else(|| NmfError::Corrupt(format!("W's length {w_len} is impossible")))?;
        if std::io::copy(&mut payload.take(bytes), &mut std::io::sink())? < bytes {
            return Err(NmfError::Corrupt(
                "the payload ends in the middle of a value".into(),
            ));
        }
        (Vec::new(), w_len)
    };
    let after: AfterW =
        bincode::serde::decode_from_std_read(&mut *payload, config).map_err(corrupt)?;
    let mut model = NmfModel {
        params: before.params,
        n_docs: before.n_docs,
        n_features: before.n_features,
        w,
        ht: after.ht,
        history: after.history,
        iterations: after.iterations,
        stop: after.stop,
        reconstruction_err: after.reconstruction_err,
        vocabulary: after.vocabulary,
        vectorizer: None,
    };
    if version >= 2 {
        let record: Option<SavedRecord> = bincode::serde::decode_from_std_read(payload, config)
            .map_err(|e| {
                NmfError::Corrupt(format!(
                    "its vectorizer record: {}",
                    describe_decode_error(&e)
                ))
            })?;
        model.vectorizer = record.map(|r| VectorizerRecord {
            options: r.options,
            document_frequencies: r.document_frequencies,
        });
    }
    Ok((model, w_len))
}

/// A reader that counts the bytes it gives and sums their checksum.
struct Counted<R> {
    inner: R,
    read: u64,
    crc: crc32fast::Hasher,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        self.crc.update(&buf[..n]);
        Ok(n)
    }
}

/// A writer that sums the checksum of the bytes it passes on.
struct Summed<W> {
    inner: W,
    crc: crc32fast::Hasher,
}

impl<W: Write> Write for Summed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(got)
}

/// [`NmfModel::transform`] of `x` (its values checked) with `params` and Hᵀ
/// `ht` (m × k), at the data exponent `d` ([`exponent_for`] of the largest
/// value of x, or of the whole matrix whose rows x are:
/// [`crate::steps::final_w`]).
pub(crate) fn transform_at(
    params: &NmfParams,
    ht: &[f32],
    x: &CsrView<'_>,
    d: i32,
) -> Result<Vec<f32>> {
    let a = Csr::from_view(x);
    // At the k the fit ran at: the same W.
    let (k, kp) = (params.k(), params.kernel_k());
    // The fit's blocks for its final W (cut finer where Hᵀ is larger than
    // the cache, for the tiles' groups). A row's W does not depend on them.
    let blocks = crate::column_tiles::blocks_for(&a, kp);
    let solved = |ht: &[f32]| {
        scaled_solve(&a, d, ht, params, |a, ht, reg| {
            (solve(a, ht, kp, params, &blocks, reg).0, ())
        })
        .0
    };
    let w = if kp == k {
        solved(ht)
    } else {
        let w = solved(&kernel::pad_columns(ht, k, kp));
        kernel::unpad_columns_in_place(w, kp, k)
    };
    // A W that f32 cannot hold: fit's last guard, on W alone.
    check_finite(&w, &[], k, &[], 0.0)?;
    Ok(w)
}

/// The row-separable W-only solve of `fit` (its final W), the same as
/// `transform`'s, of `a` scaled by `2^d` (the fit's data exponent). Returns
/// W and the error of (W, H) on `a`.
pub(crate) fn solve_w(
    a: &Csr<'_>,
    d: i32,
    ht: &[f32],
    k: usize,
    p: &NmfParams,
    blocks: &Blocks,
) -> (Vec<f32>, f64) {
    let (w, err) = scaled_solve(a, d, ht, p, |a, ht, reg| {
        solve_w_with(a, ht, k, p, blocks, reg)
    });
    // The error of the scaled problem: X·2^d and W·H·2^d.
    let err = match p.loss {
        Loss::Frobenius => err * 2f64.powi(-d),
        Loss::KullbackLeibler => err * 2f64.powi(-d / 2),
    };
    (w, err)
}

/// `run` (a W-only solve: of the data `a` with the fixed Hᵀ `ht` and W's
/// regularization, giving W and something else) on `a` multiplied by `2^d`
/// (`d` the data's exponent, [`crate::params::exponent_for`] its largest
/// value, found by the values' check) and `ht` by the power of two that
/// brings it into the float32 engine's range
/// ([`crate::params::factor_exponent`]), with the regularization that gives
/// the same minimizer, and W scaled back: exact, short of values too small
/// to matter. Returns W and the rest (of the scaled problem).
fn scaled_solve<T>(
    a: &Csr<'_>,
    d: i32,
    ht: &[f32],
    p: &NmfParams,
    run: impl FnOnce(&Csr<'_>, &[f32], Reg) -> (Vec<f32>, T),
) -> (Vec<f32>, T) {
    let c = factor_exponent(ht, d);
    let (reg, _) = p.scaled_regularization(a.rows, a.cols, d, c);
    if (d, c) == (0, 0) {
        return run(a, ht, reg);
    }
    let mut data = a.data.to_vec();
    times_pow2(&mut data, d);
    let mut scaled_ht = ht.to_vec();
    times_pow2(&mut scaled_ht, c);
    let scaled = Csr { data: &data, ..*a };
    let (mut w, rest) = run(&scaled, &scaled_ht, reg);
    times_pow2(&mut w, c - d);
    (w, rest)
}

/// [`solve_w`] with W's regularization `reg`, unscaled.
fn solve_w_with(
    a: &Csr<'_>,
    ht: &[f32],
    k: usize,
    p: &NmfParams,
    blocks: &Blocks,
    reg: Reg,
) -> (Vec<f32>, f64) {
    let (w, solved) = solve(a, ht, k, p, blocks, reg);
    let err = if p.loss == Loss::KullbackLeibler {
        let mut parts = vec![0f64; blocks.len()];
        let mut tiles = ColumnTiles::plan(a, k, blocks);
        kl_err(kernel::kl_loss(
            a,
            &w,
            ht,
            k,
            blocks,
            tiles.as_mut(),
            &mut parts,
        ))
    } else {
        let mut s_w = vec![0f64; k * k];
        let mut part_w = vec![0f64; gram_partials_len(a.rows, k)];
        gram(&w, k, &mut part_w, &mut s_w);
        frob_err(a.sq_norm() - 2.0 * solved.cross + kernel::inner(&s_w, &solved.s_h))
    };
    (w, err)
}

/// What [`solve`] leaves besides W, for the error: the Gram of Hᵀ, and
/// ⟨W, X·Hᵀ⟩ (Frobenius loss only; 0 for KL).
struct Solved {
    s_h: Vec<f64>,
    cross: f64,
}

/// The row-separable W-only solve shared by `fit` (its final W, through
/// [`solve_w`]) and `transform`, with W's regularization `reg`.
fn solve(
    a: &Csr<'_>,
    ht: &[f32],
    k: usize,
    p: &NmfParams,
    blocks: &Blocks,
    reg: Reg,
) -> (Vec<f32>, Solved) {
    // X·Hᵀ by column tiles where Hᵀ is larger than the cache (Frobenius).
    let tiles = match p.loss {
        Loss::Frobenius => ColumnTiles::plan(a, k, blocks),
        Loss::KullbackLeibler => None,
    };
    solve_with(a, ht, k, p, blocks, reg, tiles)
}

/// [`solve`] with X·Hᵀ by `tiles` when given.
fn solve_with(
    a: &Csr<'_>,
    ht: &[f32],
    k: usize,
    p: &NmfParams,
    blocks: &Blocks,
    reg: Reg,
    mut tiles: Option<ColumnTiles>,
) -> (Vec<f32>, Solved) {
    let (n, m) = (a.rows, a.cols);
    let mut w = vec![0f32; n * k];
    let mut s_h = vec![0f64; k * k];
    let mut part = vec![0f64; gram_partials_len(m, k)];
    gram(ht, k, &mut part, &mut s_h);
    let mut s32 = vec![0f32; k * k];
    kernel::gram_to_f32(&s_h, &mut s32);
    let is_kl = p.loss == Loss::KullbackLeibler;
    // H's row sums, for KL's rule only: a serial pass over Hᵀ (0.1 ms of the
    // seed's final solve) that the Frobenius rows never read.
    let hsum: Vec<f32> = if is_kl {
        kernel::col_sums(ht, k).iter().map(|&v| v as f32).collect()
    } else {
        Vec::new()
    };
    let ssum: f32 = s32.iter().sum();
    let hsum_total: f32 = hsum.iter().sum();
    let mut sums = vec![0f64; blocks.len()];
    let rows = SolveRows {
        a,
        ht,
        s32: &s32,
        hsum: &hsum,
        ssum,
        hsum_total,
        tol: p.transform_tol as f32,
        max_iter: p.transform_max_iter,
        is_kl,
        reg,
    };
    let cross = if is_kl && k > kernel::KL_COMPILED_MAX {
        solve_rows::<0>(&rows, k, blocks, tiles.as_mut(), &mut w, &mut sums)
    } else {
        kernel::dispatch_k!(
            k,
            solve_rows(&rows, k, blocks, tiles.as_mut(), &mut w, &mut sums)
        )
    };
    (w, Solved { s_h, cross })
}

/// What every row of the W-only solve shares.
struct SolveRows<'a> {
    a: &'a Csr<'a>,
    ht: &'a [f32],
    s32: &'a [f32],
    /// H's row sums and their total (KL only: empty and 0 otherwise).
    hsum: &'a [f32],
    ssum: f32,
    hsum_total: f32,
    tol: f32,
    max_iter: usize,
    is_kl: bool,
    reg: Reg,
}

/// Solves every row of W over `blocks`; returns ⟨W, X·Hᵀ⟩ (Frobenius loss;
/// 0 for KL): f64 sums per block (into `sums`) of the rows' terms in row
/// order, added in block order. No row of X·Hᵀ outlives its solve, or, by
/// `tiles` when given, its group of rows (the same rows, bitwise).
fn solve_rows<const K: usize>(
    p: &SolveRows<'_>,
    k: usize,
    blocks: &Blocks,
    tiles: Option<&mut ColumnTiles>,
    w: &mut [f32],
    sums: &mut [f64],
) -> f64 {
    if let Some(tiles) = tiles {
        let solve = |r: &Range<usize>, wb: &mut [f32], nb: &mut [f32]| {
            solve_block_best::<K>(p, r, wb, k, Some(nb))
        };
        return by_tiles::<K>(tiles, p.a, p.ht, k, blocks, w, &solve, sums);
    }
    let wp = RowsPtr::new(w);
    sums.par_iter_mut()
        .zip(blocks.ranges.par_iter())
        .for_each(|(sum, r)| {
            // SAFETY: disjoint block ranges inside 0..n; W has n rows of k.
            let wb = unsafe { wp.rows_mut(r, k) };
            *sum = solve_block_best::<K>(p, r, wb, k, None);
        });
    sums.iter().sum()
}

/// One block of [`solve_rows`]; returns the block's cross term. The rows of
/// X·Hᵀ are formed here, or given in `given` (the block's rows × k).
#[inline(always)]
fn solve_block<const K: usize>(
    p: &SolveRows<'_>,
    r: &Range<usize>,
    wb: &mut [f32],
    kk: usize,
    given: Option<&[f32]>,
) -> f64 {
    if K > 0 && !p.is_kl {
        return solve_block_frob::<K, { kernel::HALS_ROWS }>(p, r, wb, given);
    }
    let k = if K == 0 { kk } else { K };
    let mut small = [0f32; 1024];
    let mut heap;
    let (prev, nr): (&mut [f32], &mut [f32]) = if k <= 512 {
        small[..2 * k].split_at_mut(k)
    } else {
        heap = vec![0f32; 2 * k];
        heap.split_at_mut(k)
    };
    let mut cross = 0f64;
    for (local, i) in r.clone().enumerate() {
        let (cols, vals) = p.a.row(i);
        let wr = &mut wb[local * k..(local + 1) * k];
        match given {
            Some(n) => nr.copy_from_slice(&n[local * k..(local + 1) * k]),
            None => kernel::sparse_row_times_k::<K>(cols, vals, p.ht, k, nr),
        }
        let c = if p.is_kl {
            let xs: f32 = vals.iter().sum();
            if p.hsum_total > 0.0 {
                xs / p.hsum_total
            } else {
                0.0
            }
        } else {
            let ns: f32 = nr.iter().sum();
            if p.ssum > 0.0 {
                (ns / p.ssum).max(0.0)
            } else {
                0.0
            }
        };
        wr.fill(flush(c));
        if c <= 0.0 {
            wr.fill(0.0);
            continue;
        }
        for _ in 0..p.max_iter {
            prev.copy_from_slice(wr);
            if p.is_kl {
                kernel::kl_row_numerator::<K>(cols, vals, wr, p.ht, k, nr);
                mu_row(wr, nr, p.hsum, p.reg);
            } else {
                kernel::hals_row_k::<K>(wr, nr, p.s32, k, p.reg);
            }
            let mut delta = 0f32;
            let mut top = 0f32;
            for (&x, &y) in wr.iter().zip(prev.iter()) {
                delta = delta.max((x - y).abs());
                top = top.max(x);
            }
            if delta <= p.tol * top {
                break;
            }
        }
        if !p.is_kl {
            cross += crate::steps::cross(wr, nr);
        }
    }
    cross
}

/// The Frobenius rows of [`solve_block`] for a compile-time k, `R` at a
/// time: each of `R` slots holds a row being solved, a sweep runs on all the
/// slots at once ([`kernel::hals_rows_k`]: `R` independent chains of
/// dependent steps, where one row alone waits on each step's latency), and a
/// row that is done — converged, or at `max_iter` sweeps — is written out
/// and its slot takes the next row, so rows needing few sweeps never wait for
/// one that needs many. Every row goes through the same sweeps, the same
/// tests and the same stop as one solved alone (the sweep's results do not
/// depend on R): the same bits.
#[inline(always)]
fn solve_block_frob<const K: usize, const R: usize>(
    p: &SolveRows<'_>,
    r: &Range<usize>,
    wb: &mut [f32],
    given: Option<&[f32]>,
) -> f64 {
    const EMPTY: usize = usize::MAX;
    // Each row's cross term, added in row order at the end (rows finish out
    // of order).
    let mut cross = vec![0f64; r.len()];
    let mut f = [[0f32; K]; R];
    let mut n = [[0f32; K]; R];
    // Each slot's row (index in the block, EMPTY for none) and its sweeps.
    let mut row = [EMPTY; R];
    let mut sweeps = [0usize; R];
    let mut next = 0;
    loop {
        for q in 0..R {
            if row[q] != EMPTY {
                continue;
            }
            // An empty slot holds zeros, which a sweep leaves at zero.
            (f[q], n[q]) = ([0.0; K], [0.0; K]);
            while next < r.len() {
                let local = next;
                next += 1;
                let mut nr = [0f32; K];
                match given {
                    Some(n) => nr.copy_from_slice(&n[local * K..(local + 1) * K]),
                    None => {
                        let (cols, vals) = p.a.row(r.start + local);
                        kernel::sparse_row_times_k::<K>(cols, vals, p.ht, K, &mut nr);
                    }
                }
                let ns: f32 = nr.iter().sum();
                let c = if p.ssum > 0.0 {
                    (ns / p.ssum).max(0.0)
                } else {
                    0.0
                };
                if c <= 0.0 {
                    wb[local * K..(local + 1) * K].fill(0.0);
                    continue;
                }
                (f[q], n[q]) = ([flush(c); K], nr);
                (row[q], sweeps[q]) = (local, 0);
                break;
            }
        }
        let active = row.iter().filter(|&&i| i != EMPTY).count();
        if active == 0 {
            return cross.iter().sum();
        }
        let prev = f;
        if 4 * active >= R {
            kernel::hals_rows_k::<K, R>(f.as_flattened_mut(), n.as_flattened(), p.s32, p.reg);
        } else {
            // The last few rows of the block: alone, not beside empty slots.
            for q in (0..R).filter(|&q| row[q] != EMPTY) {
                kernel::hals_row_k::<K>(&mut f[q], &n[q], p.s32, K, p.reg);
            }
        }
        for q in 0..R {
            if row[q] == EMPTY {
                continue;
            }
            sweeps[q] += 1;
            let mut delta = 0f32;
            let mut top = 0f32;
            for (&x, &y) in f[q].iter().zip(&prev[q]) {
                delta = delta.max((x - y).abs());
                top = top.max(x);
            }
            if delta <= p.tol * top || sweeps[q] >= p.max_iter {
                let local = row[q];
                wb[local * K..(local + 1) * K].copy_from_slice(&f[q]);
                cross[local] = crate::steps::cross(&f[q], &n[q]);
                row[q] = EMPTY;
            }
        }
    }
}

kernel::multiversion!(solve_block_best, solve_block_avx2, solve_block,
    (p: &SolveRows<'_>, r: &Range<usize>, wb: &mut [f32], kk: usize, given: Option<&[f32]>) -> f64);

#[cfg(test)]
mod tests {
    use super::*;

    /// The W-only solve with X·Hᵀ by column tiles (one-block and
    /// several-block groups) gives the row-by-row solve's W and cross term,
    /// bitwise, at compiled and run-time k, with and without regularization.
    #[test]
    fn tiled_solve_equals_the_row_by_row_one_bitwise() {
        let (rows, cols) = (300, 1000);
        let m = crate::testing::sparse(rows, cols, 0.06, 9);
        let mv = m.view();
        let a = Csr::from_view(&mv);
        let blocks = crate::testing::uneven_blocks();
        for k in [4, 7, 20, 50, 60] {
            let mut next = crate::testing::xorshift(0x7f4a_7c15 + k as u64);
            let ht: Vec<f32> = (0..cols * k).map(|_| next()).collect();
            for alpha in [0.0, 0.01] {
                let p = crate::Nmf::params(k).alpha_w(alpha).l1_ratio(0.5);
                let (reg, _) = p.regularization(rows, cols);
                let (want, want_solved) = solve_with(&a, &ht, k, &p, &blocks, reg, None);
                for group_rows in [1, 120] {
                    let tiles = ColumnTiles::with_sizes(k, &blocks, 97, group_rows);
                    let (got, solved) = solve_with(&a, &ht, k, &p, &blocks, reg, Some(tiles));
                    let what = format!("k {k}, alpha {alpha}, groups of {group_rows} rows");
                    assert_eq!(
                        solved.cross.to_bits(),
                        want_solved.cross.to_bits(),
                        "{what}"
                    );
                    assert!(crate::testing::same_bits(&got, &want), "{what}");
                }
            }
        }
    }
}
