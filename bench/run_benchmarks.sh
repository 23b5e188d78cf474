#!/bin/bash
# Runs the benchmark tables of docs/benchmarks.md and appends one JSON line per run to OUT.
# usage: bench/run_benchmarks.sh OPENBLAS_BUILD BLIS_BUILD OUT
set -euo pipefail
openblas=$1/hop
blis=$2/hop
out=$3
: >"$out"
export OMP_NUM_THREADS=1 # BLIS's OpenMP pool; hop sets its thread count per run

run() { "$@" | tail -n 1 >>"$out"; }

for hop in "$openblas" "$blis"; do
    for shape in "54 256 230" "256 256 256" "1024 1024 1024"; do
        set -- $shape
        run "$hop" bench sgemm --m "$1" --n "$2" --k "$3" --repeats 20
    done
    # Two-thread rows also train a one-thread copy in alternate epochs for the speed-up.
    mil=(bench mil --epochs 10)
    run "$hop" "${mil[@]}" --threads 1 --batch 1 --heads 1 --update-steps 0
    run "$hop" "${mil[@]}" --threads 2 --batch 1 --heads 1 --update-steps 0 --compare-threads 1
    run "$hop" "${mil[@]}" --threads 1 --batch 1 --heads 4 --update-steps 0
    run "$hop" "${mil[@]}" --threads 1 --batch 1 --heads 1 --update-steps 3
    run "$hop" "${mil[@]}" --threads 1 --batch 16 --heads 1 --update-steps 0
    run "$hop" "${mil[@]}" --threads 2 --batch 16 --heads 1 --update-steps 0 --compare-threads 1
done

for hop in "$openblas" "$blis"; do
    for n in 10000 100000; do
        repeats=$((n == 10000 ? 50 : 10))
        for pass in fwd fwdbwd; do
            for d in 64 128 256 512; do
                run "$hop" bench retrieval --n "$n" --d "$d" --queries 64 --pass "$pass" \
                    --threads 1 --repeats "$repeats"
            done
        done
    done
done
for threads in 1 2; do
    run "$openblas" bench retrieval --n 100000 --d 128 --queries 64 --pass fwdbwd \
        --threads "$threads" --repeats 10
done
for pass in fwd fwdbwd; do
    run "$openblas" bench retrieval --n 1000000 --d 128 --queries 64 --pass "$pass" --repeats 2
done

# Memory growth: 10000 steps of one bag (50 epochs of 200 bags).
run "$openblas" bench mil --threads 1 --batch 1 --epochs 50
# Time per epoch against instances per epoch.
for max in 25 50 100 200 400; do
    run "$openblas" bench mil --threads 1 --batch 1 --max-inst "$max" --epochs 3
done

# The plot of docs/benchmarks.md from the last five lines: seconds per epoch against instances.
plot=${out%.jsonl}-epoch-time.png
tail -n 5 "$out" | sed -E 's/.*"instances_per_epoch":([0-9]+).*"epoch_seconds":\{"median":([0-9.e+-]+).*/\1 \2/' |
    gnuplot -e "set terminal pngcairo size 800,500; set output '$plot';
        set title 'MIL training, batch 1, 1 thread (OpenBLAS)';
        set xlabel 'instances per epoch'; set ylabel 'seconds per epoch'; set grid;
        set key off; plot '-' using 1:2 with linespoints pointtype 7"
echo "plot: $plot" >&2
