#!/usr/bin/env bash
# Interoperability with Java 17's SunPKCS11 provider: keytool lists the token
# and generates RSA-2048 and P-256 key pairs with self-signed certificates on
# it (C_GenerateKeyPair, C_Sign, C_CreateObject of the certificate),
# jarsigner signs a jar with the token's keys (verified off the token against
# the exported certificate), and java/SoftKmsCheck.java drives the JCA:
# SHA256withRSA / SHA256withECDSA sign and verify (also verified by the JDK's
# software providers), an AES-256 key made by KeyGenerator on the token, and
# AES/GCM/NoPadding (with AAD, tamper rejected) and AES/CBC/PKCS5Padding round
# trips.
#
# Usage: java.sh MODULE_PATH
#   Prints one line per check and "java: N passed, N failed"; exits non-zero on
#   a failure. The token lives in a temporary directory (SOFTKMS_CONF,
#   kdf = "fast"); no network.
set -u
MODULE=$(realpath "${1:?usage: $0 MODULE_PATH}")
HERE=$(cd "$(dirname "$0")" && pwd)
for tool in pkcs11-tool java javac keytool jarsigner jar; do
  command -v "$tool" >/dev/null || { echo "$tool not installed"; exit 2; }
done

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# SOFTKMS_REMOTE=unix:PATH: the module is a client of the softkms serve on that socket, whose
# token (and its settings) the server holds (pkcs11-conformance/remote/run.sh).
if [ -n "${SOFTKMS_REMOTE:-}" ]; then
  printf '[[slot]]\nserver = "%s"\n' "$SOFTKMS_REMOTE" > "$WORK/softkms.toml"
else
  printf '[[slot]]\npath = "%s/token.db"\nkdf = "fast"\n' "$WORK" > "$WORK/softkms.toml"
fi
export SOFTKMS_CONF="$WORK/softkms.toml"
# Keep the JVMs away from the user's home (~/.java preferences, keystores).
export JAVA_TOOL_OPTIONS="-Djava.util.prefs.userRoot=$WORK/prefs -Duser.home=$WORK"
SO_PIN=so-secret-1
PIN=user-secret-1
cat > "$WORK/pkcs11.cfg" <<CONF
name = SoftKMS
library = $MODULE
slotListIndex = 0
CONF
T=(timeout 120)
P11=("${T[@]}" pkcs11-tool --module "$MODULE")
KS=(-keystore NONE -storetype PKCS11 -providerClass sun.security.pkcs11.SunPKCS11
    -providerArg "$WORK/pkcs11.cfg" -storepass "$PIN")
passed=0 failed=0

ok() { passed=$((passed + 1)); echo "ok   $1"; }
ko() { failed=$((failed + 1)); echo "FAIL $1"; grep -v '^Picked up JAVA_TOOL_OPTIONS' "$WORK/out" | tail -n 15 | sed 's/^/     /'; }
check() { # check NAME COMMAND... : the command must succeed
  local name=$1; shift
  if "$@" >"$WORK/out" 2>&1; then ok "$name"; else ko "$name"; fi
}
check_out() { # check_out NAME REGEX COMMAND... : must succeed and print a line matching REGEX
  local name=$1 re=$2; shift 2
  if "$@" >"$WORK/out" 2>&1 && grep -qE "$re" "$WORK/out"; then ok "$name"; else ko "$name"; fi
}

# --- token -------------------------------------------------------------------
check "init-token" "${P11[@]}" --init-token --label java --so-pin "$SO_PIN"
check "init-pin" "${P11[@]}" --token-label java --init-pin --login --login-type so \
  --so-pin "$SO_PIN" --pin "$PIN"

# --- keytool -----------------------------------------------------------------
check_out "keytool -list (empty token)" "Your keystore contains 0 entries" \
  "${T[@]}" keytool -list "${KS[@]}"
check "keytool -genkeypair RSA 2048" "${T[@]}" keytool -genkeypair "${KS[@]}" \
  -alias rsa1 -keyalg RSA -keysize 2048 -sigalg SHA256withRSA -dname CN=softkms -validity 30
check "keytool -genkeypair EC secp256r1" "${T[@]}" keytool -genkeypair "${KS[@]}" \
  -alias ec1 -keyalg EC -groupname secp256r1 -sigalg SHA256withECDSA -dname CN=softkms -validity 30
if "${T[@]}" keytool -list "${KS[@]}" >"$WORK/out" 2>&1 \
   && grep -qE '^rsa1, PrivateKeyEntry' "$WORK/out" && grep -qE '^ec1, PrivateKeyEntry' "$WORK/out" \
   && grep -q 'Your keystore contains 2 entries' "$WORK/out"; then
  ok "keytool -list shows rsa1 and ec1"
else ko "keytool -list shows rsa1 and ec1"; fi
check_out "keytool -list -v rsa1 self-signed by SHA256withRSA" "Signature algorithm name: SHA256withRSA" \
  "${T[@]}" keytool -list -v "${KS[@]}" -alias rsa1
check_out "keytool -list -v ec1 self-signed by SHA256withECDSA" "Signature algorithm name: SHA256withECDSA" \
  "${T[@]}" keytool -list -v "${KS[@]}" -alias ec1

# --- jarsigner ---------------------------------------------------------------
mkdir -p "$WORK/jar/pkg"
echo "signed by a SoftKMS key" > "$WORK/jar/pkg/hello.txt"
check "jar cf" "${T[@]}" jar cf "$WORK/in.jar" -C "$WORK/jar" pkg
for alias in rsa1 ec1; do
  check "keytool -exportcert $alias" "${T[@]}" keytool -exportcert "${KS[@]}" -alias "$alias" \
    -rfc -file "$WORK/$alias.pem"
  check "keytool -importcert $alias (software truststore)" "${T[@]}" keytool -importcert -noprompt \
    -alias "$alias" -file "$WORK/$alias.pem" -keystore "$WORK/trust.p12" -storetype PKCS12 \
    -storepass trustpass
  check "jarsigner sign with $alias" "${T[@]}" jarsigner "${KS[@]}" \
    -signedjar "$WORK/signed-$alias.jar" "$WORK/in.jar" "$alias"
  # verified off the token: against the exported certificate in a PKCS12 file
  check_out "jarsigner -verify $alias (exported certificate)" "^jar verified" \
    "${T[@]}" jarsigner -verify -strict -verbose -certs -keystore "$WORK/trust.p12" -storetype PKCS12 \
    -storepass trustpass "$WORK/signed-$alias.jar"
  if grep -qE '^smk .*pkg/hello.txt' "$WORK/out"; then ok "jarsigner -verify $alias: entry signed, signer in truststore"
  else ko "jarsigner -verify $alias: entry signed, signer in truststore"; fi
done
# a tampered jar must not verify
cp "$WORK/signed-rsa1.jar" "$WORK/tampered.jar" 2>/dev/null
echo "changed" > "$WORK/jar/pkg/hello.txt"
(cd "$WORK/jar" && "${T[@]}" jar uf "$WORK/tampered.jar" pkg/hello.txt) >/dev/null 2>&1
if ! "${T[@]}" jarsigner -verify "$WORK/tampered.jar" >"$WORK/out" 2>&1 \
   && grep -q 'digest error for pkg/hello.txt' "$WORK/out"; then
  ok "jarsigner -verify rejects a tampered jar"
else ko "jarsigner -verify rejects a tampered jar"; fi

# --- JCA through SunPKCS11 ---------------------------------------------------
if "${T[@]}" javac -d "$WORK/classes" "$HERE/java/SoftKmsCheck.java" >"$WORK/out" 2>&1; then
  ok "javac SoftKmsCheck"
  "${T[@]}" java -cp "$WORK/classes" SoftKmsCheck "$WORK/pkcs11.cfg" "$PIN" rsa1 ec1 \
    >"$WORK/jca" 2>&1
  rc=$?
  grep -v '^Picked up JAVA_TOOL_OPTIONS' "$WORK/jca" | sed -E '/^(ok   |FAIL )/!s/^/     /'
  p=$(grep -c '^ok ' "$WORK/jca"); f=$(grep -c '^FAIL ' "$WORK/jca")
  passed=$((passed + p)); failed=$((failed + f))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    failed=$((failed + 1)); echo "FAIL SoftKmsCheck exited $rc"
  fi
else ko "javac SoftKmsCheck"; fi

echo "java: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
