#!/usr/bin/env bash
# Nightly code coverage: every unit's Verilator line and toggle coverage against the 95% target
# (`openlpu coverage --check`, docs/verification.md "Code coverage"). The chip's units (lpu and
# the host port, ICU and reduction measured in its runs) take about 5 minutes, the VXM's build
# about 6; the table and every hole are in build/coverage/summary.json. Exit status 1 when a
# unit misses the target.
# Environment: OPENLPU_SIM_LOCK (a lock file held for the whole run, default /tmp/openlpu-sim.lock).
set -uo pipefail
cd "$(dirname "$0")/.."
exec flock "${OPENLPU_SIM_LOCK:-/tmp/openlpu-sim.lock}" python3 -m openlpu.cli coverage --check "$@"
