#!/usr/bin/env bash
# The device config steps of scripts/install_pi.sh, runnable (and tested) on their own:
#   pi_config.sh write EXAMPLE OUT DATA_DIR
#       OUT = the example config with recordings and the model under DATA_DIR and
#       require_signature = true (the factory bundle is trusted by its pin, below).
#   pi_config.sh pin CONFIG BUNDLE
#       sets [model] factory_sha256 in CONFIG to the sha256 of the BUNDLE file (replacing
#       an existing pin), so that exact bundle runs signed or not (docs/security.md);
#       prints the sha256.
set -euo pipefail
usage() { sed -n 2,9p "$0" >&2; exit 2; }
case "${1:-}" in
  write)
    [ $# -eq 4 ] || usage
    example=$2 out=$3 data=$4
    sed -e "s#^dir = \"recordings\"#dir = \"$data/recordings\"#" \
        -e "s#^bundle = \"models/current.sspinn\"#bundle = \"$data/models/current.sspinn\"#" \
        -e 's#^require_signature = false#require_signature = true#' \
        "$example" > "$out"
    grep -q "^dir = \"$data/recordings\"" "$out" || { echo "no recorder dir in $example" >&2; exit 1; }
    grep -q '^require_signature = true' "$out" || { echo "no require_signature in $example" >&2; exit 1; }
    ;;
  pin)
    [ $# -eq 3 ] || usage
    config=$2 bundle=$3
    sha=$(sha256sum "$bundle" | cut -d' ' -f1)
    if grep -q '^factory_sha256 *=' "$config"; then
      sed -i "s#^factory_sha256 *=.*#factory_sha256 = \"$sha\"#" "$config"
    elif grep -q '^\[model\]' "$config"; then
      sed -i "/^\[model\]/a factory_sha256 = \"$sha\"" "$config"
    else
      printf '\n[model]\nfactory_sha256 = "%s"\n' "$sha" >> "$config"
    fi
    echo "$sha"
    ;;
  *) usage ;;
esac
