//! The real UCI corpora import with their published shapes, and survive a corpus
//! round trip.

use std::path::Path;

use topicmill_sparse::{read_docword, read_vocab, write_corpus, Corpus};

fn check(docword: &str, vocab: &str, shape: (usize, usize), nnz: usize) {
    let Some(docword) = topicmill_testdata::require(docword) else {
        return;
    };
    let vocab = topicmill_testdata::require(vocab).expect("vocab beside docword");
    let x = read_docword(&docword).unwrap();
    assert_eq!(x.shape(), shape);
    assert_eq!(x.nnz(), nnz);

    // UCI files are grouped by document: streaming them row by row gives the
    // same matrix.
    let mut indptr = vec![0u64];
    let (mut indices, mut data) = (Vec::new(), Vec::new());
    topicmill_sparse::DocwordReader::open(&docword)
        .unwrap()
        .stream_rows(|i, v| {
            indices.extend_from_slice(i);
            data.extend_from_slice(v);
            indptr.push(indices.len() as u64);
            Ok(())
        })
        .unwrap();
    assert_eq!(indptr.as_slice(), x.indptr().raw_storage());
    assert_eq!(indices, x.indices());
    assert_eq!(data, x.data());
    let words = read_vocab(&vocab).unwrap();
    assert_eq!(words.len(), shape.1);

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("corpus");
    let ids: Vec<String> = (1..=shape.0).map(|i| i.to_string()).collect();
    write_corpus(&out, x.view(), &words, &ids, None, serde_json::json!({})).unwrap();
    let corpus = Corpus::open(&out).unwrap();
    corpus.verify().unwrap();
    assert_eq!(corpus.matrix(), x.view());
    assert_eq!(corpus.transpose().shape(), (shape.1, shape.0));
    assert_eq!(corpus.vocabulary(), &words[..]);
    assert_eq!(corpus.doc_ids()[0], "1");
    // The sum of all counts is the same seen from either side.
    let sum = |v: &[f32]| v.iter().map(|&x| f64::from(x)).sum::<f64>();
    assert_eq!(sum(corpus.matrix().data()), sum(corpus.transpose().data()));
    assert!(Path::new(&out).join("manifest.json").exists());
}

#[test]
fn kos_imports_as_3430_by_6906() {
    check(
        "uci-bow/docword.kos.txt.gz",
        "uci-bow/vocab.kos.txt",
        (3430, 6906),
        353_160,
    );
}

#[test]
fn nips_imports_as_1500_by_12419() {
    check(
        "uci-bow/docword.nips.txt.gz",
        "uci-bow/vocab.nips.txt",
        (1500, 12419),
        746_316,
    );
}
