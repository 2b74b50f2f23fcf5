#!/usr/bin/env bash
# Make sure Debian's mosquitto broker is installed (the tests start it themselves on a free
# 127.0.0.1 port; nothing is left running). Idempotent.
set -euo pipefail
source "$(dirname "$0")/apt_install.sh"
have_mosquitto() { command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; }
if have_mosquitto; then
  exit 0
fi
echo "Installing Debian's mosquitto broker (apt-get)..."
apt_install "the mosquitto broker" mosquitto
# Debian's package may start a system broker on :1883; the tests never use it.
have_mosquitto
echo "mosquitto installed: $( (command -v mosquitto || echo /usr/sbin/mosquitto) )"
