#!/usr/bin/env bash
# Installs the browser the UI's end-to-end tests and screenshots drive: Debian's `chromium` package.
# Idempotent: does nothing when /usr/bin/chromium is already there. Prints the browser's path.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [[ ! -x "$CHROMIUM" ]]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "browsers.sh: $CHROMIUM is missing and apt-get is not available; install Chromium by hand" >&2
    exit 1
  fi
  SUDO=""
  if [[ "$(id -u)" != "0" ]]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "browsers.sh: installing chromium needs root (or sudo)" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  # Progress goes to stderr so stdout stays the one line callers read.
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-liberation >&2
fi

if [[ ! -x "$CHROMIUM" ]]; then
  echo "browsers.sh: $CHROMIUM is still missing after the install" >&2
  exit 1
fi
echo "$CHROMIUM"
