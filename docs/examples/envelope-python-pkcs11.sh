#!/usr/bin/env bash
# Runs docs/examples/envelope_python_pkcs11.py (envelope encryption and data
# keys from python-pkcs11) against MODULE on a throw-away token: a SoftKMS
# configuration in a temporary directory (kdf = "fast"), the token initialized
# through ctypes (python-pkcs11 has no C_InitToken), the managed key made by
# the example itself (--create). Everything is removed at exit.
#
# Usage: envelope-python-pkcs11.sh MODULE_PATH
#   Prints the example's lines and "envelope_python_pkcs11.py: N passed, N failed";
#   exits 1 on a failure, 2 when python-pkcs11 cannot be installed or the token
#   cannot be initialized.
#
# Uses the python-pkcs11 that python3 imports; without one it installs
# python-pkcs11 $PYTHON_PKCS11_VERSION (default 0.10.1, the version the example
# was written for; a manylinux wheel) into a temporary venv, or with
# `pip --target` into a temporary directory when the venv module is missing.
set -u
MODULE=$(realpath "${1:?usage: $0 MODULE_PATH}")
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
V=${PYTHON_PKCS11_VERSION:-0.10.1}
command -v python3 >/dev/null || { echo "python3 not installed"; exit 2; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# SOFTKMS_REMOTE=unix:PATH: the module is a client of the softkms serve on that socket, whose
# token (and its settings) the server holds (pkcs11-conformance/remote/run.sh).
if [ -n "${SOFTKMS_REMOTE:-}" ]; then
  printf '[[slot]]\nserver = "%s"\n' "$SOFTKMS_REMOTE" > "$WORK/softkms.toml"
else
  printf '[[slot]]\npath = "%s/token.db"\nkdf = "fast"\n' "$WORK" >"$WORK/softkms.toml"
fi
export SOFTKMS_CONF="$WORK/softkms.toml"

PY=python3
if ! python3 -c 'import pkcs11' 2>/dev/null; then
  if python3 -m venv "$WORK/venv" >/dev/null 2>&1 && [ -x "$WORK/venv/bin/python" ] &&
     "$WORK/venv/bin/python" -m pip install --quiet "python-pkcs11==$V" >"$WORK/pip.log" 2>&1; then
    PY=$WORK/venv/bin/python
  elif python3 -m pip install --quiet --target "$WORK/pylib" "python-pkcs11==$V" >"$WORK/pip.log" 2>&1; then
    export PYTHONPATH="$WORK/pylib${PYTHONPATH:+:$PYTHONPATH}"
  else
    echo "cannot install python-pkcs11 $V:"; tail -n 15 "$WORK/pip.log"; exit 2
  fi
fi

LABEL=envelope-example
SO_PIN=so-secret-1
PIN=user-secret-1
timeout 120 "$PY" "$ROOT/pkcs11-conformance/interop/python_pkcs11_check.py" --init \
  "$MODULE" "$LABEL" "$SO_PIN" "$PIN" >/dev/null || { echo "token initialization failed"; exit 2; }
timeout 300 "$PY" "$HERE/envelope_python_pkcs11.py" "$MODULE" "$LABEL" "$PIN" payments --create
