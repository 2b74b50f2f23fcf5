#!/usr/bin/env bash
# Install the SSPINNpose edge daemon on Raspberry Pi OS (bookworm), as root:
#   sudo bash scripts/install_pi.sh [--config my-edge.toml] [--bundle model.sspinn]
# - enables I2C (raspi-config) when it is off; installs mosquitto-clients (mosquitto_sub),
# - creates the unprivileged user 'sspinn' in the i2c and gpio groups,
# - installs the package with only the edge extra (no TensorFlow) into /opt/sspinn/venv,
# - puts the model in /var/lib/sspinn/models/current.sspinn (the shipped int8 one by default),
# - puts the config in /etc/sspinn/edge.toml (the example if none is given; edit it), with
#   require_signature = true and the installed bundle pinned by its sha256 (factory_sha256),
# - installs and starts the systemd unit (restart on failure, logs in journald).
# Re-running it upgrades the package and keeps an existing config.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
config=""
bundle=""
while [ $# -gt 0 ]; do
  case "$1" in
    --config) config="$2"; shift 2 ;;
    --bundle) bundle="$2"; shift 2 ;;
    -h|--help) sed -n 2,12p "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
if [ "$(id -u)" != "0" ]; then echo "run as root (sudo)" >&2; exit 1; fi

echo "== packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends python3 python3-venv python3-dev i2c-tools \
  mosquitto-clients >/dev/null

if command -v raspi-config >/dev/null 2>&1 && [ "$(raspi-config nonint get_i2c)" != "0" ]; then
  echo "== enabling I2C (a reboot may be needed)"
  raspi-config nonint do_i2c 0
fi

echo "== user"
getent group i2c >/dev/null || groupadd --system i2c
getent group gpio >/dev/null || groupadd --system gpio
if ! id sspinn >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/sspinn --shell /usr/sbin/nologin sspinn
fi
usermod -aG i2c,gpio sspinn
install -d -o sspinn -g sspinn -m 0750 /var/lib/sspinn /var/lib/sspinn/models /var/lib/sspinn/recordings
install -d -m 0755 /etc/sspinn /opt/sspinn

echo "== python package (edge extra only)"
[ -x /opt/sspinn/venv/bin/python ] || python3 -m venv /opt/sspinn/venv
/opt/sspinn/venv/bin/pip install --quiet --upgrade pip
/opt/sspinn/venv/bin/pip install --quiet -c "$here/constraints.txt" "$here[edge]"

echo "== config and model"
factory="${bundle:-$here/edge/models/default.sspinn}"
fresh_config=0
new_bundle=0
if [ -n "$bundle" ] || [ ! -f /var/lib/sspinn/models/current.sspinn ]; then
  install -m 0640 -o sspinn -g sspinn "$factory" /var/lib/sspinn/models/current.sspinn
  new_bundle=1
fi
if [ -n "$config" ]; then
  install -m 0640 -g sspinn "$config" /etc/sspinn/edge.toml
  fresh_config=1
elif [ ! -f /etc/sspinn/edge.toml ]; then
  bash "$here/scripts/pi_config.sh" write "$here/edge/config.example.toml" /etc/sspinn/edge.toml /var/lib/sspinn
  chmod 0640 /etc/sspinn/edge.toml; chgrp sspinn /etc/sspinn/edge.toml
  fresh_config=1
  echo "   wrote /etc/sspinn/edge.toml from the example: edit device id, participant, broker, sensors"
fi
if [ "$new_bundle" = 1 ] || [ "$fresh_config" = 1 ]; then
  # The factory bundle is trusted by its sha256 (signed or not); anything else needs a
  # signature from a key in [model] trusted_keys (docs/security.md).
  sha=$(bash "$here/scripts/pi_config.sh" pin /etc/sspinn/edge.toml "$factory")
  echo "   pinned the factory bundle: [model] factory_sha256 = \"$sha\""
fi
# Checked as the service will run it: the same user, the same start-up checks.
runuser -u sspinn -- /opt/sspinn/venv/bin/sspinn-edge run --config /etc/sspinn/edge.toml --validate-config \
  || echo "   the config does not validate yet: fix it, then: sudo systemctl restart sspinn-edge"

echo "== service"
install -m 0644 "$here/edge/systemd/sspinn-edge.service" /etc/systemd/system/sspinn-edge.service
systemctl daemon-reload
systemctl enable --now sspinn-edge.service || true
systemctl --no-pager --lines=5 status sspinn-edge.service || true
echo "done: logs with 'journalctl -u sspinn-edge -f'; sensors with 'sudo -u sspinn /opt/sspinn/venv/bin/sspinn-edge probe'"
