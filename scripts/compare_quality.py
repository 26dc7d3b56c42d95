#!/usr/bin/env python3
"""Topic quality of topicmill against scikit-learn, scored by the same code.

Vectorizes all 18846 documents of 20 Newsgroups (headers, footers and quotes
removed, English stop words, min_df=2), fits k topics with topicmill (HALS) and
with scikit-learn (coordinate descent, scripts/score_sklearn.py), both from
NNDSVDa with the same iteration cap and tolerance, then scores both factor
pairs with `topicmill evaluate`: NPMI coherence, diversity, relative error and
NMI/ARI/purity against the newsgroup labels. Prints a table; with --strict,
exits 1 unless topicmill's coherence, diversity and NMI are each at least
scikit-learn's (issue 7).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile


def run(cmd, **kw):
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, check=True, **kw)


def evaluate(topicmill, corpus, model=None, w=None, h=None):
    cmd = [topicmill, "evaluate", "--json"]
    cmd += [model, corpus] if model else ["--w-npy", w, "--h-npy", h, corpus]
    out = run(cmd, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--topicmill", required=True)
    p.add_argument("--tarball", required=True)
    p.add_argument("-k", type=int, default=20)
    p.add_argument("--max-iter", type=int, default=200)
    p.add_argument("--tol", type=float, default=0.0,
                   help="0 (default): both run max_iter iterations; their tolerance rules differ, so equal budgets compare like with like")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--strict", action="store_true", help="exit 1 unless topicmill is at least as good")
    args = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="topicmill-quality-") as tmp:
        corpus, export, sk = (os.path.join(tmp, d) for d in ("corpus", "export", "sklearn"))
        run([args.topicmill, "vectorize", "--input", "20news", args.tarball, "--subset", "all",
             "--remove", "headers,footers,quotes", "--stop-words", "english", "--min-df", "2",
             "-o", corpus, "--export", export])
        model = os.path.join(tmp, "topicmill.model")
        run([args.topicmill, "fit", corpus, "-k", str(args.k), "--init", "nndsvda", "--solver", "hals",
             "--max-iter", str(args.max_iter), "--tol", str(args.tol), "--seed", str(args.seed), "-o", model])
        run([sys.executable, os.path.join(os.path.dirname(__file__), "score_sklearn.py"), export,
             "-k", str(args.k), "--init", "nndsvda", "--solver", "cd", "--max-iter", str(args.max_iter),
             "--tol", str(args.tol), "--seed", str(args.seed), "--out", sk], stdout=subprocess.DEVNULL)
        ours = evaluate(args.topicmill, corpus, model=model)
        theirs = evaluate(args.topicmill, corpus, w=os.path.join(sk, "W.npy"), h=os.path.join(sk, "H.npy"))

    def row(e):
        c = e.get("clustering") or {}
        return {
            "coherence": e["coherence"],
            "diversity": e["diversity"],
            "relative_error": e["relative_error"],
            "nmi": c.get("nmi"),
            "ari": c.get("ari"),
            "purity": c.get("purity"),
        }

    a, b = row(ours), row(theirs)
    print(f"20 Newsgroups, all 18846 documents, min_df=2, k={args.k}, NNDSVDa, "
          f"max_iter={args.max_iter}, tol={args.tol}")
    print(f"{'score':<16}{'topicmill':>12}{'scikit-learn':>14}  at least sklearn's?")
    failed = []
    for key in ("coherence", "diversity", "nmi", "ari", "purity", "relative_error"):
        lower_better = key == "relative_error"
        ok = a[key] <= b[key] if lower_better else a[key] >= b[key]
        gate = key in ("coherence", "diversity", "nmi")
        if gate and not ok:
            failed.append(key)
        mark = ("yes" if ok else "NO") + ("" if gate else " (informative)")
        print(f"{key:<16}{a[key]:>12.4f}{b[key]:>14.4f}  {mark}")
    if failed:
        print(f"topicmill is below scikit-learn on: {', '.join(failed)}")
        return 1 if args.strict else 0
    print("topicmill is at least as good as scikit-learn on coherence, diversity and NMI")
    return 0


if __name__ == "__main__":
    sys.exit(main())
