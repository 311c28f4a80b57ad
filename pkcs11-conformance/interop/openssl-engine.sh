#!/usr/bin/env bash
# Interoperability with OpenSSL 3 through libp11's PKCS#11 engine: key pairs
# made on the token by pkcs11-tool (C_GenerateKeyPair, §5.13), then signatures
# (C_Sign, §5.11; PKCS#1 v1.5, PSS, ECDSA), RSA decryption (C_Decrypt), ECDH
# (C_DeriveKey), a CKA_ALWAYS_AUTHENTICATE key, self-signed certificates and
# TLS 1.2/1.3 handshakes on 127.0.0.1, with the private keys staying on the token.
# Every result is checked with plain openssl. Also runs against SoftHSMv2.
# Usage: openssl-engine.sh MODULE_PATH   Prints "N passed, N failed"; exits non-zero on a failure.
set -u
MODULE=$(realpath "${1:?usage: $0 MODULE_PATH}")
command -v pkcs11-tool >/dev/null || { echo "pkcs11-tool not installed"; exit 2; }
command -v openssl >/dev/null || { echo "openssl not installed"; exit 2; }
ENGINE=""
for e in "$(openssl version -e 2>/dev/null | sed -n 's/^ENGINESDIR: "\(.*\)"$/\1/p')/pkcs11.so" \
  /usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so /usr/lib/engines-3/pkcs11.so; do
  [ -f "$e" ] && { ENGINE=$e; break; }
done
[ -n "$ENGINE" ] || { echo "libp11's pkcs11 engine not installed (libengine-pkcs11-openssl)"; exit 2; }

WORK=$(mktemp -d)
SERVER_PID=""
# The server runs under timeout, which leads its own process group: end the group.
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -- "-$SERVER_PID" 2>/dev/null || kill "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=""
}
cleanup() {
  stop_server
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 143' INT TERM
# A fresh token for SoftKMS, and for SoftHSMv2 when that is the module under test.
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

LABEL=ossl-engine
SO_PIN=so-secret-1
PIN=user-secret-1
cat > "$WORK/openssl.cnf" <<CONF
openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
dynamic_path = $ENGINE
MODULE_PATH = $MODULE
init = 0
[req]
distinguished_name = req_dn
x509_extensions = v3_self
prompt = no
[req_dn]
[v3_self]
basicConstraints = critical, CA:TRUE
subjectKeyIdentifier = hash
CONF
P11=(timeout 60 pkcs11-tool --module "$MODULE")
P11T=("${P11[@]}" --token-label "$LABEL")
# openssl with the engine configured; plain openssl for every verification.
OSSL=(env OPENSSL_CONF="$WORK/openssl.cnf" timeout 60 openssl)
PLAIN=(env OPENSSL_CONF=/dev/null timeout 60 openssl)
SERVER=(env OPENSSL_CONF="$WORK/openssl.cnf" timeout 30 openssl s_server)
CLIENT=(env OPENSSL_CONF=/dev/null timeout 20 openssl s_client)
ENG=(-engine pkcs11)
priv() { echo "pkcs11:token=$LABEL;object=$1;type=private;pin-value=$PIN"; }
pub() { echo "pkcs11:token=$LABEL;object=$1;type=public"; }
passed=0 failed=0

check() { # check NAME COMMAND... : the command must succeed
  local name=$1; shift
  if "$@" >"$WORK/out" 2>&1; then passed=$((passed + 1)); echo "ok   $name"
  else failed=$((failed + 1)); echo "FAIL $name"; sed 's/^/     /' "$WORK/out" | tail -n 15; fi
}

check "init-token" "${P11[@]}" --init-token --label "$LABEL" --so-pin "$SO_PIN"
check "init-pin" "${P11T[@]}" --init-pin --login --login-type so --so-pin "$SO_PIN" --pin "$PIN"
check "keypairgen RSA-2048" "${P11T[@]}" --login --pin "$PIN" --keypairgen --key-type rsa:2048 \
  --id 01 --label rsa
check "keypairgen EC P-256" "${P11T[@]}" --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 \
  --id 02 --label ec
check "keypairgen RSA-2048 with CKA_ALWAYS_AUTHENTICATE" "${P11T[@]}" --login --pin "$PIN" \
  --keypairgen --key-type rsa:2048 --id 03 --label rsa-aa --always-auth

printf 'data signed through the libp11 engine\n' > "$WORK/data.txt"
"${PLAIN[@]}" dgst -sha256 -binary -out "$WORK/data.sha256" "$WORK/data.txt"

for key in rsa ec; do
  check "$key: export public key through the engine" "${OSSL[@]}" pkey "${ENG[@]}" -pubin \
    -inform engine -in "$(pub $key)" -out "$WORK/$key-pub.pem"
  check "$key: pkcs11-tool public key matches" bash -c "
    ${P11T[*]} --read-object --type pubkey --label $key --output-file '$WORK/$key-pub.der' &&
    ${PLAIN[*]} pkey -pubin -inform DER -in '$WORK/$key-pub.der' -out '$WORK/$key-pub2.pem' &&
    cmp '$WORK/$key-pub.pem' '$WORK/$key-pub2.pem'"
  check "$key: dgst -sha256 -sign" "${OSSL[@]}" dgst -sha256 "${ENG[@]}" -keyform engine \
    -sign "$(priv $key)" -out "$WORK/$key.dgst.sig" "$WORK/data.txt"
  check "$key: dgst signature verifies with plain openssl" "${PLAIN[@]}" dgst -sha256 \
    -verify "$WORK/$key-pub.pem" -signature "$WORK/$key.dgst.sig" "$WORK/data.txt"
  check "$key: pkeyutl -sign" "${OSSL[@]}" pkeyutl -sign "${ENG[@]}" -keyform engine \
    -inkey "$(priv $key)" -pkeyopt digest:sha256 -in "$WORK/data.sha256" -out "$WORK/$key.pkeyutl.sig"
  check "$key: pkeyutl signature verifies with plain openssl" "${PLAIN[@]}" pkeyutl -verify \
    -pubin -inkey "$WORK/$key-pub.pem" -pkeyopt digest:sha256 -in "$WORK/data.sha256" \
    -sigfile "$WORK/$key.pkeyutl.sig"
done
# RSA-PSS: salt = hLen, and the largest salt ("auto", what libp11 asks for by default:
# 256 - 32 - 2 = 222 bytes). ("max" is passed by libp11 0.4.12 as sLen = (CK_ULONG)-3.)
for salt in 32 auto; do
  check "rsa: pkeyutl -sign RSA-PSS (salt $salt)" "${OSSL[@]}" pkeyutl -sign "${ENG[@]}" -keyform engine \
    -inkey "$(priv rsa)" -pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss \
    -pkeyopt "rsa_pss_saltlen:$salt" -in "$WORK/data.sha256" -out "$WORK/rsa.pss.sig"
  check "rsa: RSA-PSS (salt $salt) signature verifies with plain openssl" "${PLAIN[@]}" pkeyutl \
    -verify -pubin -inkey "$WORK/rsa-pub.pem" -pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss \
    -pkeyopt "rsa_pss_saltlen:$salt" -in "$WORK/data.sha256" -sigfile "$WORK/rsa.pss.sig"
done
check "rsa: lookup by id with -passin" "${OSSL[@]}" dgst -sha256 "${ENG[@]}" -keyform engine \
  -sign "pkcs11:token=$LABEL;id=%01;type=private" -passin "pass:$PIN" -out "$WORK/rsa.id.sig" "$WORK/data.txt"
check "rsa: id signature verifies with plain openssl" "${PLAIN[@]}" dgst -sha256 \
  -verify "$WORK/rsa-pub.pem" -signature "$WORK/rsa.id.sig" "$WORK/data.txt"

# C_Decrypt: plain openssl encrypts to the token's public key, the engine decrypts.
for pad in pkcs1 oaep; do
  opts=(-pkeyopt "rsa_padding_mode:$pad")
  [ $pad = oaep ] && opts+=(-pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256)
  "${PLAIN[@]}" pkeyutl -encrypt -pubin -inkey "$WORK/rsa-pub.pem" "${opts[@]}" -in "$WORK/data.txt" \
    -out "$WORK/rsa.$pad.enc" 2>/dev/null
  check "rsa: pkeyutl -decrypt ($pad)" bash -c "${OSSL[*]} pkeyutl -decrypt ${ENG[*]} -keyform engine \
    -inkey '$(priv rsa)' ${opts[*]} -in '$WORK/rsa.$pad.enc' -out '$WORK/rsa.$pad.dec' &&
    cmp '$WORK/data.txt' '$WORK/rsa.$pad.dec'"
done

# C_DeriveKey (CKM_ECDH1_DERIVE): the engine and plain openssl agree on the shared secret.
"${PLAIN[@]}" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/peer.pem" 2>/dev/null
"${PLAIN[@]}" pkey -in "$WORK/peer.pem" -pubout -out "$WORK/peer-pub.pem" 2>/dev/null
check "ec: pkeyutl -derive (ECDH)" "${OSSL[@]}" pkeyutl -derive "${ENG[@]}" -keyform engine \
  -inkey "$(priv ec)" -peerkey "$WORK/peer-pub.pem" -out "$WORK/ecdh.token"
check "ec: ECDH secret matches plain openssl" bash -c "${PLAIN[*]} pkeyutl -derive \
  -inkey '$WORK/peer.pem' -peerkey '$WORK/ec-pub.pem' -out '$WORK/ecdh.plain' &&
  cmp '$WORK/ecdh.token' '$WORK/ecdh.plain'"

# CKA_ALWAYS_AUTHENTICATE: libp11 asks for the PIN again (read from stdin) and logs in as
# CKU_CONTEXT_SPECIFIC before C_Sign (§5.5 C_Login, §4.9 private key objects). setsid: no
# controlling terminal, so OpenSSL's UI reads stdin and not /dev/tty.
check "rsa-aa: export public key" "${OSSL[@]}" pkey "${ENG[@]}" -pubin -inform engine \
  -in "$(pub rsa-aa)" -out "$WORK/rsa-aa-pub.pem"
check "rsa-aa: sign after context-specific login" bash -c "echo '$PIN' | setsid ${OSSL[*]} pkeyutl -sign \
  ${ENG[*]} -keyform engine -inkey '$(priv rsa-aa)' -pkeyopt digest:sha256 \
  -in '$WORK/data.sha256' -out '$WORK/rsa-aa.sig'"
check "rsa-aa: signature verifies with plain openssl" "${PLAIN[@]}" pkeyutl -verify -pubin \
  -inkey "$WORK/rsa-aa-pub.pem" -pkeyopt digest:sha256 -in "$WORK/data.sha256" -sigfile "$WORK/rsa-aa.sig"
check "rsa-aa: wrong context-specific PIN refused" bash -c "! echo wrong-pin | setsid ${OSSL[*]} pkeyutl \
  -sign ${ENG[*]} -keyform engine -inkey '$(priv rsa-aa)' -pkeyopt digest:sha256 \
  -in '$WORK/data.sha256' -out '$WORK/rsa-aa.bad.sig' > '$WORK/bad.log' 2>&1 &&
  grep -q 'PIN incorrect' '$WORK/bad.log'"

for key in rsa ec; do
  check "$key: req -x509 self-signed certificate" "${OSSL[@]}" req -x509 -new "${ENG[@]}" \
    -keyform engine -key "$(priv $key)" -sha256 -subj /CN=softkms -days 1 -out "$WORK/$key-cert.pem"
  check "$key: verify -CAfile (self-signed)" "${PLAIN[@]}" verify -CAfile "$WORK/$key-cert.pem" \
    "$WORK/$key-cert.pem"
  check "$key: certificate holds the token's public key" bash -c "
    ${PLAIN[*]} x509 -in '$WORK/$key-cert.pem' -noout -pubkey > '$WORK/$key-cert-pub.pem' &&
    cmp '$WORK/$key-pub.pem' '$WORK/$key-cert-pub.pem'"
done

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# tls NAME KEY PROTOCOL SIGNATURE_TYPE CLIENT_ARGS... : one handshake and one GET against
# s_server -www restricted to PROTOCOL (-tls1_2, -tls1_3); the client must see that protocol
# and a server signature of SIGNATURE_TYPE (as s_client prints it).
tls() {
  local name=$1 key=$2 proto=$3 sigtype=$4 port tries=0; shift 4
  SERVER_PID=""
  while [ $tries -lt 20 ]; do
    tries=$((tries + 1))
    port=$((20000 + RANDOM % 40000))
    port_free "$port" || continue
    : > "$WORK/server.log" # before the server starts, so no earlier ACCEPT is read
    "${SERVER[@]}" "${ENG[@]}" -keyform engine -key "$(priv "$key")" \
      -cert "$WORK/$key-cert.pem" -accept "127.0.0.1:$port" -www "$proto" -naccept 1 \
      >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    local waited=0
    while [ $waited -lt 100 ] && kill -0 "$SERVER_PID" 2>/dev/null &&
      ! grep -qs '^ACCEPT' "$WORK/server.log"; do
      sleep 0.1; waited=$((waited + 1))
    done
    kill -0 "$SERVER_PID" 2>/dev/null && grep -q '^ACCEPT' "$WORK/server.log" && break
    stop_server
    grep -q -i "address already in use" "$WORK/server.log" || break
  done
  if [ -z "$SERVER_PID" ]; then
    failed=$((failed + 1)); echo "FAIL $name (s_server did not start)"
    sed 's/^/     /' "$WORK/server.log" | tail -n 15; return
  fi
  # The handshake left the server; a response proves the engine signed for it.
  check "$name" bash -c "printf 'GET / HTTP/1.0\r\n\r\n' |
    ${CLIENT[*]} -connect 127.0.0.1:$port -CAfile '$WORK/$key-cert.pem' \
      -verify_return_error -ign_eof $proto $* > '$WORK/client.log' 2>&1;
    cat '$WORK/client.log'; grep -q '^HTTP/1.0 200 ok' '$WORK/client.log' &&
    grep -q 'Verify return code: 0 (ok)' '$WORK/client.log' &&
    grep -q 'Protocol  : TLSv1.${proto#-tls1_}\$' '$WORK/client.log' &&
    grep -q '^Peer signature type: $sigtype\$' '$WORK/client.log'"
  stop_server
}

tls "rsa: TLS 1.3 handshake (RSA-PSS) and GET" rsa -tls1_3 RSA-PSS
tls "rsa: TLS 1.2 handshake (RSA-PSS) and GET" rsa -tls1_2 RSA-PSS -sigalgs rsa_pss_rsae_sha256
tls "rsa: TLS 1.2 handshake (PKCS#1 v1.5) and GET" rsa -tls1_2 RSA -sigalgs rsa_pkcs1_sha256
tls "ec: TLS 1.3 handshake (ECDSA) and GET" ec -tls1_3 ECDSA
tls "ec: TLS 1.2 handshake (ECDSA) and GET" ec -tls1_2 ECDSA

echo "openssl-engine: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
