#!/usr/bin/env bash
# Single PKCS#11 calls through a forwarding module: libsoftkms.so as a client of
# `softkms serve` over a Unix socket, beside libsoftkms.so in library mode and beside
# p11-kit's RPC (`p11-kit server` hosting libsoftkms.so, `p11-kit-client.so` in the
# bench), in one pkcs11-bench run, one table.
#
# usage: benches/remote.sh [--debug] [--] [pkcs11-bench options]
#
#   --debug   build and measure the debug profile (default: --release, as
#             scripts/perf-docs.sh measures)
#   pkcs11-bench options go after the script's, e.g. --rounds 7 --seconds 1
#
# In one run: a new temporary directory (under TMPDIR) with three configurations
# (kdf = "fast"): the server's token, the client's slot that names the server's
# socket, and the token p11-kit's server opens; `softkms serve --pkcs11-only` and
# `p11-kit server` started on sockets in that directory; a copy of libsoftkms.so
# under another name (the copy is loaded in client mode, the original in library
# mode: one file cannot be loaded twice in one process); pkcs11-bench against the
# three, each token initialized by the bench through its own path (C_InitToken
# over the socket for both forwarders); both servers stopped; the directory
# removed. A workload whose mechanism a forwarder does not list is tried anyway
# (--try-unlisted): "n/a (not listed, fails)" is a failure the bench saw.
# P11_KIT_CLIENT_SO names p11-kit's client module (default: Debian's path).
# Exit status: pkcs11-bench's (1 when a workload failed), 2 on a setup problem.
# See docs/performance.md, "PKCS#11 through the service (client mode)".
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
command_line="benches/remote.sh${*:+ $*}"
profile=release
while [ $# -gt 0 ]; do
    case "$1" in
        --debug) profile=debug; shift ;;
        --release) profile=release; shift ;;
        --) shift; break ;;
        *) break ;;
    esac
done

p11kit_client=${P11_KIT_CLIENT_SO:-/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so}
if ! command -v p11-kit >/dev/null || [ ! -e "$p11kit_client" ]; then
    echo "remote: p11-kit or $p11kit_client is missing (apt-get install p11-kit p11-kit-modules," >&2
    echo "remote: or set P11_KIT_CLIENT_SO)" >&2
    exit 2
fi

cargo_flags=()
[ "$profile" = release ] && cargo_flags=(--release)
cd "$root"
cargo build "${cargo_flags[@]}" -p softkms --lib --bin softkms >&2
cargo build "${cargo_flags[@]}" -p pkcs11-bench --bin pkcs11-bench >&2
softkms=$root/target/$profile/softkms
lib=$root/target/$profile/libsoftkms.so
bench=$root/target/$profile/pkcs11-bench

umask 077
work=$(mktemp -d "${TMPDIR:-/tmp}/remote-bench.XXXXXX")
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

mkdir "$work/server" "$work/p11kit" "$work/bench"
cat >"$work/server.toml" <<EOF
[[slot]]
id = 0
path = "$work/server/token.db"
kdf = "fast"
EOF
cat >"$work/client.toml" <<EOF
[[slot]]
id = 0
server = "unix:$work/p11.sock"
EOF
cat >"$work/p11kit.toml" <<EOF
[[slot]]
id = 0
path = "$work/p11kit/token.db"
kdf = "fast"
EOF
cp "$lib" "$work/libsoftkms-client.so"

# Waits until FILE has a line matching PATTERN (at most 60 s) while PID runs.
wait_for() {
    local file=$1 pattern=$2 pid=$3
    for _ in $(seq 600); do
        if grep -q "$pattern" "$file" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "remote: a server stopped:" >&2
            cat "$file" "$file.err" >&2 2>/dev/null || true
            exit 2
        fi
        sleep 0.1
    done
    echo "remote: no '$pattern' in $file after 60 s" >&2
    exit 2
}

SOFTKMS_CONF=$work/server.toml "$softkms" serve --pkcs11-only \
    --pkcs11-socket "$work/p11.sock" >"$work/serve.out" 2>"$work/serve.out.err" &
pids+=($!)
wait_for "$work/serve.out" "PKCS#11 clients on unix:" "${pids[-1]}"

SOFTKMS_CONF=$work/p11kit.toml p11-kit server --foreground --name "$work/p11kit.sock" \
    --provider "$lib" pkcs11: >"$work/p11kit.out" 2>"$work/p11kit.out.err" &
pids+=($!)
wait_for "$work/p11kit.out" "P11_KIT_SERVER_ADDRESS=" "${pids[-1]}"
p11kit_address=$(sed -n 's/^P11_KIT_SERVER_ADDRESS=\([^;]*\);.*/\1/p' "$work/p11kit.out" | head -n 1)

# The rows: one call of the transport alone, then the issue's three workloads.
only='^(C_GetSessionInfo \(one call\)|C_GenerateRandom 1 B \(one call\)|AES-256-GCM encrypt 64 B|ECDSA P-256 sign|Find 1 label among 1,000 objects)$'

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
echo "remote: softkms serve on unix:$work/p11.sock, p11-kit server on $p11kit_address" >&2
rc=0
# The bench's own token (library mode) goes in $work too, on the same file system.
TMPDIR=$work/bench P11_KIT_SERVER_ADDRESS=$p11kit_address "$bench" \
    --module "$work/libsoftkms-client.so" --conf "$work/client.toml" \
    --module "$lib" \
    --module "$p11kit_client" \
    --no-raw --big-dir none --max-objects 1000 --try-unlisted --per-op --markdown \
    --only "$only" "$@" >"$work/table.md" || rc=$?
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

commit=$(git rev-parse --short HEAD)
git diff --quiet HEAD -- src benches Cargo.toml Cargo.lock || commit="$commit (with local changes)"
model=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
p11kit_version=$(dpkg-query -W -f '${Version}' p11-kit-modules 2>/dev/null || echo unknown)
echo "Measured $started by \`$command_line\`: \`nproc\` = $(nproc), \"$model\","
echo "$(rustc -V); SoftKMS commit $commit, \`$profile\` profile; p11-kit $p11kit_version"
echo "(Debian \`p11-kit\`, \`p11-kit-modules\`). Load average (1, 5, 15 min) $load_before before"
echo "the run and $load_after after it."
echo
cat "$work/table.md"
for f in serve p11kit; do
    if [ -s "$work/$f.out.err" ]; then
        echo "remote: $f's stderr:" >&2
        tail -n 20 "$work/$f.out.err" >&2
    fi
done
exit "$rc"
