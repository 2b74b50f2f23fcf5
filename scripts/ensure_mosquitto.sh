#!/usr/bin/env bash
# Make sure Debian's mosquitto broker and its clients (mosquitto_sub, mosquitto_pub: what
# the README, the demo and the docs tell users to run) are installed. The tests start the
# broker themselves on a free 127.0.0.1 port; nothing is left running. Idempotent.
set -euo pipefail
source "$(dirname "$0")/apt_install.sh"
have_mosquitto() { command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; }
have_clients() { command -v mosquitto_sub >/dev/null 2>&1; }
missing=()
have_mosquitto || missing+=(mosquitto)
have_clients || missing+=(mosquitto-clients)
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
echo "Installing Debian's ${missing[*]} (apt-get)..."
apt_install "the mosquitto broker or its clients (mosquitto_sub, mosquitto_pub)" "${missing[@]}"
# Debian's package may start a system broker on :1883; the tests never use it.
have_mosquitto
have_clients
echo "mosquitto installed: $( (command -v mosquitto || echo /usr/sbin/mosquitto) )," \
  "clients: $(command -v mosquitto_sub)"
