#!/usr/bin/env bash
# The `cryptoki` crate's own integration tests (tests/*.rs of the version in
# Cargo.lock: basic, allowed_mechanisms, ml_dsa, ml_kem, slh_dsa, wycheproof)
# against a PKCS#11 module, compared with
# pkcs11-conformance/client-suites/cryptoki-expected-failures.txt.
#
# Usage: cryptoki-suite.sh MODULE_PATH
#   Prints one line per test that does not pass, then
#   "cryptoki X.Y.Z suite: N tests, N passed, N failed (N listed), N skipped (N listed); OK";
#   exits 1 when a failure or skip is not on the list, or a listed test now passes
#   (see client-suites/compare.py), 2 when the suite cannot be built.
#
# The crate's source comes from the local cargo registry (after `cargo fetch`, or
# from the registry's .crate when it was never unpacked), is copied once to
# $CLIENT_SUITES_DIR/cryptoki-X.Y.Z (default target/client-suites; an empty
# [workspace] table is appended to the copy's Cargo.toml so that it is not taken
# for a member of this workspace) and its tests are built there with
# CARGO_TARGET_DIR=$CLIENT_SUITES_DIR/target --locked, a directory CI can keep
# between runs. The tests then run one process per test (`--exact NAME
# --test-threads=1`), against one throw-away token (SOFTKMS_CONF with
# kdf = "fast"; every test initializes the token with the suite's own SO and
# user PINs): the suite's tests call C_Finalize only when they succeed, so in a
# shared process one failure leaves the module initialized and fails the tests
# after it with CKR_CRYPTOKI_ALREADY_INITIALIZED; one process per test keeps
# each result its own. A test that prints "SKIP:" (the suite's own check for a
# PKCS#11 3.2 function or a mechanism) counts as skipped, not passed.
set -u
MODULE=$(realpath "${1:?usage: $0 MODULE_PATH}")
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
LIST="$REPO/pkcs11-conformance/client-suites/cryptoki-expected-failures.txt"
SUITES=${CLIENT_SUITES_DIR:-$REPO/target/client-suites}
command -v python3 >/dev/null || { echo "python3 not installed"; exit 2; }

V=$(awk '$1 == "name" && $3 == "\"cryptoki\"" { getline; gsub(/"/, "", $3); print $3; exit }' "$REPO/Cargo.lock")
[ -n "$V" ] || { echo "no cryptoki in Cargo.lock"; exit 2; }
REG=${CARGO_HOME:-$HOME/.cargo}/registry
find_src() { ls -d "$REG"/src/*/"cryptoki-$V" 2>/dev/null | head -n 1; }
SRC=$(find_src)
if [ -z "$SRC" ]; then
  (cd "$REPO" && cargo fetch --locked >/dev/null 2>&1)
  SRC=$(find_src)
fi
DEST="$SUITES/cryptoki-$V"
mkdir -p "$SUITES"
if [ ! -f "$DEST/.softkms-copy" ]; then
  rm -rf "$DEST"
  if [ -n "$SRC" ]; then
    cp -a "$SRC" "$DEST"
  else
    CRATE=$(ls "$REG"/cache/*/"cryptoki-$V.crate" 2>/dev/null | head -n 1)
    [ -n "$CRATE" ] || { echo "cryptoki $V is not in the cargo registry ($REG)"; exit 2; }
    tar xzf "$CRATE" -C "$SUITES"
  fi
  printf '\n# added by SoftKMS cryptoki-suite.sh: its own workspace\n[workspace]\n' >> "$DEST/Cargo.toml"
  touch "$DEST/.softkms-copy"
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "building the tests of cryptoki $V ($DEST)"
if ! CARGO_TARGET_DIR="$SUITES/target" cargo test --locked --manifest-path "$DEST/Cargo.toml" \
    --test '*' --no-run --message-format=json-render-diagnostics >"$WORK/build.json" 2>"$WORK/build.log"; then
  echo "cannot build the cryptoki $V tests:"; tail -n 20 "$WORK/build.log"; exit 2
fi
# "target-name executable" for each integration-test binary.
python3 - "$WORK/build.json" >"$WORK/bins" <<'PY' || exit 2
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["target"]["name"], m["executable"])
PY

printf '[[slot]]\npath = "%s/token.db"\nkdf = "fast"\n' "$WORK" >"$WORK/softkms.toml"
# SoftHSMv2 too, for comparison runs (its results are not what the list describes).
mkdir "$WORK/softhsm-tokens"
printf 'directories.tokendir = %s/softhsm-tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
  "$WORK" >"$WORK/softhsm2.conf"
export SOFTKMS_CONF="$WORK/softkms.toml" SOFTHSM2_CONF="$WORK/softhsm2.conf"
export TEST_PKCS11_MODULE="$MODULE" RUST_BACKTRACE=0
unset TEST_PRETEND_LIBRARY  # the suite would take SoftKMS for SoftHSMv2 or Kryoptic
: >"$WORK/results.tsv"
while read -r target bin; do
  "$bin" --list --format=terse 2>/dev/null | sed -n 's/: test$//p' >"$WORK/names"
  while read -r name; do
    (cd "$DEST" && timeout 300 "$bin" --exact "$name" --test-threads=1 --nocapture) \
      >"$WORK/out" 2>&1 </dev/null
    rc=$?
    if [ $rc -eq 0 ] && grep -q 'test result: ok. 1 passed' "$WORK/out"; then
      if grep -q 'SKIP:' "$WORK/out"; then
        outcome=skip detail=$(grep -o 'SKIP:.*' "$WORK/out" | head -n 1 | sed 's/ok$//')
      else
        outcome=pass detail=
      fi
    elif [ $rc -eq 0 ] && grep -q 'test result: ok. 0 passed; 0 failed; 1 ignored' "$WORK/out"; then
      outcome=skip detail="#[ignore] in the suite"
    else
      outcome=fail
      detail=$(grep -A 2 -m 1 'panicked at' "$WORK/out" | tail -n +2 | tr '\n\t' '  ' | cut -c 1-300)
      [ $rc -eq 124 ] && detail="timed out after 300 s"
      [ -n "$detail" ] || detail="exit status $rc: $(tail -n 1 "$WORK/out")"
    fi
    printf '%s::%s\t%s\t%s\n' "$target" "$name" "$outcome" "$detail" >>"$WORK/results.tsv"
  done <"$WORK/names"
done <"$WORK/bins"
python3 "$REPO/pkcs11-conformance/client-suites/compare.py" "cryptoki $V suite" "$WORK/results.tsv" "$LIST"
