#!/usr/bin/env python3
"""Side-by-side check of `topicmill vectorize` against scikit-learn.

For each case, scikit-learn's own 20 Newsgroups loader (`fetch_20newsgroups`,
fed the shared tarball through the cache it builds with `load_files(...,
encoding="latin1")`) and `TfidfVectorizer` give the reference; topicmill runs
on the tarball and exports its matrix. Vocabularies must be equal and every
TF-IDF value equal to 1e-6, matched per document id (`group/number`): the two
tools order documents differently (scikit-learn shuffles). One more case
vectorizes the test split onto the train split's vocabulary
(`--vocabulary-from TRAIN --no-new-terms`) against
`TfidfVectorizer(vocabulary=...)`, and one more through the train split's
fitted vectorizer (`--vectorizer-from TRAIN`, with min_df, sublinear tf and
no idf smoothing) against `TfidfVectorizer(...).fit(train).transform(test)`;
the same on all 7,532 test documents through all 11,314 train documents'
vectorizer, whose `transform` is also timed on both sides.

Then both sides are timed in the same run on all 18,846 documents: scikit-learn's
`fit_transform` on text already in memory, topicmill from the tarball
(reading, decompressing, stripping and vectorizing: the time topicmill reports
before writing its output; and the wall time of the whole process, which also
writes the binary corpus directory). Best of --repeat runs on each side.
Exits 1 on any mismatch.

Usage: compare_vectorizer.py [--topicmill BIN] [--tarball PATH] [--repeat N]
"""
import argparse
import codecs
import os
import pickle
import re
import resource
import subprocess
import sys
import tarfile
import tempfile
import time

import numpy as np
import scipy.io
import scipy.sparse as sp
import sklearn
from sklearn.datasets import fetch_20newsgroups, load_files
from sklearn.datasets._base import _pkl_filepath
from sklearn.datasets._twenty_newsgroups import CACHE_NAME
from sklearn.feature_extraction.text import TfidfVectorizer

FOUR = ["alt.atheism", "talk.religion.misc", "comp.graphics", "sci.space"]
ALL_REMOVED = ("headers", "footers", "quotes")
# max_features keeps the most frequent terms. At a tie on the cut-off count,
# scikit-learn keeps whichever terms numpy's unstable argsort puts first (its
# SIMD sort on AVX-512 machines makes that platform-dependent), topicmill the
# first in vocabulary order. So the case takes the largest limit <= 5000 that
# does not cut through a tie (found with scikit-learn's own counts).
UNTIED = "untied<=5000"

# name, fetch kwargs, TfidfVectorizer kwargs, topicmill flags, expected (rows, cols, nnz)
CASES = [
    (
        "4 categories, train, stripped, english stop words",
        dict(subset="train", categories=FOUR, remove=ALL_REMOVED),
        dict(stop_words="english"),
        ["--subset", "train", "--categories", ",".join(FOUR),
         "--remove", "headers,footers,quotes", "--stop-words", "english"],
        (2034, 26576, 133634),
    ),
    (
        "4 categories, train, headers kept, defaults",
        dict(subset="train", categories=FOUR),
        dict(),
        ["--subset", "train", "--categories", ",".join(FOUR)],
        (2034, 34118, None),
    ),
    (
        "4 categories, test, footers+quotes, options",
        dict(subset="test", categories=FOUR, remove=("footers", "quotes")),
        dict(min_df=0.002, max_df=0.5, max_features=UNTIED, norm="l1",
             sublinear_tf=True, smooth_idf=False),
        ["--subset", "test", "--categories", ",".join(FOUR),
         "--remove", "footers,quotes", "--min-df", "0.002", "--max-df", "0.5",
         "--max-features", UNTIED, "--norm", "l1", "--sublinear-tf", "--no-smooth-idf"],
        None,
    ),
    (
        "all 18846, stripped, english stop words, min_df=2",
        dict(subset="all", remove=ALL_REMOVED),
        dict(stop_words="english", min_df=2),
        ["--subset", "all", "--remove", "headers,footers,quotes",
         "--stop-words", "english", "--min-df", "2"],
        (18846, 51840, 1147174),
    ),
]
TIMED = 3  # index of the case timed


def sklearn_home(tarball, home):
    """The cache `fetch_20newsgroups` reads, built as its own downloader does."""
    cache_path = _pkl_filepath(home, CACHE_NAME)
    if os.path.exists(cache_path):
        return
    twenty_home = os.path.join(home, "20news_home")
    os.makedirs(twenty_home, exist_ok=True)
    with tarfile.open(tarball, "r:gz") as fp:
        fp.extractall(path=twenty_home, filter="data")
    cache = dict(
        train=load_files(os.path.join(twenty_home, "20news-bydate-train"), encoding="latin1"),
        test=load_files(os.path.join(twenty_home, "20news-bydate-test"), encoding="latin1"),
    )
    with open(cache_path, "wb") as f:
        f.write(codecs.encode(pickle.dumps(cache), "zlib_codec"))


def untied_limit(texts, vec, at_most):
    from sklearn.feature_extraction.text import CountVectorizer
    keep = {k: v for k, v in vec.items() if k in ("min_df", "max_df", "stop_words")}
    counts = np.asarray(CountVectorizer(**keep).fit_transform(texts).sum(axis=0)).ravel()
    tfs = np.sort(counts)[::-1]
    k = min(at_most, len(tfs) - 1)
    while k > 1 and tfs[k - 1] == tfs[k]:
        k -= 1
    return int(k)


def doc_id(filename):
    parts = filename.replace("\\", "/").split("/")
    return parts[-2] + "/" + parts[-1]


def run_topicmill(binary, tarball, flags, out, corpus=False):
    output = ["--out", out, "--overwrite"] if corpus else ["--export", out]
    cmd = [binary, "vectorize", "--input", "20news", tarball] + output + flags
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    run_topicmill.cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        sys.exit(f"topicmill failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr}")
    # 20 Newsgroups is read and vectorized in one pipelined pass
    # ("read+vectorize X s"); other inputs report the two phases.
    m = re.search(r"read\+vectorize ([0-9.]+) s", proc.stderr)
    if m:
        inner = float(m.group(1))
    else:
        m = re.search(r"read ([0-9.]+) s, vectorize ([0-9.]+) s", proc.stderr)
        inner = float(m.group(1)) + float(m.group(2)) if m else float("nan")
    return wall, inner, cmd


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def compare(name, data, x_ref, vocab_ref, out):
    problems = []
    vocab = read_lines(os.path.join(out, "vocab.txt"))
    ids = read_lines(os.path.join(out, "ids.txt"))
    x = sp.csr_matrix(scipy.io.mmread(os.path.join(out, "matrix.mtx")))
    if vocab != list(vocab_ref):
        only_ours = sorted(set(vocab) - set(vocab_ref))[:10]
        only_ref = sorted(set(vocab_ref) - set(vocab))[:10]
        problems.append(f"vocabulary differs ({len(vocab)} vs {len(vocab_ref)}): "
                        f"only ours {only_ours}, only scikit-learn {only_ref}")
        return problems, x.shape, x.nnz
    ref_ids = [doc_id(f) for f in data.filenames]
    if sorted(ids) != sorted(ref_ids):
        problems.append("document ids differ")
        return problems, x.shape, x.nnz
    row_of = {d: i for i, d in enumerate(ref_ids)}
    x_ref = sp.csr_matrix(x_ref)[[row_of[d] for d in ids]]
    x_ref.sort_indices()
    x.sort_indices()
    if x.shape != x_ref.shape:
        problems.append(f"shape {x.shape} vs {x_ref.shape}")
    pattern = (x != 0).astype(np.int8) - (x_ref != 0).astype(np.int8)
    if pattern.count_nonzero():
        problems.append(f"{pattern.count_nonzero()} positions differ in sparsity")
    diff = abs(x - x_ref)
    worst = diff.max() if diff.nnz else 0.0
    if worst > 1e-6:
        r, c = np.unravel_index(np.argmax(diff.toarray()) if diff.shape[0] * diff.shape[1] < 5e7
                                else 0, diff.shape)
        problems.append(f"max |difference| {worst:.3g} > 1e-6 (e.g. doc {ids[r]}, term {vocab[c]!r})")
    print(f"  values: max |ours - scikit-learn| = {worst:.2e} over {x.nnz} non-zeros")
    return problems, x.shape, x.nnz


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    data_dir = os.environ.get("TOPICMILL_DATA", os.path.join(repo, "..", "shared", "datasets"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--topicmill", default=os.path.join(repo, "target", "release", "topicmill"))
    ap.add_argument("--tarball", default=os.path.join(data_dir, "20news-bydate", "20news-bydate.tar.gz"))
    ap.add_argument("--repeat", type=int, default=3, help="timing runs per side (best is kept)")
    args = ap.parse_args()
    if not os.path.exists(args.tarball):
        sys.exit(f"tarball not found: {args.tarball} (set TOPICMILL_DATA)")
    if not os.access(args.topicmill, os.X_OK):
        sys.exit(f"topicmill binary not found: {args.topicmill} (cargo build --release)")
    print(f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}")
    failures = 0
    with tempfile.TemporaryDirectory(prefix="topicmill-compare-") as tmp:
        home = os.path.join(tmp, "sklearn_home")
        sklearn_home(args.tarball, home)
        timed = None
        for k, (name, fetch, vec, flags, expected) in enumerate(CASES):
            print(f"[{name}]")
            data = fetch_20newsgroups(data_home=home, download_if_missing=False, **fetch)
            if vec.get("max_features") == UNTIED:
                vec = dict(vec, max_features=untied_limit(data.data, vec, 5000))
                flags = [str(vec["max_features"]) if f == UNTIED else f for f in flags]
                print(f"  max_features = {vec['max_features']} (no tie at the cut-off)")
            vectorizer = TfidfVectorizer(**vec)
            x_ref = vectorizer.fit_transform(data.data)
            vocab_ref = vectorizer.get_feature_names_out()
            out = os.path.join(tmp, f"case{k}")
            run_topicmill(args.topicmill, args.tarball, flags, out)
            stale = []
            if expected is not None:
                rows, cols, want_nnz = expected
                if x_ref.shape != (rows, cols) or (want_nnz is not None and x_ref.nnz != want_nnz):
                    stale.append(f"scikit-learn itself no longer gives {expected}")
            failures += report(name, data, x_ref, vocab_ref, out, stale)
            if k == TIMED:
                timed = (data, vec, flags)
        failures += fixed_vocabulary_case(args, home, tmp)
        failures += fitted_vectorizer_case(
            args, home, tmp, "fitted", FOUR,
            ["--stop-words", "english", "--min-df", "2", "--sublinear-tf", "--no-smooth-idf"],
            dict(stop_words="english", min_df=2, sublinear_tf=True, smooth_idf=False),
            "4 categories, test, stripped, through the train split's vectorizer "
            "(english stop words, min_df 2, sublinear tf, no idf smoothing)")
        failures += fitted_vectorizer_case(
            args, home, tmp, "all", None, ["--stop-words", "english", "--min-df", "2"],
            dict(stop_words="english", min_df=2),
            "all 7532 test documents through the train split's vectorizer (min_df 2), timed",
            timed=True)
        data, vec, flags = timed
        n = len(data.data)
        sk_runs = [_time(lambda: TfidfVectorizer(**vec).fit_transform(data.data))
                   for _ in range(args.repeat)]
        sk = min(r[0] for r in sk_runs)
        sk_cpu = min(r[1] for r in sk_runs)
        runs, cpus = [], []
        for _ in range(args.repeat):
            runs.append(run_topicmill(args.topicmill, args.tarball, flags,
                                      os.path.join(tmp, "timed"), True))
            cpus.append(run_topicmill.cpu)
        cpu = min(cpus)
        wall = min(r[0] for r in runs)
        inner = min(r[1] for r in runs)
        print(f"[throughput, {n} documents, best of {args.repeat}]")
        print(f"  scikit-learn TfidfVectorizer.fit_transform (text in memory): "
              f"{sk:.3f} s = {n / sk:,.0f} docs/s")
        print(f"  topicmill from the .tar.gz (inflate+untar+strip+vectorize, tarball reading INCLUDED): "
              f"{inner:.3f} s = {n / inner:,.0f} docs/s")
        print(f"  throughput ratio topicmill / scikit-learn = {sk / inner:.2f}x "
              f"({n / inner:,.0f} vs {n / sk:,.0f} docs/s)")
        print(f"  topicmill process wall time (incl. writing the corpus dir):  "
              f"{wall:.3f} s = {n / wall:,.0f} docs/s  -> {sk / wall:.2f}x scikit-learn")
        print(f"  CPU time (user+sys; comparable when the machine is busy): scikit-learn "
              f"{sk_cpu:.3f} s, topicmill whole process {cpu:.3f} s -> {sk_cpu / cpu:.2f}x; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"  command: {' '.join(runs[0][2])}")
    cases = len(CASES) + 3
    if failures:
        print(f"{failures} of {cases} cases differ from scikit-learn")
        return 1
    print(f"all {cases} cases equal to scikit-learn (vocabulary, ids, every value to 1e-6)")
    return 0


def fixed_vocabulary_case(args, home, tmp):
    """The test split vectorized onto the train split's vocabulary
    (`--vocabulary-from TRAIN --no-new-terms`) against
    `TfidfVectorizer(vocabulary=train_vocabulary).fit_transform(test)`.
    Returns 1 if they differ."""
    name = "4 categories, test, stripped, english stop words, on the train vocabulary"
    print(f"[{name}]")
    common = ["--categories", ",".join(FOUR), "--remove", "headers,footers,quotes",
              "--stop-words", "english"]
    train = os.path.join(tmp, "train_corpus")
    run_topicmill(args.topicmill, args.tarball, ["--subset", "train"] + common, train, True)
    vocabulary = read_lines(os.path.join(train, "vocab.txt"))
    data = fetch_20newsgroups(data_home=home, download_if_missing=False, subset="test",
                              categories=FOUR, remove=ALL_REMOVED)
    vectorizer = TfidfVectorizer(stop_words="english", vocabulary=vocabulary)
    x_ref = vectorizer.fit_transform(data.data)
    out = os.path.join(tmp, "fixed")
    flags = ["--subset", "test"] + common + ["--vocabulary-from", train, "--no-new-terms"]
    run_topicmill(args.topicmill, args.tarball, flags, out)
    return report(name, data, x_ref, vectorizer.get_feature_names_out(), out)


def fitted_vectorizer_case(args, home, tmp, tag, categories, options, vec, name, timed=False):
    """The test split through the train split's fitted vectorizer
    (`--vectorizer-from TRAIN`: its vocabulary, idf and options, read back
    from the train corpus directory, made with `options`) against
    `TfidfVectorizer(**vec).fit(train).transform(test)`, both stripped and
    on `categories` (None: all 20). With `timed`, both transforms are then
    timed, best of --repeat on each side: scikit-learn's on text already in
    memory, topicmill's from the tarball (reading included, writing not).
    Returns 1 if the values differ."""
    print(f"[{name}]")
    common = ["--remove", "headers,footers,quotes"]
    if categories:
        common += ["--categories", ",".join(categories)]
    train = os.path.join(tmp, f"{tag}_train_corpus")
    run_topicmill(args.topicmill, args.tarball, ["--subset", "train"] + common + options,
                  train, True)
    fetch = dict(data_home=home, download_if_missing=False, categories=categories,
                 remove=ALL_REMOVED)
    vectorizer = TfidfVectorizer(**vec)
    vectorizer.fit(fetch_20newsgroups(subset="train", **fetch).data)
    data = fetch_20newsgroups(subset="test", **fetch)
    x_ref = vectorizer.transform(data.data)
    out = os.path.join(tmp, tag)
    flags = ["--subset", "test"] + common + ["--vectorizer-from", train]
    run_topicmill(args.topicmill, args.tarball, flags, out)
    differs = report(name, data, x_ref, vectorizer.get_feature_names_out(), out)
    if timed:
        n = len(data.data)
        sk = min(_time(lambda: vectorizer.transform(data.data))[0] for _ in range(args.repeat))
        ours = min(run_topicmill(args.topicmill, args.tarball, flags,
                                 os.path.join(tmp, f"{tag}_timed"), True)[1]
                   for _ in range(args.repeat))
        print(f"  transform, best of {args.repeat}: scikit-learn (text in memory) {sk:.3f} s "
              f"= {n / sk:,.0f} docs/s; topicmill from the .tar.gz (reading included) "
              f"{ours:.3f} s = {n / ours:,.0f} docs/s: {sk / ours:.2f}x")
    return differs


def report(name, data, x_ref, vocab_ref, out, problems=()):
    """Compares topicmill's export in `out` with scikit-learn's `x_ref`,
    prints both shapes and every mismatch (with `problems` found before).
    Returns 1 if there is any."""
    found, shape, nnz = compare(name, data, x_ref, vocab_ref, out)
    found = found + list(problems)
    print(f"  topicmill {shape[0]} x {shape[1]}, {nnz} non-zeros; "
          f"scikit-learn {x_ref.shape[0]} x {x_ref.shape[1]}, {x_ref.nnz} non-zeros")
    for p in found:
        print(f"  MISMATCH: {p}")
    return int(bool(found))


def _time(f):
    start, cpu = time.perf_counter(), time.process_time()
    f()
    return time.perf_counter() - start, time.process_time() - cpu


if __name__ == "__main__":
    sys.exit(main())
