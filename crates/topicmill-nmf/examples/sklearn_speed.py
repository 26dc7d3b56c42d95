#!/usr/bin/env python3
"""scikit-learn's side of the NMF speed figures (the `real` example is
topicmill's side): the same 20 Newsgroups TF-IDF matrices, the same cases.

    PY=$(bash scripts/venv.sh | tail -1)
    $PY crates/topicmill-nmf/examples/sklearn_speed.py [--repeat N] [--cases seed,mu,cd,kl]

Matrices (scikit-learn's `fetch_20newsgroups`, pointed at the shared tarball
as scripts/compare_vectorizer.py does, then `TfidfVectorizer`, float64):
- seed: train, 4 categories, headers/footers/quotes removed, English stop
  words (2034 × 26576);
- full: all 18846 documents, same removal, English stop words, min_df=2
  (18846 × 51840, 1147174 non-zeros).

Cases (best of --repeat runs each):
- seed: NMF(4, init='nndsvda', solver='mu', max_iter=200, tol=0), whole fit.
- mu:   full, k=20, nndsvda, MU, tol=0: per iteration = (t(60) − t(10)) / 50.
- cd:   full, k=20, nndsvda, coordinate descent at the defaults (tol 1e-4):
        whole fit time, iterations, reconstruction_err_ (the HALS target),
        and the relative error after 200 iterations with tol=0.
- kl:   full, k=20, nndsvda, MU, beta_loss='kullback-leibler', tol=0:
        per iteration = (t(30) − t(10)) / 20.
- f32:  full, k=20, nndsvda, MU, float32 input, 200 iterations: any NaN?
"""
import argparse
import os
import sys
import tempfile
import time
import warnings

import numpy as np
import sklearn
from sklearn.datasets import fetch_20newsgroups
from sklearn.decomposition import NMF
from sklearn.feature_extraction.text import TfidfVectorizer

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "scripts"))
from compare_vectorizer import sklearn_home  # noqa: E402

FOUR = ["alt.atheism", "talk.religion.misc", "comp.graphics", "sci.space"]
REMOVE = ("headers", "footers", "quotes")


def best(f, repeat):
    times = []
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return min(times), out


def fit(x, k, **kw):
    warnings.simplefilter("ignore")
    m = NMF(n_components=k, init="nndsvda", random_state=0, **kw)
    w = m.fit_transform(x)
    return m, w


def rel_err(x, m):
    return m.reconstruction_err_ / np.sqrt(x.multiply(x).sum())


def main():
    data_dir = os.environ.get("TOPICMILL_DATA", os.path.join(REPO, "..", "shared", "datasets"))
    ap = argparse.ArgumentParser()
    ap.add_argument("--tarball", default=os.path.join(data_dir, "20news-bydate", "20news-bydate.tar.gz"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cases", default="seed,mu,cd,kl,f32")
    args = ap.parse_args()
    cases = args.cases.split(",")
    print(f"scikit-learn {sklearn.__version__}, numpy {np.__version__}", flush=True)
    with tempfile.TemporaryDirectory(prefix="topicmill-nmf-sk-") as tmp:
        sklearn_home(args.tarball, tmp)
        four = fetch_20newsgroups(data_home=tmp, download_if_missing=False, subset="train",
                                  categories=FOUR, remove=REMOVE)
        full = fetch_20newsgroups(data_home=tmp, download_if_missing=False, subset="all",
                                  remove=REMOVE)
    xs = TfidfVectorizer(stop_words="english").fit_transform(four.data)
    xf = TfidfVectorizer(stop_words="english", min_df=2).fit_transform(full.data)
    print(f"seed matrix {xs.shape} nnz={xs.nnz}; full matrix {xf.shape} nnz={xf.nnz}", flush=True)
    r = args.repeat
    if "seed" in cases:
        t, (m, _) = best(lambda: fit(xs, 4, solver="mu", max_iter=200, tol=0), r)
        print(f"seed k=4 MU 200 it: {t * 1e3:.1f} ms (whole fit), rel err {rel_err(xs, m):.6f}", flush=True)
    if "mu" in cases:
        t10, _ = best(lambda: fit(xf, 20, solver="mu", max_iter=10, tol=0), r)
        t60, (m, _) = best(lambda: fit(xf, 20, solver="mu", max_iter=60, tol=0), r)
        print(f"full k=20 MU float64: {(t60 - t10) / 50 * 1e3:.2f} ms/iteration "
              f"(t10 {t10:.3f} s, t60 {t60:.3f} s)", flush=True)
    if "cd" in cases:
        t, (m, _) = best(lambda: fit(xf, 20, solver="cd"), r)
        print(f"full k=20 CD defaults: {t:.3f} s, {m.n_iter_} iterations, "
              f"reconstruction_err_ {m.reconstruction_err_:.6f}, rel err {rel_err(xf, m):.6f}", flush=True)
        m, _ = fit(xf, 20, solver="cd", max_iter=200, tol=0)
        print(f"full k=20 CD 200 it tol 0: rel err {rel_err(xf, m):.6f}", flush=True)
    if "kl" in cases:
        kw = dict(solver="mu", beta_loss="kullback-leibler", tol=0)
        t10, _ = best(lambda: fit(xf, 20, max_iter=10, **kw), r)
        t30, _ = best(lambda: fit(xf, 20, max_iter=30, **kw), r)
        print(f"full k=20 KL-MU float64: {(t30 - t10) / 20 * 1e3:.2f} ms/iteration "
              f"(t10 {t10:.3f} s, t30 {t30:.3f} s)", flush=True)
    if "f32" in cases:
        x32 = xf.astype(np.float32)
        m, w = fit(x32, 20, solver="mu", max_iter=200, tol=0)
        h = m.components_
        print(f"full k=20 MU float32 200 it: NaN in W {np.isnan(w).sum()}, NaN in H {np.isnan(h).sum()}",
              flush=True)


if __name__ == "__main__":
    main()
