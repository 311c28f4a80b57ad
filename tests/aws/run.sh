#!/usr/bin/env bash
# The AWS KMS API suite (tests/aws/README.md): makes a venv from PyPI with
# tests/aws/requirements.txt (once; kept between runs and remade when the
# requirements change), then runs pytest on tests/aws with any arguments given.
#
# Usage: tests/aws/run.sh [PYTEST ARGS...]
#   SOFTKMS_AWS_VENV   the venv (default target/aws-venv)
#   SOFTKMS_AWS_TARGET softkms (default) or moto
#   SOFTKMS_BIN        the softkms binary (default target/debug/softkms)
#   SOFTKMS_MODULE     the module (default target/debug/libsoftkms.so)
# Exits with pytest's status; 2 when the venv cannot be made.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENV=${SOFTKMS_AWS_VENV:-$ROOT/target/aws-venv}
REQ=$HERE/requirements.txt
command -v python3 >/dev/null || { echo "python3 not installed"; exit 2; }

stamp=$VENV/.requirements.sha256
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  log=$(mktemp)
  if ! { python3 -m venv "$VENV" &&
         "$VENV/bin/python" -m pip install --quiet --upgrade pip &&
         "$VENV/bin/python" -m pip install --quiet -r "$REQ"; } >"$log" 2>&1; then
    echo "cannot make the venv $VENV:"; tail -n 20 "$log"; rm -f "$log"; exit 2
  fi
  rm -f "$log"
  echo "$want" >"$stamp"
fi

export SOFTKMS_BIN=${SOFTKMS_BIN:-$ROOT/target/debug/softkms}
export SOFTKMS_MODULE=${SOFTKMS_MODULE:-$ROOT/target/debug/libsoftkms.so}
cd "$HERE"
exec "$VENV/bin/python" -m pytest -p no:cacheprovider "$@"
