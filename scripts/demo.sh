#!/usr/bin/env bash
# The main job, end to end, on a throw-away token in a temporary directory
# (its own configuration; the user's own token and configuration are never
# touched): build; a managed key with an alias; envelope encryption; a
# rotation; the old ciphertext still decrypts; a data key; the key's versions;
# the audit trail of the key, and the audit chain verified. Everything is
# removed at the end.
#
# SOFTKMS_BIN=path/to/softkms runs that binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -n "${SOFTKMS_BIN:-}" ]]; then
    K=$SOFTKMS_BIN
else
    echo "== building softkms (release; the first build compiles the crypto backend and takes a few minutes)"
    cargo build --release --bin softkms
    K=./target/release/softkms
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/softkms.toml" <<EOF
[[slot]]
id = 0
path = "$work/demo-token.db"
EOF
# Only this run's token: whatever the caller's environment says is ignored.
export SOFTKMS_CONF="$work/softkms.toml"
export SOFTKMS_SO_PIN=demo-so-pin
export SOFTKMS_PIN=demo-user-pin
unset SOFTKMS_NEW_PIN

echo "== a throw-away token in $work"
"$K" token init --label demo
key="demo-key"
echo "== a managed key (AES-256, rotates every 90 days), and an alias for it"
"$K" key create "$key" --spec aes256 --rotation-days 90 --description "demo data" --tag app=billing
"$K" alias create alias/billing "$key"
echo "== envelope encryption under version 1"
printf 'the quarterly numbers\n' > "$work/plain.txt"
"$K" encrypt --key alias/billing --context app=billing --in "$work/plain.txt" --out "$work/v1.bin"
echo "== rotate on demand, encrypt again under version 2"
"$K" key rotate "$key"
"$K" encrypt --key alias/billing --context app=billing --in "$work/plain.txt" --out "$work/v2.bin"
echo "== both ciphertexts decrypt (the message names its key and version)"
"$K" decrypt --context app=billing --in "$work/v1.bin" --out -
"$K" decrypt --context app=billing --in "$work/v2.bin" --out -
echo "== a wrong context is refused"
if "$K" decrypt --context app=other --in "$work/v1.bin" --out - 2>/dev/null; then exit 1; else echo "refused"; fi
echo "== a data key: plaintext for local use, ciphertext blob to store"
"$K" datakey generate --key alias/billing --context app=billing --out "$work/dk.blob"
"$K" datakey decrypt --blob "$work/dk.blob" --context app=billing
echo "== the key and its versions"
"$K" key show alias/billing
"$K" key rotations "$key"
echo "== the audit trail of this key (changes, and the uses counted per session)"
"$K" audit show --key "$key"
echo "== the audit chain verifies"
"$K" audit verify
echo "== done; the token in $work is removed"
