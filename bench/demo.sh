#!/usr/bin/env bash
# `loyalflow demo` at its defaults, timed: wall clock, the demo's own figure, CPU user+sys of the
# whole process tree (demo, worker processes, test server) from /usr/bin/time, load averages.
#   bench/demo.sh LABEL [RUNS] [DEMO OPTIONS...]
#   e.g. PYTHONPATH=/path/to/other/export bench/demo.sh before 3, or bench/demo.sh w3 1 --workers 3
# Appends one line per run to bench/results/demo.tsv.
set -euo pipefail
label=${1:?label}
runs=${2:-3}
shift $(($# < 2 ? $# : 2))
out=$(dirname "$0")/results/demo.tsv
mkdir -p "$(dirname "$out")"
work=$(mktemp -d)
for run in $(seq 1 "$runs"); do
    before=$(cut -d' ' -f1-3 /proc/loadavg)
    /usr/bin/time -v -o "$work/time" loyalflow demo --report "$work/demo.html" "$@" >"$work/out" 2>&1
    after=$(cut -d' ' -f1-3 /proc/loadavg)
    reported=$(grep -oE 'days in [0-9.]+s' "$work/out" | grep -oE '[0-9.]+')
    wall=$(grep 'Elapsed' "$work/time" | awk '{print $NF}')
    user=$(grep 'User time' "$work/time" | awk '{print $NF}')
    sys=$(grep 'System time' "$work/time" | awk '{print $NF}')
    # The summary without the timings: same seed, same figures?
    summary=$(grep -v -E 'simulated days' "$work/out" | md5sum | cut -c1-8)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%H:%M:%S)" "$label" "$run" "$wall" \
        "$reported" "$user" "$sys" "load $before -> $after" "summary $summary" | tee -a "$out"
    cp "$work/out" "$(dirname "$out")/demo-$label-$run.out"
done
rm -rf "$work"
