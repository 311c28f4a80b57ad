#!/usr/bin/env bash
# Interoperability with GnuTLS: p11tool and certtool (gnutls-bin) drive the
# module through p11-kit's --provider: token listing, login and object listing,
# EC P-256 and RSA-2048 key generation (C_GenerateKeyPair), public-key export,
# a self-signed certificate signed on the token (C_Sign) and verified by
# certtool, certificate storage (C_CreateObject), p11tool --test-sign
# sign/verify round trips, a PKCS#7 signature, and object deletion.
# Usage: gnutls.sh MODULE_PATH   Prints "gnutls: N passed, N failed"; exits non-zero on a failure.
set -u
MODULE=$(realpath "${1:?usage: $0 MODULE_PATH}")
for t in p11tool certtool pkcs11-tool; do
  command -v "$t" >/dev/null || { echo "$t not installed"; exit 2; }
done
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
trap 'exit 143' INT TERM
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
mkdir "$WORK/softhsm"
printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$WORK/softhsm" > "$WORK/softhsm2.conf"
export SOFTHSM2_CONF="$WORK/softhsm2.conf"
# Keep p11-kit from loading the system's configured modules.
export P11_KIT_NO_USER_CONFIG=1

LABEL=gnutls
SO_PIN=so-secret-1
PIN=user-secret-1
export GNUTLS_PIN="$PIN" GNUTLS_SO_PIN="$SO_PIN"
TOKEN="pkcs11:token=$LABEL"
P11=(timeout 60 pkcs11-tool --module "$MODULE")
P11TOOL=(timeout 60 p11tool --provider "$MODULE" --batch)
CERTTOOL=(timeout 60 certtool --provider "$MODULE")
passed=0 failed=0
LOG="$WORK/log"
check() {
  local name=$1; shift
  if "$@" >"$LOG" 2>&1; then
    echo "ok   $name"; passed=$((passed + 1))
  else
    echo "FAIL $name"; sed 's/^/     | /' "$LOG" | tail -n 15; failed=$((failed + 1))
  fi
}
# grep_out PATTERN CMD...: CMD succeeds and its output matches PATTERN.
grep_out() {
  local pat=$1; shift
  "$@" >"$WORK/out" 2>&1 || { cat "$WORK/out"; return 1; }
  grep -q -- "$pat" "$WORK/out" || { cat "$WORK/out"; echo "no match for: $pat"; return 1; }
}

check "init token (pkcs11-tool --init-token, --init-pin)" \
  sh -c '"$@" --init-token --label "'"$LABEL"'" --so-pin "'"$SO_PIN"'" && "$@" --token-label "'"$LABEL"'" --login --login-type so --so-pin "'"$SO_PIN"'" --init-pin --pin "'"$PIN"'"' _ "${P11[@]}"
check "p11tool --list-tokens shows the token" grep_out "token=$LABEL" "${P11TOOL[@]}" --list-tokens
# p11tool exits non-zero with "No matching objects found" on an empty token.
check "p11tool --list-all --login (empty token)" grep_out "No matching objects" sh -c '"$@"; true' _ "${P11TOOL[@]}" --list-all --login "$TOKEN"
check "p11tool --login with a wrong PIN is refused" \
  sh -c '! GNUTLS_PIN=wrong-pin-0 "$@" > "'"$WORK"'/bad" 2>&1 && grep -q "Wrong PIN" "'"$WORK"'/bad"' _ "${P11TOOL[@]}" --list-all --login "$TOKEN"

check "generate EC P-256 key pair" \
  "${P11TOOL[@]}" --generate-privkey ecdsa --curve secp256r1 --label gt-ec --login "$TOKEN"
check "generate RSA-2048 key pair" \
  "${P11TOOL[@]}" --generate-privkey rsa --bits 2048 --label gt-rsa --login "$TOKEN"
check "list-all --login shows both private keys" \
  sh -c '"$@" > "'"$WORK"'/all" && grep -q "object=gt-ec;type=private" "'"$WORK"'/all" && grep -q "object=gt-rsa;type=private" "'"$WORK"'/all"' _ \
  "${P11TOOL[@]}" --list-all --login "$TOKEN"
check "list-privkeys --login" grep_out "object=gt-ec" "${P11TOOL[@]}" --list-privkeys --login "$TOKEN"

for k in ec rsa; do
  check "export public key ($k)" sh -c '"$@" --outfile "'"$WORK"'/'"$k"'.pub" && grep -q "BEGIN PUBLIC KEY" "'"$WORK"'/'"$k"'.pub" && certtool --pubkey-info --infile "'"$WORK"'/'"$k"'.pub" >/dev/null' _ \
    "${P11TOOL[@]}" --export-pubkey --login "$TOKEN;object=gt-$k;type=public"
done

cat > "$WORK/tmpl" <<T
cn = "SoftKMS GnuTLS interop"
serial = 1
expiration_days = 30
ca
cert_signing_key
signing_key
T
for k in ec rsa; do
  check "certtool --generate-self-signed with the $k key on the token" \
    "${CERTTOOL[@]}" --generate-self-signed --load-privkey "$TOKEN;object=gt-$k;type=private" \
      --load-pubkey "$WORK/$k.pub" --template "$WORK/tmpl" --outfile "$WORK/$k.crt"
  check "certtool --verify ($k self-signed)" \
    grep_out "Verified" timeout 60 certtool --verify --load-ca-certificate "$WORK/$k.crt" --infile "$WORK/$k.crt"
done

check "p11tool --write certificate" \
  "${P11TOOL[@]}" --write --load-certificate "$WORK/ec.crt" --label gt-ec --login "$TOKEN"
check "p11tool --list-all-certs shows it" grep_out "object=gt-ec;type=cert" "${P11TOOL[@]}" --list-all-certs "$TOKEN"
check "p11tool --export certificate matches" \
  sh -c '"$@" --outfile "'"$WORK"'/back.crt" && [ "$(certtool -i --infile "'"$WORK"'/back.crt" --outder | sha256sum)" = "$(certtool -i --infile "'"$WORK"'/ec.crt" --outder | sha256sum)" ]' _ \
  "${P11TOOL[@]}" --export "$TOKEN;object=gt-ec;type=cert"

for k in ec rsa; do
  check "p11tool --test-sign ($k)" \
    grep_out "Verifying against public key in the token" "${P11TOOL[@]}" --test-sign --login "$TOKEN;object=gt-$k"
done

echo "data to be signed by the token" > "$WORK/data.txt"
check "certtool --p7-sign with the EC key, --p7-verify" \
  sh -c '"$@" --p7-sign --load-privkey "'"$TOKEN"';object=gt-ec;type=private" --load-certificate "'"$WORK"'/ec.crt" --infile "'"$WORK"'/data.txt" --outfile "'"$WORK"'/data.p7" && timeout 60 certtool --p7-verify --load-certificate "'"$WORK"'/ec.crt" --infile "'"$WORK"'/data.p7" --load-data "'"$WORK"'/data.txt"' _ \
  "${CERTTOOL[@]}"

check "p11tool --delete the certificate" \
  "${P11TOOL[@]}" --delete --login "$TOKEN;object=gt-ec;type=cert"
check "certificate is gone" \
  sh -c '! "$@" 2>&1 | grep -q "object=gt-ec;type=cert"' _ "${P11TOOL[@]}" --list-all-certs "$TOKEN"
check "p11tool --delete the RSA private key" \
  "${P11TOOL[@]}" --delete --login "$TOKEN;object=gt-rsa;type=private"
check "only the RSA private key is gone" \
  sh -c '"$@" > "'"$WORK"'/all" && ! grep -q "object=gt-rsa;type=private" "'"$WORK"'/all" && grep -q "object=gt-rsa;type=public" "'"$WORK"'/all" && grep -q "object=gt-ec;type=private" "'"$WORK"'/all"' _ \
  "${P11TOOL[@]}" --list-all --login "$TOKEN"

echo "gnutls: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
