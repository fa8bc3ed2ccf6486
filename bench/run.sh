#!/usr/bin/env bash
# The benchmark suite in one command: builds downhill-bench and the downhill CLI
# (release), finds or makes a Python with numpy and scipy, and runs every
# workload with the Python peers inside the same interleaved rounds.
#
#   bench/run.sh                 # full run (about 5 minutes after the build)
#   bench/run.sh --quick         # smoke test (about a minute)
#   bench/run.sh --only W2,W5    # any downhill-bench arguments pass through
#
# PY=/path/to/python picks the interpreter. Without it, the first of python3 and
# $DOWNHILL_BENCH_VENV/bin/python (default ~/.cache/downhill-bench-venv) that imports
# numpy and scipy is used; if neither does, that venv is created (outside the
# repository) and numpy, scipy and threadpoolctl are installed into it with pip.
# torch and jax rows run when they are importable by the same interpreter (they
# are large downloads and are never installed by this script).
# Results: bench/results/latest.{txt,md,json} (not tracked by git).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${DOWNHILL_BENCH_VENV:-$HOME/.cache/downhill-bench-venv}

# numpy/scipy: OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE may be set on shared machines
# for old OpenBLAS builds and slow a current one down; unset them for Python only
# (downhill-bench does the same for the peers it starts).
pyok() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$1" -c "import numpy, scipy" 2>/dev/null; }

if [[ -z "${PY:-}" ]]; then
  for cand in python3 "$VENV/bin/python"; do
    if command -v "$cand" >/dev/null 2>&1 && pyok "$cand"; then PY=$(command -v "$cand"); break; fi
  done
fi
if [[ -z "${PY:-}" ]]; then
  echo "run.sh: no Python with numpy and scipy; creating $VENV" >&2
  python3 -m venv "$VENV"
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$VENV/bin/pip" install --quiet numpy scipy threadpoolctl
  PY="$VENV/bin/python"
fi
pyok "$PY" || { echo "run.sh: $PY cannot import numpy and scipy" >&2; exit 1; }

echo "run.sh: building (release)" >&2
cargo build --release --quiet -p downhill-cli -p downhill-bench
BIN="${CARGO_TARGET_DIR:-target}/release"

OUT=bench/results
mkdir -p "$OUT"
echo "run.sh: $(rustc -V); python: $PY" >&2
"$BIN/downhill-bench" --python "$PY" --peers bench/peers --cli "$BIN/downhill" \
  --json-out "$OUT/latest.json" --markdown "$OUT/latest.md" "$@" | tee "$OUT/latest.txt"
echo "run.sh: tables in $OUT/latest.txt, $OUT/latest.md; every sample in $OUT/latest.json" >&2
