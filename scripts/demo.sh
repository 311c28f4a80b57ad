#!/usr/bin/env bash
# The main job, end to end: build, a token on the default path
# ($XDG_DATA_HOME/softkms/token.db), keys made on it, and a look at what it holds.
# An existing token is reused (never re-initialized): then SOFTKMS_PIN must be its user PIN.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
export SOFTKMS_SO_PIN=${SOFTKMS_SO_PIN:-demo-so-pin}
export SOFTKMS_PIN=${SOFTKMS_PIN:-demo-user-pin}
K=./target/release/softkms
if ! "$K" --json token info | grep -q '"initialized":true'; then
  "$K" token init --label demo
fi
"$K" token info
stamp=$(date +%s)
"$K" key create --label "demo-aes-$stamp" --spec aes256
"$K" key create --label "demo-p256-$stamp" --spec p256
"$K" object list
"$K" random --bytes 16
