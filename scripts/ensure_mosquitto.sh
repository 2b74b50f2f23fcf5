#!/usr/bin/env bash
# Make sure Debian's mosquitto broker is installed (the tests start it themselves on a free
# 127.0.0.1 port; nothing is left running). Uses sudo when not root.
set -euo pipefail
if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "mosquitto is missing and apt-get is not available: install the mosquitto broker" \
       "with your system's package manager." >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "mosquitto is missing and this user cannot install packages: run" \
         "'sudo apt-get install mosquitto' once." >&2
    exit 1
  fi
fi
echo "Installing Debian's mosquitto broker (apt-get)..."
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends mosquitto >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends mosquitto >/dev/null
fi
# Debian's package may start a system broker on :1883; the tests never use it.
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]
echo "mosquitto installed: $( (command -v mosquitto || echo /usr/sbin/mosquitto) )"
