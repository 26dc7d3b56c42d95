#!/usr/bin/env python3
"""Fit scikit-learn's NMF on a topicmill corpus export and save W and H as .npy,
so that `topicmill evaluate` scores scikit-learn's model with the same code as
topicmill's (issue 7: "coherence, diversity and NMI at least scikit-learn's").

    topicmill vectorize --input 20news TARBALL --subset all --min-df 2 \
        --stop-words english --remove headers,footers,quotes -o CORPUS --export EXPORT
    .venv/bin/python scripts/score_sklearn.py EXPORT -k 20 --out SKDIR
    topicmill evaluate --w-npy SKDIR/W.npy --h-npy SKDIR/H.npy CORPUS

EXPORT holds `matrix.mtx` (documents × terms, MatrixMarket) and `vocab.txt`,
as written by `topicmill vectorize --export`. The defaults mirror `topicmill
fit`: init nndsvda, coordinate descent (HALS), 200 iterations, tol 1e-4,
seed 0. W.npy is n × k and H.npy k × m, float32, C order; `meta.json` records
the parameters, iterations, timing and scikit-learn's own reconstruction_err_.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import scipy.io
import sklearn
from sklearn.decomposition import NMF


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("export", help="folder written by `topicmill vectorize --export`")
    p.add_argument("-k", type=int, required=True, help="number of topics")
    p.add_argument("--out", required=True, help="folder for W.npy, H.npy, meta.json")
    p.add_argument("--init", default="nndsvda", choices=["random", "nndsvd", "nndsvda", "nndsvdar"])
    p.add_argument("--solver", default="cd", choices=["cd", "mu"], help="cd = HALS (topicmill's default)")
    p.add_argument("--max-iter", type=int, default=200)
    p.add_argument("--tol", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    x = scipy.io.mmread(os.path.join(args.export, "matrix.mtx")).tocsr().astype(np.float32)
    with open(os.path.join(args.export, "vocab.txt"), encoding="utf-8") as f:
        n_vocab = sum(1 for _ in f)
    if n_vocab != x.shape[1]:
        print(f"error: {args.export}: vocab.txt has {n_vocab} terms but matrix.mtx has {x.shape[1]} columns",
              file=sys.stderr)
        return 1

    model = NMF(n_components=args.k, init=args.init, solver=args.solver, max_iter=args.max_iter,
                tol=args.tol, random_state=args.seed)
    start = time.perf_counter()
    w = model.fit_transform(x)
    seconds = time.perf_counter() - start
    h = model.components_

    os.makedirs(args.out, exist_ok=True)
    np.save(os.path.join(args.out, "W.npy"), np.ascontiguousarray(w, dtype=np.float32))
    np.save(os.path.join(args.out, "H.npy"), np.ascontiguousarray(h, dtype=np.float32))
    x_norm = float(np.sqrt((x.data.astype(np.float64) ** 2).sum()))
    meta = {
        "sklearn": sklearn.__version__,
        "shape": list(x.shape),
        "nnz": int(x.nnz),
        "k": args.k,
        "init": args.init,
        "solver": args.solver,
        "max_iter": args.max_iter,
        "tol": args.tol,
        "seed": args.seed,
        "n_iter": int(model.n_iter_),
        "seconds": seconds,
        "reconstruction_err": float(model.reconstruction_err_),
        "relative_error": float(model.reconstruction_err_) / x_norm,
    }
    with open(os.path.join(args.out, "meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(json.dumps(meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
