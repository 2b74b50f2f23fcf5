#!/usr/bin/env bash
# The Pi's install, measured: a fresh virtual environment with only the `edge` extra
# (`pip install -c constraints.txt '.[edge]'`, as scripts/install_pi.sh does), its size,
# that nothing of the workstation came along (TensorFlow, keras, scipy, matplotlib), and
# that `sspinn-edge simulate` runs from it against a throw-away mosquitto (when
# installed). Prints one JSON line; the venv is deleted afterwards.
#   bash scripts/edge_venv_size.sh            # PYTHON=python3.11 to pick the interpreter
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d /tmp/sspinn-edgevenv-XXXXXX)"
BROKER_PID=""
# pip builds in the source tree: remove what it leaves there, unless it was there before
LEFT=()
for d in "$ROOT/build" "$ROOT/sspinnpose_edge.egg-info"; do [ -e "$d" ] || LEFT+=("$d"); done
cleanup() {
  if [ -n "$BROKER_PID" ]; then kill "$BROKER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK" "${LEFT[@]}"
}
trap cleanup EXIT
VENV="$WORK/venv"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --upgrade pip
"$VENV/bin/pip" install --quiet -c "$ROOT/constraints.txt" "$ROOT[edge]"
SIZE_MB="$(du -sm "$VENV" | cut -f1)"
UNWANTED="$("$VENV/bin/python" - <<'PY'
import importlib.util
print(",".join(m for m in ("tensorflow", "keras", "scipy", "matplotlib", "amqtt")
               if importlib.util.find_spec(m)))
PY
)"
SIMULATE="skipped: mosquitto is not installed"
if command -v mosquitto >/dev/null 2>&1; then
  PORT="$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  mosquitto -p "$PORT" >/dev/null 2>&1 &
  BROKER_PID=$!
  sleep 0.5
  if (cd "$WORK" && "$VENV/bin/sspinn-edge" simulate --recording P01_walking \
      --broker "127.0.0.1:$PORT" --duration 2 --fast >"$WORK/simulate.out" 2>"$WORK/simulate.err"); then
    SIMULATE="ok: $("$VENV/bin/python" -c 'import json,sys; d=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print(d["published_frames"], "frames published")' "$WORK/simulate.out")"
  else
    SIMULATE="failed: $(tail -n 1 "$WORK/simulate.err")"
  fi
fi
printf '{"edge_venv_mb": %s, "target_mb": 200, "python": "%s", "unwanted_packages": "%s", "simulate": "%s"}\n' \
  "$SIZE_MB" "$("$VENV/bin/python" -V 2>&1 | cut -d" " -f2)" "$UNWANTED" "$SIMULATE"
