#!/usr/bin/env bash
# apt_install WHAT PACKAGE...: install Debian packages with apt-get (sudo when not root),
# updating the package lists only when the first try fails. Sourced by the ensure_*.sh
# scripts; exits with one line saying what to do where apt-get or sudo is not available.
apt_install() {
  local what="$1"; shift
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "$what is missing and apt-get is not available: install it ($*) with your" \
         "system's package manager." >&2
    exit 1
  fi
  local sudo=""
  if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "$what is missing and this user cannot install packages: run" \
           "'sudo apt-get install $*' once." >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1; then
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  fi
}
