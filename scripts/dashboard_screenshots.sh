#!/usr/bin/env bash
# Regenerate the dashboard screenshots in docs/img/ from the real-browser test (headless
# Chromium, the stand-in device and the real `make demo` path): dashboard.png (live),
# dashboard-gap.png (a 1.2 s stall: the lines break) and dashboard-offline.png (a hung
# device: banner, last data received, nothing drawn after it). Each is saved as a
# 128-colour PNG (well under 200 kB). Needs chromium + chromedriver (make chromium) and
# mosquitto (make mosquitto).
#   bash scripts/dashboard_screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
SSPINN_UPDATE_SCREENSHOT=1 "$PY" -m pytest -q tests/test_dashboard_browser.py \
  -k "live_in_chromium or stall or hung or make_demo"
ls -l docs/img/dashboard.png docs/img/dashboard-gap.png docs/img/dashboard-offline.png
