#!/usr/bin/env bash
# The main job, end to end: build; a token on the default path
# ($XDG_DATA_HOME/softkms/token.db); a managed key; envelope encryption; a
# rotation; the old ciphertext still decrypts; a data key; the key's history;
# the audit trail of the key, and the audit chain verified.
# An existing token is reused (never re-initialized): then SOFTKMS_PIN must be its user PIN.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
export SOFTKMS_SO_PIN=${SOFTKMS_SO_PIN:-demo-so-pin}
export SOFTKMS_PIN=${SOFTKMS_PIN:-demo-user-pin}
K=./target/release/softkms
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! "$K" --json token info | grep -q '"initialized":true'; then
  "$K" token init --label demo
fi
"$K" token info
key="demo-$(date +%s)"
echo "== a managed key (AES-256, rotates every 90 days)"
"$K" key create --label "$key" --spec aes256 --rotation-days 90
echo "== envelope encryption under version 1"
printf 'the quarterly numbers\n' > "$work/plain.txt"
"$K" encrypt --key "$key" --context app=billing --in "$work/plain.txt" --out "$work/v1.bin"
echo "== rotate on demand, encrypt again under version 2"
"$K" key rotate "$key"
"$K" encrypt --key "$key" --context app=billing --in "$work/plain.txt" --out "$work/v2.bin"
echo "== both ciphertexts decrypt (the message names its key and version)"
"$K" decrypt --context app=billing --in "$work/v1.bin"
"$K" decrypt --context app=billing --in "$work/v2.bin"
echo "== a wrong context is refused"
if "$K" decrypt --context app=other --in "$work/v1.bin" 2>/dev/null; then exit 1; else echo "refused"; fi
echo "== a data key: plaintext for local use, ciphertext blob to store"
"$K" datakey generate --key "$key" --context app=billing --out "$work/dk.blob"
"$K" datakey decrypt --blob "$work/dk.blob" --context app=billing
echo "== the key's history"
"$K" key show "$key"
echo "== the audit trail of this key (changes, and the uses counted per session)"
"$K" audit show --key "$key"
echo "== the audit chain verifies"
"$K" audit verify
