//! The 20 Newsgroups figures of scikit-learn 1.9.1 (`fetch_20newsgroups` +
//! `TfidfVectorizer`), on the shared corpus.

use topicmill_text::{
    count_20newsgroups_files, load_20newsgroups, load_20newsgroups_counting, DocFreq,
    NewsgroupsOptions, ReferenceMatrix, Remove, StopWords, Subset, TfidfParams,
};

const TARBALL: &str = "20news-bydate/20news-bydate.tar.gz";

/// The seed's selection with another `remove`.
fn four_categories(remove: Remove) -> NewsgroupsOptions {
    NewsgroupsOptions {
        remove,
        ..NewsgroupsOptions::seed()
    }
}

#[test]
fn four_categories_stripped_with_english_stop_words() {
    let Some(tarball) = topicmill_testdata::require(TARBALL) else {
        return;
    };
    let docs = load_20newsgroups(&tarball, &NewsgroupsOptions::seed()).unwrap();
    assert_eq!(docs.len(), 2034);
    let params = TfidfParams::default().stop_words(Some(StopWords::English));
    let (model, x) = params.fit_transform(&docs.texts).unwrap();
    assert_eq!(x.shape(), (2034, 26576));
    assert_eq!(x.nnz(), 133_634);
    assert_eq!(model.vocabulary().len(), 26576);
    assert_eq!(ReferenceMatrix::Seed.build(&tarball).unwrap(), x);
    // Order: train, category, file number; ids are group/number.
    assert_eq!(docs.ids[0], "alt.atheism/49960");
    assert_eq!(docs.labels.as_ref().unwrap()[0], "alt.atheism");
    assert!(docs.ids.last().unwrap().starts_with("talk.religion.misc/"));
    // Every non-empty row has unit length.
    for row in x.outer_iterator() {
        if row.nnz() > 0 {
            let norm: f64 = row.data().iter().map(|&v| f64::from(v).powi(2)).sum();
            assert!((norm - 1.0).abs() < 1e-5);
        }
    }
}

#[test]
fn four_categories_with_headers() {
    let Some(tarball) = topicmill_testdata::require(TARBALL) else {
        return;
    };
    let docs = load_20newsgroups(&tarball, &four_categories(Remove::default())).unwrap();
    // The whole archive's files per split, counted alone or while loading.
    let (counted, files) =
        load_20newsgroups_counting(&tarball, &four_categories(Remove::default())).unwrap();
    assert_eq!(counted, docs);
    assert_eq!(files, Some((11_314, 7_532)));
    assert_eq!(count_20newsgroups_files(&tarball).unwrap(), (11_314, 7_532));
    let (_, x) = TfidfParams::default().fit_transform(&docs.texts).unwrap();
    assert_eq!(x.shape(), (2034, 34118));
    // scikit-learn's documentation: 159.01327... non-zeros per document.
    let per_doc = x.nnz() as f64 / 2034.0;
    assert!((per_doc - 159.0132743).abs() < 1e-6, "{per_doc}");
}

#[test]
fn all_documents_stripped_english_min_df_2_one_and_two_threads() {
    let Some(tarball) = topicmill_testdata::require(TARBALL) else {
        return;
    };
    let options = NewsgroupsOptions::all_stripped();
    let docs = load_20newsgroups(&tarball, &options).unwrap();
    assert_eq!(docs.len(), 18846);
    // The "same removal, min_df=2" keeps the English stop words:
    // scikit-learn 1.9.1 gives 18846 x 51840 with them, 18846 x 52149 without
    // (checked below too).
    let params = TfidfParams::default()
        .stop_words(Some(StopWords::English))
        .min_df(DocFreq::Count(2));
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| params.fit_transform(&docs.texts))
            .unwrap()
    };
    let (model, x) = run(2);
    assert_eq!(x.shape(), (18846, 51840));
    assert_eq!(x.nnz(), 1_147_174);
    let empty = x.outer_iterator().filter(|r| r.nnz() == 0).count();
    assert_eq!(empty, 554);
    let (model1, x1) = run(1);
    assert_eq!(model.vocabulary(), model1.vocabulary());
    assert_eq!(x, x1);
    // The pipelined load-and-fit gives the same documents, vocabulary, idf
    // and matrix, on one thread or two.
    for threads in [1, 2] {
        let (fused_docs, fused_model, fused_x) = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| params.fit_transform_20newsgroups(&tarball, &options))
            .unwrap();
        assert_eq!(fused_docs, docs);
        assert_eq!(fused_model.vocabulary(), model.vocabulary());
        assert_eq!(fused_model.idf(), model.idf());
        assert_eq!(fused_x, x);
    }
    // Without the texts: the same ids, labels, model and matrix, and one
    // empty text per document.
    let (lean_docs, lean_model, lean_x) = params
        .fit_transform_20newsgroups_without_texts(&tarball, &options)
        .unwrap();
    assert_eq!(lean_docs.ids, docs.ids);
    assert_eq!(lean_docs.labels, docs.labels);
    assert_eq!(lean_docs.len(), docs.len());
    assert!(lean_docs.texts.iter().all(String::is_empty));
    assert_eq!(lean_model.vocabulary(), model.vocabulary());
    assert_eq!(lean_model.idf(), model.idf());
    assert_eq!(lean_x, x);
    // Its term index is built beside the rows: transforming fitted documents
    // gives back their rows.
    assert_eq!(
        lean_model.transform(&docs.texts[..50]),
        x.slice_outer(0..50).to_owned()
    );
    // Transforming the tarball pipelined gives back all of them, on one
    // thread or two.
    for threads in [1, 2] {
        let (through_docs, through) = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| lean_model.transform_20newsgroups(&tarball, &options))
            .unwrap();
        assert_eq!(through_docs.ids, docs.ids);
        assert_eq!(through, x);
    }
    // On its own (fixed) vocabulary, the fit gives its own matrix again, to
    // the bit: the same document frequencies, so the same idf. The terms
    // min_df pruned are the documents' terms the vocabulary lacks.
    let (_, fixed_model, fixed_x, matched) = params
        .fit_transform_20newsgroups_with_vocabulary(model.vocabulary(), &tarball, &options)
        .unwrap();
    assert_eq!(fixed_model.idf(), model.idf());
    assert_eq!(fixed_x, x);
    let (every_term, _) = TfidfParams::default()
        .stop_words(Some(StopWords::English))
        .fit_transform(&docs.texts)
        .unwrap();
    assert_eq!(every_term.vocabulary().len(), 134_101);
    assert_eq!(
        (matched.unmatched_terms, matched.unused_terms),
        (134_101 - 51_840, 0)
    );
    let (_, no_stop) = TfidfParams::default()
        .min_df(DocFreq::Count(2))
        .fit_transform(&docs.texts)
        .unwrap();
    assert_eq!(no_stop.shape(), (18846, 52149));
    assert_eq!(no_stop.nnz(), 1_723_850);
    assert_eq!(
        no_stop.outer_iterator().filter(|r| r.nnz() == 0).count(),
        538
    );
}

#[test]
fn subsets_and_unknown_category() {
    let Some(tarball) = topicmill_testdata::require(TARBALL) else {
        return;
    };
    let test = NewsgroupsOptions {
        subset: Subset::Test,
        categories: Some(vec!["sci.space".into()]),
        remove: Remove::default(),
    };
    let docs = load_20newsgroups(&tarball, &test).unwrap();
    assert_eq!(docs.len(), 394);
    let bad = NewsgroupsOptions {
        categories: Some(vec!["sci.spaec".into()]),
        ..test
    };
    let err = load_20newsgroups(&tarball, &bad).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown 20 Newsgroups category `sci.spaec`"
    );
}
