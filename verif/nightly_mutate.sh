#!/usr/bin/env bash
# Nightly mutation testing: every unit's cocotb test set against Yosys mutants of its design
# (`openlpu mutate`, docs/verification.md "Mutation testing"). Results as JSON and text under
# build/mutate/nightly/; the exit status is 1 when a unit's kill rate is below 90 %.
#
# Counts per unit: how many mutants fit a night on two cores. A mutant costs one run of the
# unit's test set on Icarus, build included (measured: ecc 2 s, sxm 3 s, mem 3-11 s, vxm about
# 10 s, mxm about 18 s, icu 50 s: the chip's test), so ecc and sxm draw the most; about 70
# minutes of simulation in all, plus the waits for the lock.
# Environment: OPENLPU_SIM_LOCK (the simulator lock held per mutant, default
# /tmp/openlpu-sim.lock), SEED (default 1), SIM (default icarus).
set -uo pipefail
cd "$(dirname "$0")/.."
export OPENLPU_SIM_LOCK="${OPENLPU_SIM_LOCK:-/tmp/openlpu-sim.lock}"
SEED="${SEED:-1}"
SIM="${SIM:-icarus}"
OUT=build/mutate/nightly
mkdir -p "$OUT"

status=0
for spec in ecc:100 sxm:100 vxm:40 mxm:40 mem:40 icu:20; do
    unit="${spec%%:*}"
    count="${spec##*:}"
    start=$(date +%s)
    if ! python3 -m openlpu.cli mutate --unit "$unit" --count "$count" --seed "$SEED" --sim "$SIM" \
            --json "$OUT/$unit.json" > "$OUT/$unit.txt"; then
        echo "$unit: the mutation run failed (see $OUT/$unit.txt)"
        status=1
        continue
    fi
    cat "$OUT/$unit.txt"
    echo "$unit: $(( $(date +%s) - start )) s"
    python3 - "$OUT/$unit.json" <<'PY' || status=1
import json, sys
rate = json.load(open(sys.argv[1]))["kill_rate"]
sys.exit(0 if rate is not None and rate >= 0.9 else 1)
PY
done
exit $status
