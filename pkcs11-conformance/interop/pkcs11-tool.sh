#!/usr/bin/env bash
# Interoperability with OpenSC's pkcs11-tool: token and PIN management and
# object storage (PKCS#11 §5.4–5.7) as a stock client drives them.
# Usage: pkcs11-tool.sh MODULE_PATH      Prints "N passed, N failed"; exits non-zero on a failure.
set -u
MODULE=$(realpath "${1:?usage: $0 MODULE_PATH}")
command -v pkcs11-tool >/dev/null || { echo "pkcs11-tool not installed"; exit 2; }
command -v openssl >/dev/null || { echo "openssl not installed"; exit 2; }

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
export SOFTKMS_CONF="$WORK/softkms.toml"
SO_PIN=so-secret-1
PIN=user-secret-1
NEW_PIN=user-secret-2
P11=(timeout 60 pkcs11-tool --module "$MODULE")
passed=0 failed=0

check() { # check NAME COMMAND... : the command must succeed
  local name=$1; shift
  if "$@" >"$WORK/out" 2>&1; then passed=$((passed + 1)); echo "ok   $name"
  else failed=$((failed + 1)); echo "FAIL $name"; sed 's/^/     /' "$WORK/out" | tail -n 15; fi
}
refuse() { # refuse NAME COMMAND... : the command must fail
  local name=$1; shift
  if "$@" >"$WORK/out" 2>&1; then failed=$((failed + 1)); echo "FAIL $name (succeeded)"
  else passed=$((passed + 1)); echo "ok   $name"; fi
}
grep_out() { grep -q "$1" "$WORK/out"; }

check "show-info" "${P11[@]}" --show-info
grep_out "SoftKMS" && check "show-info names SoftKMS" true || check "show-info names SoftKMS" false
check "list-slots" "${P11[@]}" --list-slots
check "init-token" "${P11[@]}" --init-token --label interop --so-pin "$SO_PIN"
check "list-slots shows the label" bash -c "${P11[*]} --list-slots | grep -q 'interop'"
check "init-pin" "${P11[@]}" --init-pin --login --login-type so --so-pin "$SO_PIN" --pin "$PIN"
check "login" "${P11[@]}" --login --pin "$PIN" --list-objects
check "change-pin" "${P11[@]}" --login --pin "$PIN" --change-pin --new-pin "$NEW_PIN"
refuse "old PIN refused" "${P11[@]}" --login --pin "$PIN" --list-objects
check "new PIN works" "${P11[@]}" --login --pin "$NEW_PIN" --list-objects

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -subj "/CN=softkms interop" \
  -days 2 -outform DER -out "$WORK/cert.der" 2>/dev/null
printf 'interop data object payload' > "$WORK/data.bin"
check "write certificate" "${P11[@]}" --login --pin "$NEW_PIN" --write-object "$WORK/cert.der" \
  --type cert --id 01 --label cert1
check "write data object" "${P11[@]}" --login --pin "$NEW_PIN" --write-object "$WORK/data.bin" \
  --type data --label data1 --application-label app1
check "write private data object" "${P11[@]}" --login --pin "$NEW_PIN" --write-object "$WORK/data.bin" \
  --type data --label secretdata --private
check "list-objects" "${P11[@]}" --login --pin "$NEW_PIN" --list-objects
grep_out "cert1" && grep_out "data1" && grep_out "secretdata"
check "list-objects shows all three" test $? -eq 0
check "public list hides the private object" bash -c "! ${P11[*]} --list-objects | grep -q secretdata"
check "read certificate" "${P11[@]}" --read-object --type cert --id 01 --output-file "$WORK/cert.out"
check "certificate reads back byte for byte" cmp "$WORK/cert.der" "$WORK/cert.out"
check "read data object" "${P11[@]}" --login --pin "$NEW_PIN" --read-object --type data --label data1 \
  --output-file "$WORK/data.out"
check "data reads back byte for byte" cmp "$WORK/data.bin" "$WORK/data.out"
check "delete data object" "${P11[@]}" --login --pin "$NEW_PIN" --delete-object --type data --label data1
check "deleted object is gone" bash -c "! ${P11[*]} --login --pin $NEW_PIN --list-objects | grep -q data1"
check "delete certificate" "${P11[@]}" --login --pin "$NEW_PIN" --delete-object --type cert --id 01
refuse "wrong SO PIN cannot re-initialize" "${P11[@]}" --init-token --label again --so-pin wrong-so-pin
check "re-initialize with the SO PIN" "${P11[@]}" --init-token --label again --so-pin "$SO_PIN"
check "re-initialized token is empty" bash -c "! ${P11[*]} --list-objects | grep -q secretdata"

echo "pkcs11-tool: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
