#!/usr/bin/env bash
# python-pkcs11's own test suite (the tests/ of its PyPI sdist, 163 unittest
# cases) against a PKCS#11 module, compared with
# pkcs11-conformance/client-suites/python-pkcs11-expected-failures.txt.
#
# Usage: python-pkcs11-suite.sh MODULE_PATH
#   Prints one line per test that does not pass, then
#   "python-pkcs11 X.Y.Z suite: N tests, N passed, N failed (N listed), N skipped (N listed); OK";
#   exits 1 when a failure or skip is not on the list, or a listed test now passes
#   (see client-suites/compare.py), 2 when the suite cannot be installed or the
#   token cannot be initialized.
#
# Installs python-pkcs11 $PYTHON_PKCS11_VERSION (default 0.10.1, the version the
# list was written for; a manylinux wheel) with the suite's test dependencies
# (cryptography, parameterized) into a temporary venv (or with `pip --target`
# into a temporary directory when the venv module is missing), and takes tests/ from the
# same version's sdist (`pip download --no-binary python-pkcs11`, ~15 s: pip
# prepares the sdist's metadata). The SoftKMS configuration is a temporary one
# with kdf = "fast", min_rsa_bits = 1024 (the suite makes 1024-bit RSA keys) and
# legacy_mechanisms = true (its DES3 tests); set MIN_RSA_BITS= or
# LEGACY_MECHANISMS= (empty) to leave either line out. The token is initialized
# first through ctypes (python_pkcs11_check.py --init: the suite expects an
# initialized token with label TEST, user PIN 1234 and SO PIN 5678, as in its
# own CI), then client-suites/python_pkcs11_runner.py runs every test in its own
# forked process (see there why), ~10 s in all.
set -u
MODULE=$(realpath "${1:?usage: $0 MODULE_PATH}")
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SUITE="$REPO/pkcs11-conformance/client-suites"
LIST="$SUITE/python-pkcs11-expected-failures.txt"
V=${PYTHON_PKCS11_VERSION:-0.10.1}
MIN_RSA_BITS=${MIN_RSA_BITS-1024}
LEGACY_MECHANISMS=${LEGACY_MECHANISMS-true}
command -v python3 >/dev/null || { echo "python3 not installed"; exit 2; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# A venv, or (as python.sh does) `pip --target` when the venv module is missing.
if python3 -m venv "$WORK/venv" >/dev/null 2>&1 && [ -x "$WORK/venv/bin/python" ]; then
  PY=$WORK/venv/bin/python INSTALL=("$WORK/venv/bin/python" -m pip install --quiet)
else
  PY=python3 INSTALL=(python3 -m pip install --quiet --target "$WORK/pylib")
  export PYTHONPATH="$WORK/pylib${PYTHONPATH:+:$PYTHONPATH}"
fi
if ! { "${INSTALL[@]}" "python-pkcs11==$V" cryptography parameterized >"$WORK/pip.log" 2>&1 &&
       "$PY" -m pip download --quiet --no-deps --no-binary python-pkcs11 "python-pkcs11==$V" \
         -d "$WORK/sdist" >>"$WORK/pip.log" 2>&1; }; then
  echo "cannot install python-pkcs11 $V and its test suite:"; tail -n 15 "$WORK/pip.log"; exit 2
fi
tar xzf "$WORK/sdist/python_pkcs11-$V.tar.gz" -C "$WORK" "python_pkcs11-$V/tests" ||
  { echo "the python-pkcs11 $V sdist has no tests/"; exit 2; }
# Only tests/: next to the sdist's pkcs11/ sources the installed package would be shadowed.
mkdir "$WORK/run" && mv "$WORK/python_pkcs11-$V/tests" "$WORK/run/tests"

{
  [ -n "$MIN_RSA_BITS" ] && echo "min_rsa_bits = $MIN_RSA_BITS"
  [ -n "$LEGACY_MECHANISMS" ] && echo "legacy_mechanisms = $LEGACY_MECHANISMS"
  printf '[[slot]]\npath = "%s/token.db"\nkdf = "fast"\n' "$WORK"
} >"$WORK/softkms.toml"
mkdir "$WORK/softhsm-tokens"
printf 'directories.tokendir = %s/softhsm-tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
  "$WORK" >"$WORK/softhsm2.conf"
# SoftHSMv2's configuration too, for comparison runs (the list describes SoftKMS).
export SOFTKMS_CONF="$WORK/softkms.toml" SOFTHSM2_CONF="$WORK/softhsm2.conf"
export PKCS11_MODULE="$MODULE" PKCS11_TOKEN_LABEL=TEST PKCS11_TOKEN_PIN=1234 PKCS11_TOKEN_SO_PIN=5678
unset PKCS11_MODULE2 TRAVIS  # the suite's own switches: a second module, Travis CI quirks
timeout 120 "$PY" "$HERE/python_pkcs11_check.py" --init "$MODULE" "$PKCS11_TOKEN_LABEL" \
  "$PKCS11_TOKEN_SO_PIN" "$PKCS11_TOKEN_PIN" ||
  { echo "token initialization failed (configuration: $(tr '\n' ' ' <"$WORK/softkms.toml"))"; exit 2; }
timeout 1800 "$PY" -W ignore "$SUITE/python_pkcs11_runner.py" "$WORK/run" "$WORK/results.tsv" >/dev/null ||
  { echo "the test runner failed"; tail -n 20 "$WORK/tests.log" 2>/dev/null; exit 2; }
python3 "$SUITE/compare.py" "python-pkcs11 $V suite" "$WORK/results.tsv" "$LIST"
