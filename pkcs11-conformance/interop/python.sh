#!/usr/bin/env bash
# Interoperability with the python-pkcs11 package (PyPI `python-pkcs11`,
# Cython bindings over the PKCS#11 C API): AES-256 generation, AES-CBC-PAD and
# AES-GCM (with AAD) round trips, RSA-2048 generation, SHA256-RSA-PKCS (with
# the signature also checked in pure Python from CKA_MODULUS and
# CKA_PUBLIC_EXPONENT) and SHA256-RSA-PKCS-PSS sign/verify, RSA-OAEP (SHA-1,
# SHA-256 with a label) encrypt/decrypt, EC P-256 generation and ECDSA-SHA256
# sign/verify, AES-KEY-WRAP and RSA-OAEP wrap/unwrap of an AES key, SHA-256
# digests against hashlib, C_GenerateRandom. The checks live in
# python_pkcs11_check.py next to this script.
#
# Usage: python.sh MODULE_PATH
#   Prints one line per check and "python-pkcs11: N passed, N failed"; exits
#   non-zero on a failure (2 when python-pkcs11 cannot be installed or the
#   token cannot be initialized).
#
# Needs python3 only: when `import pkcs11` fails it installs python-pkcs11
# (a manylinux wheel, with asn1crypto; about 1 s from PyPI, no compiler
# needed on x86_64) into a temporary venv, or with `pip --target` into a
# temporary directory when the venv module is missing, all removed at exit.
# The token (SoftKMS: SOFTKMS_CONF with kdf = "fast"; SoftHSMv2:
# SOFTHSM2_CONF with its own token directory) is initialized through ctypes
# (C_InitToken, C_InitPIN) since python-pkcs11 has no C_InitToken.
#
# SoftKMS passes all 15. SoftHSMv2 2.6.1 (/usr/lib/softhsm/libsofthsm2.so):
# 11 passed, 4 failed: OAEP with SHA-256 (encrypt and wrap) gives
# CKR_ARGUMENTS_BAD, ECDSA-SHA256 CKR_MECHANISM_INVALID, and a key unwrapped
# with AES-KEY-WRAP without CKA_VALUE_LEN in the template reads back
# CKA_VALUE_LEN = 0.
set -u
MODULE=$(realpath "${1:?usage: $0 MODULE_PATH}")
HERE=$(cd "$(dirname "$0")" && pwd)
command -v python3 >/dev/null || { echo "python3 not installed"; exit 2; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# SOFTKMS_REMOTE=unix:PATH: the module is a client of the softkms serve on that socket, whose
# token (and its settings) the server holds (pkcs11-conformance/remote/run.sh).
if [ -n "${SOFTKMS_REMOTE:-}" ]; then
  printf '[[slot]]\nserver = "%s"\n' "$SOFTKMS_REMOTE" > "$WORK/softkms.toml"
else
  cat > "$WORK/softkms.toml" <<CONF
[[slot]]
path = "$WORK/token.db"
kdf = "fast"
CONF
fi
mkdir "$WORK/softhsm-tokens"
cat > "$WORK/softhsm2.conf" <<CONF
directories.tokendir = $WORK/softhsm-tokens
objectstore.backend = file
log.level = ERROR
CONF
export SOFTKMS_CONF="$WORK/softkms.toml" SOFTHSM2_CONF="$WORK/softhsm2.conf"

PY=python3
if ! python3 -c 'import pkcs11' 2>/dev/null; then
  if python3 -m venv "$WORK/venv" >/dev/null 2>&1 && [ -x "$WORK/venv/bin/python" ] &&
     "$WORK/venv/bin/python" -m pip install --quiet python-pkcs11 >"$WORK/pip.log" 2>&1; then
    PY=$WORK/venv/bin/python
  elif python3 -m pip install --quiet --target "$WORK/pylib" python-pkcs11 >"$WORK/pip.log" 2>&1; then
    export PYTHONPATH="$WORK/pylib${PYTHONPATH:+:$PYTHONPATH}"
  else
    echo "cannot install python-pkcs11:"; tail -n 15 "$WORK/pip.log"; exit 2
  fi
fi
"$PY" -c 'import pkcs11' || { echo "python-pkcs11 does not import"; exit 2; }

LABEL=python-pkcs11
SO_PIN=so-secret-1
PIN=user-secret-1
timeout 120 "$PY" "$HERE/python_pkcs11_check.py" --init "$MODULE" "$LABEL" "$SO_PIN" "$PIN" ||
  { echo "token initialization failed"; exit 2; }
timeout 600 "$PY" "$HERE/python_pkcs11_check.py" "$MODULE" "$LABEL" "$PIN"
