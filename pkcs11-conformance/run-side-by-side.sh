#!/usr/bin/env bash
# Runs the PKCS#11 3.0 conformance runner (pkcs11-conformance) against SoftKMS and
# SoftHSMv2, each on a fresh token in a temporary configuration initialized by the
# runner itself (--init), and writes docs/conformance.md: both result tables side by
# side, the totals, and a reason for every case where the two differ (reasons from
# pkcs11-conformance/reasons.tsv, written by hand) and, before the chapters, the section
# on the client libraries' own test suites (pkcs11-conformance/client-suites/conformance.md).
#
# Usage: run-side-by-side.sh [SOFTKMS_MODULE [SOFTHSM_MODULE]]
#   defaults: target/debug/libsoftkms.so (built here with `cargo build --lib`) and
#   /usr/lib/softhsm/libsofthsm2.so. Set NO_DOCS=1 to leave docs/conformance.md alone.
# Checks: SoftKMS must pass every case it runs, except the ones listed in
# pkcs11-conformance/softkms-known-failures.txt (each a reported SoftKMS bug; a listed
# case that passes is a failure too, so the list only shrinks); SoftHSMv2 must run to
# the end (its failures are differences, not failures of this script).
# Prints one line per check and "run-side-by-side: N passed, N failed"; exits non-zero on a failure.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SOFTKMS=${1:-target/debug/libsoftkms.so}
SOFTHSM=${2:-/usr/lib/softhsm/libsofthsm2.so}
KNOWN=pkcs11-conformance/softkms-known-failures.txt
REASONS=pkcs11-conformance/reasons.tsv
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
trap 'exit 143' INT TERM
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

if timeout 1800 cargo build --quiet --lib && timeout 1800 cargo build --quiet -p pkcs11-conformance; then
  ok "build libsoftkms.so and the runner"
else
  bad "build libsoftkms.so and the runner"
  echo "run-side-by-side: $passed passed, $failed failed"
  exit 1
fi
RUNNER=$ROOT/target/debug/pkcs11-conformance

# --- SoftKMS: one slot, fast KDF, token in the temp dir.
mkdir -p "$WORK/softkms"
# legacy_mechanisms: SoftHSMv2 offers Triple-DES, so the DES3 cases run on both.
printf 'legacy_mechanisms = true\n[[slot]]\npath = "%s"\nkdf = "fast"\n' "$WORK/softkms/token.db" > "$WORK/softkms/softkms.toml"
SOFTKMS_CONF="$WORK/softkms/softkms.toml" timeout 600 "$RUNNER" --module "$SOFTKMS" --init \
  > "$WORK/softkms.txt" 2> "$WORK/softkms.err"
rc_k=$?
SOFTKMS_CONF="$WORK/softkms/softkms.toml" timeout 600 "$RUNNER" --module "$SOFTKMS" --init --json \
  > "$WORK/softkms.json" 2>> "$WORK/softkms.err"
sum_k=$(tail -n 1 "$WORK/softkms.txt")
echo "     SoftKMS: $sum_k"
if [ "$rc_k" -ge 2 ] || ! grep -qE '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' <<<"$sum_k"; then
  bad "SoftKMS: the runner did not finish (exit $rc_k)"; sed 's/^/     /' "$WORK/softkms.err" | tail -n 20
else
  grep -E '^[^ ]+ +(cm |3\.2 )?[^ ]+ +FAIL ' "$WORK/softkms.txt" | awk '{print $1}' | sort > "$WORK/fails"
  grep -vE '^\s*(#|$)' "$KNOWN" 2>/dev/null | awk '{print $1}' | sort > "$WORK/known"
  new=$(comm -23 "$WORK/fails" "$WORK/known")
  fixed=$(comm -13 "$WORK/fails" "$WORK/known")
  if [ -z "$new" ]; then ok "SoftKMS: no failure outside $KNOWN ($(wc -l < "$WORK/known") known)"
  else bad "SoftKMS: new failures"; for c in $new; do grep -E "^$c " "$WORK/softkms.txt" | sed 's/^/     /'; done; fi
  if [ -z "$fixed" ]; then ok "SoftKMS: every known failure still fails"
  else bad "SoftKMS: these now pass, remove them from $KNOWN: $(echo $fixed)"; fi
fi

# --- SoftHSMv2: temp tokendir; the runner initializes slot 0 (stable per run).
if [ -f "$SOFTHSM" ]; then
  for mode in txt json; do
    rm -rf "$WORK/softhsm"; mkdir -p "$WORK/softhsm/tokens"
    printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
      "$WORK/softhsm/tokens" > "$WORK/softhsm/softhsm2.conf"
    flag=""; [ "$mode" = json ] && flag=--json
    SOFTHSM2_CONF="$WORK/softhsm/softhsm2.conf" timeout 600 "$RUNNER" --module "$SOFTHSM" --slot 0 --init $flag \
      > "$WORK/softhsm.$mode" 2>> "$WORK/softhsm.err"
  done
  sum_h=$(tail -n 1 "$WORK/softhsm.txt")
  echo "     SoftHSMv2: $sum_h"
  if grep -qE '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' <<<"$sum_h" && grep -q '"cases"' "$WORK/softhsm.json"; then
    ok "SoftHSMv2: the runner ran to the end"
  else
    bad "SoftHSMv2: the runner did not finish"; sed 's/^/     /' "$WORK/softhsm.err" | tail -n 20
  fi
else
  bad "SoftHSMv2 not installed ($SOFTHSM)"
fi

# --- docs/conformance.md
if [ "${NO_DOCS:-0}" != 1 ] && [ -s "$WORK/softkms.json" ] && [ -s "$WORK/softhsm.json" ]; then
  # The hand-written section on the client libraries' own suites goes in before the chapters.
  if "$RUNNER" --report "$WORK/softkms.json" "$WORK/softhsm.json" "$REASONS" > "$WORK/report.md" &&
     awk -v f=pkcs11-conformance/client-suites/conformance.md \
       '/^## Cases per chapter/ { while ((getline l < f) > 0) print l; print "" } { print }' \
       "$WORK/report.md" > "$WORK/conformance.md"; then
    mv "$WORK/conformance.md" docs/conformance.md
    ok "wrote docs/conformance.md"
  else
    bad "writing docs/conformance.md"
  fi
fi
echo "run-side-by-side: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
