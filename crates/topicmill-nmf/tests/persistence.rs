//! Model files: round trip and each failure with its own error.

mod common;

use common::random_csr;
use topicmill_nmf::{
    Nmf, NmfError, NmfModel, NmfParams, StopReason, VectorizerRecord, MODEL_FORMAT_VERSION,
};

fn saved() -> (NmfModel, Vec<u8>) {
    let x = random_csr(20, 15, 0.3, 4, &[], &[]);
    let mut model = Nmf::params(3).max_iter(30).fit(&x.view()).unwrap();
    let vocabulary = (0..15).map(|j| format!("term{j}")).collect();
    model.set_vocabulary(Some(vocabulary));
    let mut bytes = Vec::new();
    model.save(&mut bytes).unwrap();
    (model, bytes)
}

#[test]
fn round_trip_is_exact() {
    let (model, bytes) = saved();
    let back = NmfModel::load(&bytes[..]).unwrap();
    assert_eq!(back, model);
    assert_eq!(back.vocabulary().map(|v| v[14].as_str()), Some("term14"));
}

/// A record of the vectorizer of 20 documents over 15 terms.
fn record() -> VectorizerRecord {
    VectorizerRecord {
        options: r#"{"tfidf": {"norm": "l2"}}"#.into(),
        document_frequencies: (0..15).map(|j| j % 21).collect(),
    }
}

#[test]
fn the_vectorizer_record_round_trips() {
    let (mut model, _) = saved();
    model.set_vectorizer(Some(record()));
    let mut bytes = Vec::new();
    model.save(&mut bytes).unwrap();
    let back = NmfModel::load(&bytes[..]).unwrap();
    assert_eq!(back.vectorizer(), Some(&record()));
    assert_eq!(back, model);
}

/// The payload of a saved (version 3) model: between the 20-byte header and
/// the 4-byte checksum.
fn payload(bytes: &[u8]) -> &[u8] {
    &bytes[20..bytes.len() - 4]
}

/// A model file of `version` holding `payload`: the header, and from version
/// 3 the CRC-32 of every byte before it (computed here with the `crc32fast`
/// crate the format names).
fn file(version: u32, payload: &[u8]) -> Vec<u8> {
    let mut file = b"TMNMFMDL".to_vec();
    file.extend(version.to_le_bytes());
    file.extend((payload.len() as u64).to_le_bytes());
    file.extend(payload);
    if version >= 3 {
        let crc = crc32fast::hash(&file);
        file.extend(crc.to_le_bytes());
    }
    file
}

/// The version-1 file of a saved model with no vectorizer record: version
/// 2's payload ends with the absent record, one byte.
fn as_version_1(bytes: &[u8]) -> Vec<u8> {
    let p = payload(bytes);
    file(1, &p[..p.len() - 1])
}

/// The version-2 file of a saved model: version 3 without the checksum.
fn as_version_2(bytes: &[u8]) -> Vec<u8> {
    file(2, payload(bytes))
}

/// Version 1 is version 2 without the vectorizer record: such files load,
/// with no record.
#[test]
fn version_1_files_load() {
    let (model, bytes) = saved();
    let back = NmfModel::load(&as_version_1(&bytes)[..]).unwrap();
    assert_eq!(back, model);
    assert_eq!(back.vectorizer(), None);
}

#[test]
fn a_damaged_vectorizer_record_is_refused() {
    let (model, bytes) = saved();
    let config = bincode::config::standard();
    let with_record = |record: Option<VectorizerRecord>| {
        let p = payload(&bytes);
        let mut p = p[..p.len() - 1].to_vec();
        p.extend(bincode::serde::encode_to_vec(&record, config).unwrap());
        p
    };
    assert_eq!(
        NmfModel::load(&file(3, &with_record(Some(record())))[..])
            .unwrap()
            .vectorizer(),
        Some(&record())
    );
    let mut short = record();
    short.document_frequencies.pop();
    let mut above = record();
    above.document_frequencies[3] = model.n_docs() as u64 + 1;
    for damaged in [short, above] {
        match NmfModel::load(&file(3, &with_record(Some(damaged)))[..]) {
            Err(NmfError::Corrupt(msg)) => assert_eq!(
                msg,
                "its vectorizer's document frequencies do not match the shape"
            ),
            other => panic!("{other:?}"),
        }
    }
    // Cut inside the record, the declared length cut with it.
    let mut cut = with_record(Some(record()));
    cut.truncate(cut.len() - 3);
    let end = 20 + cut.len();
    match NmfModel::load(&file(3, &cut)[..]) {
        Err(NmfError::Corrupt(msg)) => assert!(
            msg.starts_with(&format!("at byte offset {end}: its vectorizer record: ")),
            "{msg}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
#[should_panic(expected = "do not fit the model's shape")]
fn a_vectorizer_record_of_another_shape_is_a_callers_bug() {
    let (mut model, _) = saved();
    let mut short = record();
    short.document_frequencies.pop();
    model.set_vectorizer(Some(short));
}

#[test]
fn not_a_model() {
    let e = NmfModel::load(&b"hello, this is a text file"[..]).unwrap_err();
    assert!(matches!(e, NmfError::NotAModel));
    assert!(matches!(
        NmfModel::load(&b"TM"[..]),
        Err(NmfError::NotAModel)
    ));
}

#[test]
fn other_version() {
    let (_, mut bytes) = saved();
    bytes[8..12].copy_from_slice(&(MODEL_FORMAT_VERSION + 1).to_le_bytes());
    let e = NmfModel::load(&bytes[..]).unwrap_err();
    assert!(
        matches!(e, NmfError::UnsupportedVersion { found, supported } if found == MODEL_FORMAT_VERSION + 1 && supported == MODEL_FORMAT_VERSION)
    );
    assert_eq!(
        e.to_string(),
        format!(
            "model format version {} is not supported (this build reads versions 1 to {})",
            MODEL_FORMAT_VERSION + 1,
            MODEL_FORMAT_VERSION
        )
    );
}

#[test]
fn truncated() {
    let (_, bytes) = saved();
    let payload = (bytes.len() - 24) as u64;
    // Inside the payload: 3 of its bytes and the checksum missing.
    let e = NmfModel::load(&bytes[..bytes.len() - 7]).unwrap_err();
    assert!(
        matches!(e, NmfError::Truncated { expected, found } if expected == payload && found == payload - 3),
        "{e}"
    );
    // Inside the checksum.
    let e = NmfModel::load(&bytes[..bytes.len() - 1]).unwrap_err();
    assert!(
        matches!(e, NmfError::TruncatedChecksum { offset, found: 3 } if offset == 20 + payload),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "truncated model: its 4-byte checksum at byte offset {} has 3 bytes",
            20 + payload
        )
    );
    // Inside the header: the bytes there are counted.
    for cut in [8, 10, 12, 19] {
        let e = NmfModel::load(&bytes[..cut]).unwrap_err();
        assert!(
            matches!(e, NmfError::TruncatedHeader { found } if found == cut as u64),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            format!("truncated model: its header is 20 bytes, the file has {cut}")
        );
    }
}

#[test]
fn corrupt_payload() {
    let (_, bytes) = saved();
    // A longer payload than the model encodes, padded with garbage.
    let mut p = payload(&bytes).to_vec();
    p.extend_from_slice(&[1, 2, 3]);
    match NmfModel::load(&file(3, &p)[..]) {
        Err(NmfError::Corrupt(msg)) => assert_eq!(
            msg,
            format!(
                "3 bytes after the model at byte offset {}, inside the declared payload",
                bytes.len() - 4
            )
        ),
        other => panic!("{other:?}"),
    }
}

/// Bytes after the end of the model are refused, with where they start,
/// in this format version (after the checksum) and in version 2 (after the
/// payload).
#[test]
fn trailing_bytes_are_refused() {
    let (_, bytes) = saved();
    for (good, junk) in [
        (bytes.clone(), &b"junk\n"[..]),
        (as_version_2(&bytes), &b"x"[..]),
    ] {
        assert!(NmfModel::load(&good[..]).is_ok());
        let mut bad = good.clone();
        bad.extend_from_slice(junk);
        for load in [NmfModel::load, NmfModel::load_without_w] {
            let e = load(&bad[..]).unwrap_err();
            assert!(
                matches!(e, NmfError::TrailingBytes { offset, count } if offset == good.len() as u64 && count == junk.len() as u64),
                "{e}"
            );
            assert_eq!(
                e.to_string(),
                format!(
                    "{} unexpected bytes at byte offset {}, after the end of the model",
                    junk.len(),
                    good.len()
                )
            );
        }
    }
}

/// Every single-byte change of a saved model is refused (CRC-32 catches
/// every error within 32 bits); a change in the payload or the checksum
/// itself as a checksum mismatch, with the checksum's offset.
#[test]
fn every_damaged_byte_is_refused() {
    let (_, bytes) = saved();
    let end = bytes.len() as u64 - 4;
    for at in 0..bytes.len() {
        for flip in [0x01, 0x80, 0xff] {
            let mut bad = bytes.clone();
            bad[at] ^= flip;
            for load in [NmfModel::load, NmfModel::load_without_w] {
                match load(&bad[..]) {
                    Ok(_) => panic!("byte {at} ^ {flip:#x} loads"),
                    Err(e) if at >= 20 => assert!(
                        matches!(e, NmfError::ChecksumMismatch { offset, .. } if offset == end),
                        "byte {at} ^ {flip:#x}: {e}"
                    ),
                    Err(_) => {}
                }
            }
        }
    }
    let mut bad = bytes.clone();
    bad[100] ^= 1;
    let e = NmfModel::load(&bad[..]).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "checksum mismatch at byte offset {end} (stored 0x"
        )),
        "{e}"
    );
    assert!(e.ends_with("): the file is corrupt"), "{e}");
}

/// A model written by the previous build (format version 2, no checksum:
/// `topicmill fit s -k 3 --seed 0` on the sample corpus of the README)
/// still loads, whole and without W, and saves as this version.
#[test]
fn a_version_2_file_of_the_previous_build_loads() {
    let old = std::fs::read(version_2_fixture()).unwrap();
    assert_eq!(&old[8..12], &2u32.to_le_bytes());
    let model = NmfModel::load(&old[..]).unwrap();
    assert_eq!(
        (model.k(), model.n_docs(), model.n_features()),
        (3, 18, 127)
    );
    assert_eq!(model.iterations(), 20);
    assert_eq!(model.reconstruction_err(), 3.5345299939374346);
    assert!(model.vectorizer().is_some());
    let vocabulary = model.vocabulary().unwrap();
    // Topic 1's top word, as `topicmill topics` printed it.
    let top = (0..127)
        .max_by(|&a, &b| model.ht()[a * 3].total_cmp(&model.ht()[b * 3]))
        .unwrap();
    assert_eq!(vocabulary[top], "soil");
    let lean = NmfModel::load_without_w(&old[..]).unwrap();
    assert_eq!(lean.ht(), model.ht());
    let mut new = Vec::new();
    model.save(&mut new).unwrap();
    assert_eq!(&new[8..12], &MODEL_FORMAT_VERSION.to_le_bytes());
    assert_eq!(new.len(), old.len() + 4);
    assert_eq!(payload(&new), &old[20..]);
    assert_eq!(NmfModel::load(&new[..]).unwrap(), model);
}

/// A damaged length anywhere in a file (here each byte of a version-2 file,
/// which has no checksum, made the marker of a 4- or 8-byte length) is an
/// error: a vocabulary term's length of up to 2^64 had aborted the process
/// (bincode allocated it before reading).
#[test]
fn a_damaged_length_is_an_error_not_an_abort() {
    let old = std::fs::read(version_2_fixture()).unwrap();
    for at in 20..old.len() {
        for marker in [0xfc, 0xfd] {
            let mut bad = old.clone();
            bad[at] = marker;
            for load in [NmfModel::load, NmfModel::load_without_w] {
                if let Err(e) = load(&bad[..]) {
                    assert!(!e.to_string().contains('{'), "byte {at}: {e}");
                }
            }
        }
    }
}

fn version_2_fixture() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sample-k3-v2.model")
}

/// A version-2 file (no checksum to catch the damage first) whose decoding
/// fails says so in words, with the byte offset where decoding stopped, not
/// bincode's `Debug` form: byte 1809 of the fixture changed makes a length
/// that runs past the payload's end.
#[test]
fn a_decoding_error_is_a_sentence_with_its_offset() {
    let mut old = std::fs::read(version_2_fixture()).unwrap();
    old[1809] ^= 0xff;
    for load in [NmfModel::load, NmfModel::load_without_w] {
        let e = load(&old[..]).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "corrupt model: at byte offset {}: the payload ends in the middle of a value (8 more bytes needed)",
                old.len()
            )
        );
    }
}

/// A model's fields in the file's order, written here from the format's
/// description (`NmfModel::save`), independently of the model's own
/// checks: for files holding what no valid model holds.
#[derive(serde::Serialize)]
struct Fields {
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

impl Fields {
    /// n × k and m × k factors of `params`' k, one iteration of error `err`.
    fn new(params: NmfParams, n: usize, m: usize, w: Vec<f32>, ht: Vec<f32>, err: f64) -> Self {
        Fields {
            params,
            n_docs: n,
            n_features: m,
            w,
            ht,
            history: vec![(0, 1.0), (1, err)],
            iterations: 1,
            stop: StopReason::MaxIter,
            reconstruction_err: err,
            vocabulary: None,
        }
    }

    /// The bincode payload of the fields alone (a model's serde form).
    fn encoded(&self) -> Vec<u8> {
        bincode::serde::encode_to_vec(self, bincode::config::standard()).unwrap()
    }

    /// A version-3 model file of these fields: header, payload (the fields,
    /// no vectorizer record), CRC-32 of everything before it.
    fn file(&self) -> Vec<u8> {
        let mut payload = self.encoded();
        payload.push(0); // no vectorizer record
        let mut bytes = b"TMNMFMDL".to_vec();
        bytes.extend_from_slice(&3u32.to_le_bytes());
        bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&payload);
        let crc = crc32fast::hash(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        bytes
    }

    /// The model `from_parts` makes of these fields.
    fn assembled(self) -> Result<NmfModel, NmfError> {
        NmfModel::from_parts(
            self.params,
            self.n_docs,
            self.n_features,
            self.w,
            self.ht,
            self.history,
            self.iterations,
            self.stop,
            self.reconstruction_err,
        )
    }
}

/// The file format as `Fields` writes it is `save`'s, byte for byte.
#[test]
fn fields_write_what_save_writes() {
    let (n, m, k) = (4, 5, 2);
    let fields = || {
        let w = (0..n * k).map(|v| v as f32 / 8.0).collect();
        let ht = (0..m * k).map(|v| v as f32 / 16.0).collect();
        Fields::new(Nmf::params(k).seed(7), n, m, w, ht, 0.5)
    };
    let mut saved = Vec::new();
    fields().assembled().unwrap().save(&mut saved).unwrap();
    assert_eq!(saved, fields().file());
}

/// A model file that decodes but holds a value no fit leaves: refused with
/// what and where, instead of loading into silently wrong output. The same
/// factors given to `from_parts` are refused with the same words (it
/// accepted NaN factors, whose transform was [0.0], and invalid parameters,
/// both saved into files that load refused).
#[test]
fn damaged_values_are_refused() {
    let (n, m, k) = (4, 5, 2);
    let part = |w: Vec<f32>, ht: Vec<f32>, tol: f64, err: f64| {
        let fields = || Fields::new(Nmf::params(k).tol(tol), n, m, w.clone(), ht.clone(), err);
        let loaded = NmfModel::load(&fields().file()[..]);
        let made = fields().assembled();
        let deserialized: Result<NmfModel, _> =
            bincode::serde::decode_from_slice(&fields().encoded(), bincode::config::standard())
                .map(|(model, _)| model);
        match (&loaded, made, deserialized) {
            (Ok(model), Ok(made), Ok(deserialized)) => {
                assert_eq!(&made, model);
                assert_eq!(&deserialized, model);
            }
            (Err(NmfError::Corrupt(why)), Err(NmfError::InvalidModel(also)), Err(e)) => {
                assert_eq!(&also, why);
                assert_eq!(
                    topicmill_nmf::describe_decode_error(&e),
                    format!("invalid model: {why}")
                );
            }
            other => panic!("{other:?}"),
        }
        loaded
    };
    let good = || (vec![0.5f32; n * k], vec![0.25f32; m * k]);
    let (w, ht) = good();
    assert!(part(w, ht, 1e-4, 0.5).is_ok());
    let cases = [
        ("W holds NaN at document 3, topic 2", 5, f32::NAN, true),
        ("W holds -1 at document 1, topic 1", 0, -1.0, true),
        ("W holds -3e38 at document 2, topic 1", 2, -3e38, true),
        ("H holds inf at term 5, topic 1", 8, f32::INFINITY, false),
    ];
    for (want, at, value, in_w) in cases {
        let (mut w, mut ht) = good();
        if in_w {
            w[at] = value;
        } else {
            ht[at] = value;
        }
        match part(w, ht, 1e-4, 0.5) {
            Err(NmfError::Corrupt(msg)) => assert_eq!(msg, want),
            other => panic!("{want}: {other:?}"),
        }
    }
    let (w, ht) = good();
    match part(w, ht, 1e-4, f64::NAN) {
        Err(NmfError::Corrupt(msg)) => assert_eq!(msg, "a recorded error is NaN"),
        other => panic!("{other:?}"),
    }
    let (w, ht) = good();
    match part(w, ht, -1.0, 0.5) {
        Err(NmfError::Corrupt(msg)) => {
            assert!(msg.starts_with("its parameters are invalid"), "{msg}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_damaged_payload_is_described_in_words() {
    let (_, bytes) = saved();
    let mut p = payload(&bytes).to_vec();
    // The payload ends with the last vocabulary term, "term14", and the
    // absent vectorizer record (one byte).
    assert_eq!(p.last(), Some(&0));
    let last = p.len() - 2;
    assert_eq!(p[last], b'4');
    p[last] = 0xff;
    // Decoding stops after the term, at the record.
    let at = 20 + last + 1;
    match NmfModel::load(&file(3, &p)[..]) {
        Err(NmfError::Corrupt(msg)) => {
            let want =
                format!("at byte offset {at}: a text value (a vocabulary term) is not UTF-8");
            assert!(msg.starts_with(&want), "{msg}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn permuting_topics_moves_w_and_h_columns_together() {
    let (model, _) = saved();
    let mut permuted = model.clone();
    permuted.permute_topics(&[2, 0, 1]);
    let k = 3;
    for (old, new) in [(model.w(), permuted.w()), (model.ht(), permuted.ht())] {
        for (a, b) in old.chunks_exact(k).zip(new.chunks_exact(k)) {
            assert_eq!([b[0], b[1], b[2]], [a[2], a[0], a[1]]);
        }
    }
    // The same product WH: the fit is unchanged.
    assert_eq!(permuted.reconstruction_err(), model.reconstruction_err());
    let mut back = permuted.clone();
    back.permute_topics(&[1, 2, 0]);
    assert_eq!(back, model);
}

#[test]
#[should_panic(expected = "every topic once")]
fn a_topic_order_must_be_a_permutation() {
    let (mut model, _) = saved();
    model.permute_topics(&[0, 0, 1]);
}

/// Loading without W gives the model less W, from either format version and
/// with or without a vocabulary and a vectorizer record; W's accessor then
/// refuses.
#[test]
fn a_model_loads_without_w() {
    let (mut model, _) = saved();
    model.set_vectorizer(Some(record()));
    let mut plain = Nmf::params(2)
        .max_iter(5)
        .fit(&random_csr(9, 15, 0.4, 7, &[], &[]).view())
        .unwrap();
    plain.set_vocabulary(None);
    for model in [model, plain] {
        let mut bytes = Vec::new();
        model.save(&mut bytes).unwrap();
        let lean = NmfModel::load_without_w(&bytes[..]).unwrap();
        assert!(model.has_w() && !lean.has_w());
        assert_eq!(lean.ht(), model.ht());
        assert_eq!(lean.n_docs(), model.n_docs());
        assert_eq!(lean.params(), model.params());
        assert_eq!(lean.loss_history(), model.loss_history());
        assert_eq!(lean.iterations(), model.iterations());
        assert_eq!(lean.stop_reason(), model.stop_reason());
        assert_eq!(lean.reconstruction_err(), model.reconstruction_err());
        assert_eq!(lean.vocabulary(), model.vocabulary());
        assert_eq!(lean.vectorizer(), model.vectorizer());
        let x = random_csr(3, 15, 0.5, 11, &[], &[]);
        assert_eq!(
            lean.transform(&x.view()).unwrap(),
            model.transform(&x.view()).unwrap()
        );
        let panicked = std::panic::catch_unwind(|| lean.w().len());
        assert!(panicked.is_err(), "w() of a model loaded without W");
    }
    // Version 1: no vectorizer record after the model.
    let (model, bytes) = saved();
    let lean = NmfModel::load_without_w(&as_version_1(&bytes)[..]).unwrap();
    assert_eq!(lean.ht(), model.ht());
    assert_eq!(lean.vocabulary(), model.vocabulary());
}

/// Without W, a file cut anywhere (inside W too) is still truncated, and a
/// damaged H is still refused.
#[test]
fn loading_without_w_checks_the_rest() {
    let (_, bytes) = saved();
    let payload = (bytes.len() - 24) as u64;
    // 20 documents × 3 topics of W end well before byte 300 of the file.
    for cut in [25, 60, 150, bytes.len() - 7] {
        match NmfModel::load_without_w(&bytes[..cut]) {
            Err(NmfError::Truncated { expected, found }) => {
                assert_eq!(
                    (expected, found),
                    (payload, cut as u64 - 20),
                    "cut at {cut}"
                )
            }
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    let (n, m, k) = (4, 5, 2);
    let mut ht = vec![0.25f32; m * k];
    ht[8] = f32::INFINITY;
    let bytes = Fields::new(Nmf::params(k), n, m, vec![0.5; n * k], ht, 1.0).file();
    match NmfModel::load_without_w(&bytes[..]) {
        Err(NmfError::Corrupt(msg)) => assert_eq!(msg, "H holds inf at term 5, topic 1"),
        other => panic!("{other:?}"),
    }
}

/// Shapes that do not match are refused by `from_parts` (it panicked) and
/// by serde's `Deserialize` (which accepted a model whose `h()` and
/// `transform` then panicked), with load's words.
#[test]
fn mismatched_shapes_are_refused_everywhere() {
    let (n, m, k) = (4, 5, 2);
    let wrong = [
        (vec![0.5; n * k], vec![1.0]),
        (vec![0.5; n * k + 1], vec![0.25; m * k]),
    ];
    for (w, ht) in wrong {
        let fields = || Fields::new(Nmf::params(k), n, m, w.clone(), ht.clone(), 0.5);
        let want = "factor or vocabulary sizes do not match the shape";
        match fields().assembled() {
            Err(NmfError::InvalidModel(why)) => assert_eq!(why, want),
            other => panic!("{other:?}"),
        }
        let e = bincode::serde::decode_from_slice::<NmfModel, _>(
            &fields().encoded(),
            bincode::config::standard(),
        )
        .unwrap_err();
        assert_eq!(
            topicmill_nmf::describe_decode_error(&e),
            format!("invalid model: {want}")
        );
        match NmfModel::load(&fields().file()[..]) {
            Err(NmfError::Corrupt(why)) => assert_eq!(why, want),
            other => panic!("{other:?}"),
        }
    }
    let zero_k = Fields::new(Nmf::params(0), n, m, vec![], vec![], 0.5).assembled();
    assert!(
        matches!(zero_k, Err(NmfError::InvalidModel(_))),
        "{zero_k:?}"
    );
}
