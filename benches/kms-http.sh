#!/usr/bin/env bash
# The AWS KMS API under load: `softkms serve` beside moto's KMS server, one table.
#
# usage: benches/kms-http.sh [--release] [--softkms BIN] [--] [kms-bench options]
#
#   --release       build softkms and kms-bench with --release (default: debug)
#   --softkms BIN   the softkms binary to serve with (default: the one built)
#   kms-bench options, e.g. --seconds 10 --connections 1,16,64 --markdown
#
# In one run: a throw-away token and access key in a temporary directory (its own
# SOFTKMS_CONF: the user's tokens are never touched), `softkms serve` on a free
# loopback port, moto's server (`moto_server`, PyPI moto[server], in a virtualenv
# under target/bench-venv, made on first use) on another, one symmetric key made
# in each through the API, `kms-bench` against both, both servers stopped, the
# directory removed. Exit status: kms-bench's (1 when any request failed).
# See docs/performance.md, "The AWS API (softkms serve)".
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
profile=debug
softkms=""
while [ $# -gt 0 ]; do
    case "$1" in
        --release) profile=release; shift ;;
        --softkms) softkms=$2; shift 2 ;;
        --) shift; break ;;
        *) break ;;
    esac
done

cargo_flags=()
[ "$profile" = release ] && cargo_flags=(--release)
cd "$root"
if [ -z "$softkms" ]; then
    cargo build "${cargo_flags[@]}" -p softkms --bin softkms >&2
    softkms=$root/target/$profile/softkms
fi
cargo build "${cargo_flags[@]}" -p pkcs11-bench --bin kms-bench >&2
bench=$root/target/$profile/kms-bench

venv=$root/target/bench-venv
if [ ! -x "$venv/bin/moto_server" ]; then
    echo "kms-http: installing moto[server] into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'moto[server]'
fi

umask 077
work=$(mktemp -d "${TMPDIR:-/tmp}/kms-http.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# The throw-away token: its configuration, PINs and file all live in $work.
export SOFTKMS_CONF=$work/softkms.toml
cat >"$SOFTKMS_CONF" <<EOF
[[slot]]
path = "$work/token.db"
kdf = "fast"
EOF
case "$SOFTKMS_CONF" in
    "$work"/*) ;;
    *) echo "kms-http: refusing: SOFTKMS_CONF is not in $work" >&2; exit 2 ;;
esac
if [ -e "$work/token.db" ]; then
    echo "kms-http: refusing: $work/token.db exists" >&2
    exit 2
fi
SOFTKMS_SO_PIN=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
SOFTKMS_PIN=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
export SOFTKMS_SO_PIN SOFTKMS_PIN
"$softkms" token init --label kms-bench >/dev/null
"$softkms" access-key create user --json >"$work/softkms-key.json"

# Waits until FILE has a line matching PATTERN (at most 60 s).
wait_for() {
    local file=$1 pattern=$2 pid=$3
    for _ in $(seq 600); do
        if grep -q "$pattern" "$file" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "kms-http: the server stopped:" >&2
            cat "$file" "$file.err" >&2 2>/dev/null || true
            exit 1
        fi
        sleep 0.1
    done
    echo "kms-http: no '$pattern' in $file after 60 s" >&2
    exit 1
}

"$softkms" serve --listen 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.out.err" &
pids+=($!)
wait_for "$work/serve.out" "listening on" "${pids[-1]}"
softkms_url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$work/serve.out" | head -1)

moto_port=$("$venv/bin/python" -c \
    'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$work/moto.out" 2>&1 &
pids+=($!)
wait_for "$work/moto.out" "Running on" "${pids[-1]}"
# moto accepts any credentials.
echo '{"AccessKeyId":"AKIAKMSBENCHMOTO0000","SecretAccessKey":"moto"}' >"$work/moto-key.json"

echo "kms-http: softkms $softkms_url ($softkms), moto http://127.0.0.1:$moto_port" >&2
rc=0
"$bench" --target "softkms,$softkms_url,$work/softkms-key.json" \
    --target "moto,http://127.0.0.1:$moto_port,$work/moto-key.json" "$@" || rc=$?
if [ -s "$work/serve.out.err" ]; then
    echo "kms-http: softkms serve's stderr:" >&2
    tail -n 20 "$work/serve.out.err" >&2
fi
exit "$rc"
