#!/usr/bin/env bash
# Time per iteration of the distributed fit for P ranks (docs/distributed.md):
# each configuration runs --max-iter LO and --max-iter HI (random init, tol 0)
# and reports (t_HI − t_LO) / (HI − LO), which leaves out the setup (mapping,
# transpose, init) and the final W solve. One rayon thread per rank.
#   scripts/mpi_bench.sh CORPUS_DIR K "1 2 4" [LO HI]
set -euo pipefail
corpus=$1 k=$2 ranks=$3 lo=${4:-10} hi=${5:-60}
bin="${BIN:-${CARGO_TARGET_DIR:-target}/release/topicmill}"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
secs() { sed -n 's/.*, \([0-9.]*\) s; model in.*/\1/p'; }
fit_args=(fit "$corpus" -k "$k" --solver "${SOLVER:-mu}" --init random --tol 0)
for np in $ranks; do
    t=()
    for it in "$lo" "$hi"; do
        t+=("$(RAYON_NUM_THREADS=1 mpirun --allow-run-as-root --oversubscribe \
            --mca btl_vader_single_copy_mechanism none -np "$np" \
            "$bin" "${fit_args[@]}" --max-iter "$it" -o "$out/m.bin" --distributed | secs)")
    done
    awk -v np="$np" -v a="${t[0]}" -v b="${t[1]}" -v lo="$lo" -v hi="$hi" \
        'BEGIN { printf "P=%d  %.2f ms/iteration  (%s s for %d, %s s for %d iterations)\n", np, 1000*(b-a)/(hi-lo), a, lo, b, hi }'
done
t=()
for it in "$lo" "$hi"; do
    t+=("$(RAYON_NUM_THREADS=1 "$bin" "${fit_args[@]}" --max-iter "$it" -o "$out/s.bin" | secs)")
done
awk -v a="${t[0]}" -v b="${t[1]}" -v lo="$lo" -v hi="$hi" \
    'BEGIN { printf "single process, 1 thread  %.2f ms/iteration\n", 1000*(b-a)/(hi-lo) }'
