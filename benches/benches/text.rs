//! Tokenizer and vectorizer throughput on the 20 Newsgroups corpus (all 18,846
//! documents, headers, footers and quotes removed) in MB/s: text already in
//! memory, the tarball load itself, and the pipelined load-and-fit from the
//! tarball; the fitted vectorizer's transform, from memory and pipelined from
//! the tarball. Skipped with a note when the corpus is missing.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use topicmill_text::{
    load_20newsgroups, DocFreq, NewsgroupsOptions, Remove, StopWords, Subset, TfidfParams,
    Tokenizer,
};

fn options() -> NewsgroupsOptions {
    NewsgroupsOptions {
        subset: Subset::All,
        categories: None,
        remove: Remove::ALL,
    }
}

fn bench(c: &mut Criterion) {
    let Some(tarball) = topicmill_testdata::require("20news-bydate/20news-bydate.tar.gz") else {
        return;
    };
    let docs = load_20newsgroups(&tarball, &options()).expect("20news loads");
    let bytes: usize = docs.texts.iter().map(String::len).sum();

    let mut group = c.benchmark_group("text");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("tokenize_20news_all", |b| {
        let mut tokenizer = Tokenizer::new();
        b.iter(|| {
            let mut n = 0usize;
            for text in &docs.texts {
                tokenizer.for_each(text, |t| n += t.len());
            }
            n
        })
    });
    // Vectorizer throughput in bytes of (cleaned) text, as the tokenizer's.
    let params = TfidfParams::default()
        .stop_words(Some(StopWords::English))
        .min_df(DocFreq::Count(2));
    group.bench_function("fit_transform_20news_all", |b| {
        b.iter(|| params.fit_transform(&docs.texts).expect("fits"))
    });
    // New documents through the fitted vectorizer (`topicmill vectorize
    // --vectorizer-from`): here the fitted documents themselves.
    let (fitted, _) = params.fit_transform(&docs.texts).expect("fits");
    group.bench_function("transform_20news_all", |b| {
        b.iter(|| fitted.transform(&docs.texts))
    });
    // From the tarball: in bytes of the .tar.gz file.
    let gz_bytes = std::fs::metadata(&tarball).expect("tarball").len();
    group.throughput(Throughput::Bytes(gz_bytes));
    group.bench_function("load_20news_all_from_tarball", |b| {
        b.iter(|| load_20newsgroups(&tarball, &options()).expect("loads"))
    });
    // The pipelined load-and-fit that `topicmill vectorize --input 20news` runs.
    group.bench_function("fit_transform_20news_all_from_tarball", |b| {
        b.iter(|| {
            params
                .fit_transform_20newsgroups(&tarball, &options())
                .expect("fits")
        })
    });
    // The pipelined load-and-transform of `--vectorizer-from`.
    group.bench_function("transform_20news_all_from_tarball", |b| {
        b.iter(|| {
            fitted
                .transform_20newsgroups(&tarball, &options())
                .expect("transforms")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
