#!/usr/bin/env python3
"""How topicmill's per-iteration cost grows with nnz, k and threads.

Runs `topicmill bench` on generated corpora (planted topics, Zipf terms):
- nnz: 50 000 documents × 20 000 terms, k=20, nnz in --nnz (default 1M 2M 4M 8M 16M);
- k: 4M non-zeros, k in --ks (default 4 10 20 50 100);
- threads: 4M non-zeros, k=20, 1 and 2 threads (RAYON via --threads);
each for MU, HALS and KL-MU, best of --repeat. Writes the results as JSON, the
plots (SVG and PNG) and, with --markdown FILE, the table between
`<!-- scaling:begin -->` and `<!-- scaling:end -->` in FILE.

Usage: scaling.py [--topicmill BIN] [--out DIR] [--work-dir DIR] [--quick]
                  [--markdown BENCHMARKS.md]
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from compare_sklearn import replace_block  # noqa: E402

DOCS, TERMS = 50_000, 20_000


def bench(args, nnz, k, threads=None):
    cmd = [args.topicmill, "bench", f"generated:{DOCS}x{TERMS}x{nnz}x{k}", "--json",
           "--solvers", "mu,hals,kl", "--iters", str(args.iters), "--repeat", str(args.repeat),
           "--final-w-iters", "1", "--no-limit", "--work-dir", args.work_dir]
    if threads:
        cmd += ["--threads", str(threads)]
    # The machine may be shared: keep the time and the load next to each figure.
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    load = os.getloadavg()[0]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr}")
    out = json.loads(proc.stdout)
    # Recorded with repository-relative paths, so the JSON names no machine.
    shown = [os.path.relpath(a, REPO) if a == args.work_dir else a for a in cmd[1:]]
    out["cmd"] = "topicmill " + " ".join(shown)
    out["started"], out["load_at_start"], out["load_at_end"] = started, load, os.getloadavg()[0]
    print(f"  nnz={nnz} k={k} threads={threads or 'all'}: " + ", ".join(
        f"{r['solver']} {r['sec_per_iter'] * 1e3:.2f} ms" for r in out["results"]), flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--topicmill", default=os.path.join(REPO, "target", "release", "topicmill"))
    ap.add_argument("--out", default=os.path.join(REPO, "benchmarks"))
    ap.add_argument("--work-dir", default=os.path.join(REPO, "target", "bench-corpora"))
    ap.add_argument("--nnz", default="1000000,2000000,4000000,8000000,16000000")
    ap.add_argument("--ks", default="4,10,20,50,100")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="two points per sweep, one repeat")
    ap.add_argument("--markdown", help="rewrite the scaling block of this Markdown file")
    args = ap.parse_args()
    if args.quick:
        args.nnz, args.ks, args.repeat, args.iters = "1000000,2000000", "4,20", 1, 5
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.work_dir, exist_ok=True)
    base_nnz, base_k = 4_000_000, 20
    res = dict(docs=DOCS, terms=TERMS, nnz=[], k=[], threads=[])
    print("nnz sweep (k=20)")
    for nnz in map(int, args.nnz.split(",")):
        res["nnz"].append(bench(args, nnz, base_k))
    print(f"k sweep (nnz={base_nnz})")
    for k in map(int, args.ks.split(",")):
        res["k"].append(bench(args, base_nnz, k))
    print(f"threads (nnz={base_nnz}, k={base_k})")
    for t in (1, 2):
        res["threads"].append(bench(args, base_nnz, base_k, t))
    with open(os.path.join(args.out, "scaling.json"), "w") as f:
        json.dump(res, f, indent=1)
    plot(res, args.out)
    if args.markdown:
        replace_block(args.markdown, "scaling", table(res))
    print(table(res))


def per_iter(run, solver):
    return next(r["sec_per_iter"] for r in run["results"] if r["solver"] == solver)


def plot(res, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    for solver, marker in (("mu", "o"), ("hals", "s"), ("kl", "^")):
        xs = [r["nnz"] for r in res["nnz"]]
        axes[0].loglog(xs, [per_iter(r, solver) * 1e3 for r in res["nnz"]], marker=marker,
                       label=solver)
        ks = [r["results"][0]["k"] for r in res["k"]]
        axes[1].loglog(ks, [per_iter(r, solver) * 1e3 for r in res["k"]], marker=marker,
                       label=solver)
        ts = [r["results"][0]["threads"] for r in res["threads"]]
        axes[2].plot(ts, [per_iter(r, solver) * 1e3 for r in res["threads"]], marker=marker,
                     label=solver)
    axes[0].set(xlabel="non-zeros", ylabel="ms per iteration",
                title=f"{res['docs']}×{res['terms']}, k=20")
    axes[1].set(xlabel="k", ylabel="ms per iteration", title="4M non-zeros")
    axes[2].set(xlabel="threads", ylabel="ms per iteration", title="4M non-zeros, k=20",
                xticks=[1, 2], ylim=(0, None))
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    for ext in ("svg", "png"):
        fig.savefig(os.path.join(out, f"scaling.{ext}"), dpi=110)


def table(res):
    lines = ["| sweep | nnz | k | threads | MU ms/iter | HALS ms/iter | KL ms/iter | MU GFLOP/s | MU GB/s | started | load |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for sweep in ("nnz", "k", "threads"):
        for run in res[sweep]:
            mu = next(r for r in run["results"] if r["solver"] == "mu")
            lines.append(
                f"| {sweep} | {run['nnz']} | {mu['k']} | {mu['threads']} | "
                f"{per_iter(run, 'mu') * 1e3:.2f} | {per_iter(run, 'hals') * 1e3:.2f} | "
                f"{per_iter(run, 'kl') * 1e3:.2f} | {mu['gflops']:.2f} | {mu['gbps']:.2f} | "
                f"{run.get('started', '?')[11:16]} | "
                f"{run.get('load_at_start', float('nan')):.1f}–{run.get('load_at_end', float('nan')):.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
