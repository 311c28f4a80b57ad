#!/usr/bin/env bash
# Client mode end to end, across a user boundary: `softkms serve --pkcs11-only` runs as
# one system user (softkms-srv) that alone can read its token file, and every client runs
# as another (softkms-cli), whose libsoftkms.so has only a slot `server = "unix:…"`.
# Against that client-mode module it runs the full pkcs11-conformance runner (its failures
# compared with softkms-known-failures.txt, the library mode's list, as run-side-by-side.sh
# does: client mode has no list of its own, it must fail nothing library mode passes; and
# case by case against the same runner in library mode, so that a skip shows too), the
# interop scripts (pkcs11-tool, pkcs11-tool-crypto, OpenSSL engine, GnuTLS, Java,
# python-pkcs11) and both envelope examples, each script on a fresh server token, which the
# script initializes through the module (C_InitToken over the socket). It then checks the
# boundary: the client user cannot read the token file nor open it as a token (not even
# with the right PIN), a uid not in --pkcs11-allow-uid gets no token, and a named principal
# whose key policies allow Encrypt but not Decrypt (and Sign, then no longer Sign) is
# refused C_DecryptInit and C_SignInit (CKR_KEY_FUNCTION_NOT_PERMITTED) by the server,
# while the token owner may (the softkms CLI, itself a client of the server here).
#
# Usage (as root): pkcs11-conformance/remote/run.sh [MODULE]
#   MODULE: default target/debug/libsoftkms.so. The server is target/debug/softkms and the
#   runner target/debug/pkcs11-conformance (build them first: `cargo build --lib --bins`,
#   `cargo build -p pkcs11-conformance`). The users are made when missing
#   (useradd --system, no login shell; SOFTKMS_CI_SERVER_USER and SOFTKMS_CI_CLIENT_USER
#   name others). Binaries, module and the scripts the clients run are copied into a
#   temporary directory both users can read, since the checkout may sit where they cannot
#   (/root). Users run through setpriv (util-linux) with a clean environment: setpriv execs
#   the command, so the server's pid is the one to send SIGTERM to (runuser stays behind as
#   the parent and relays signals its own way).
#   Prints one line per check and "remote: N passed, N failed"; exits non-zero on a failure.
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
MODULE_SRC=$(realpath "${1:-target/debug/libsoftkms.so}")
SOFTKMS_SRC=$ROOT/target/debug/softkms
RUNNER_SRC=$ROOT/target/debug/pkcs11-conformance
KNOWN=$ROOT/pkcs11-conformance/softkms-known-failures.txt
SRV_USER=${SOFTKMS_CI_SERVER_USER:-softkms-srv}
CLI_USER=${SOFTKMS_CI_CLIENT_USER:-softkms-cli}
SCRIPTS=(pkcs11-tool.sh openssl-engine.sh pkcs11-tool-crypto.sh gnutls.sh java.sh python.sh)

[ "$(id -u)" -eq 0 ] || { echo "remote: must run as root (it makes users and runs as them)"; exit 2; }
for f in "$MODULE_SRC" "$SOFTKMS_SRC" "$RUNNER_SRC"; do
  [ -f "$f" ] || { echo "remote: $f missing (cargo build --lib --bins; cargo build -p pkcs11-conformance)"; exit 2; }
done
for t in setpriv useradd pkcs11-tool; do
  command -v "$t" >/dev/null || { echo "remote: $t not installed"; exit 2; }
done

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
indent() { sed 's/^/     /'; }

WORK=$(mktemp -d /tmp/softkms-remote.XXXXXX)
SERVER_PID=""
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null
  local n=0
  while kill -0 "$SERVER_PID" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -KILL "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=""
    return 1
  fi
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=""
}
cleanup() {
  stop_server
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 143' INT TERM

# --- users and directories ---------------------------------------------------------------
for u in "$SRV_USER" "$CLI_USER"; do
  id -u "$u" >/dev/null 2>&1 ||
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$u" ||
    { echo "remote: cannot create user $u"; exit 2; }
done
CLI_UID=$(id -u "$CLI_USER")
CLI_GID=$(id -g "$CLI_USER")
SRV_GID=$(id -g "$SRV_USER")
# The clients' PATH: this one's directories that the client user may enter (a JDK or
# Python under /root would not do).
CLI_PATH=""
IFS=: read -r -a path_dirs <<<"$PATH"
for d in "${path_dirs[@]}" /usr/local/bin /usr/bin /bin; do
  case ":$CLI_PATH:" in *":$d:"*) continue ;; esac
  [ -n "$d" ] && setpriv --reuid="$CLI_UID" --regid="$CLI_GID" --init-groups test -x "$d" 2>/dev/null &&
    CLI_PATH=${CLI_PATH:+$CLI_PATH:}$d
done
chmod 755 "$WORK"
BIN=$WORK/bin            # root, 755: binaries and the module
TREE=$WORK/tree          # root, 755: the repository files the clients run
SRV=$WORK/srv            # server user, 700: its configuration and token
SOCKDIR=$WORK/sock       # server user, 755: the socket
CLIHOME=$WORK/home       # client user, 700: HOME and TMPDIR of every client
LOGS=$WORK/logs          # root, 700: server logs, client outputs
mkdir -p "$BIN" "$TREE/pkcs11-conformance" "$TREE/docs" "$SRV" "$SOCKDIR" "$CLIHOME/tmp" "$LOGS"
install -m 755 "$MODULE_SRC" "$BIN/libsoftkms.so"
install -m 755 "$SOFTKMS_SRC" "$BIN/softkms"
install -m 755 "$RUNNER_SRC" "$BIN/pkcs11-conformance"
cp -r "$ROOT/pkcs11-conformance/interop" "$TREE/pkcs11-conformance/"
cp -r "$ROOT/docs/examples" "$TREE/docs/"
cp -r "$ROOT/include" "$TREE/"
chmod -R a+rX "$TREE"
chown "$SRV_USER:" "$SRV" "$SOCKDIR"
chmod 700 "$SRV" "$LOGS"
chmod 755 "$SOCKDIR"
chown -R "$CLI_USER:" "$CLIHOME"
chmod 700 "$CLIHOME"
MODULE=$BIN/libsoftkms.so
SOCK=$SOCKDIR/p11.sock
TOKEN=$SRV/token.db
REMOTE=unix:$SOCK

# The variables a client keeps from this environment (package installs, proxies).
PASS_ENV=()
while IFS= read -r v; do
  PASS_ENV+=("$v=${!v}")
done < <(compgen -e | grep -E '^(PIP_[A-Z_]+|https?_proxy|no_proxy|HTTPS?_PROXY|NO_PROXY|SSL_CERT_FILE|SSL_CERT_DIR|REQUESTS_CA_BUNDLE|JAVA_HOME|LANG)$')

# as_client COMMAND...: runs COMMAND as the client user, with a clean environment in which
# SOFTKMS_REMOTE names the server.
as_client() {
  setpriv --reuid="$CLI_UID" --regid="$CLI_GID" --init-groups \
    env -i PATH="$CLI_PATH" HOME="$CLIHOME" TMPDIR="$CLIHOME/tmp" USER="$CLI_USER" \
    LOGNAME="$CLI_USER" "${PASS_ENV[@]}" SOFTKMS_REMOTE="$REMOTE" "$@"
}

# start_server [TOP-LEVEL SETTING...]: stops the running server, starts one on a fresh
# token (uninitialized: the client runs C_InitToken) with these settings.
start_server() {
  stop_server || bad "the previous server did not stop on SIGTERM within 10 s"
  rm -f "$TOKEN" "$TOKEN"-* "$SRV/server.toml"
  {
    for s in "$@"; do echo "$s"; done
    printf '[[slot]]\nid = 0\npath = "%s"\nkdf = "fast"\n' "$TOKEN"
  } > "$WORK/server.toml"
  install -o "$SRV_USER" -m 600 "$WORK/server.toml" "$SRV/server.toml"
  rm -f "$WORK/server.toml"
  : > "$LOGS/server.log"
  setpriv --reuid="$SRV_USER" --regid="$SRV_GID" --init-groups \
    env -i PATH=/usr/bin:/bin HOME="$SRV" SOFTKMS_CONF="$SRV/server.toml" SOFTKMS_LOG=warn \
    "$BIN/softkms" serve --pkcs11-only --pkcs11-socket "$SOCK" --pkcs11-allow-uid "$CLI_UID" \
    >> "$LOGS/server.log" 2>&1 &
  SERVER_PID=$!
  local n=0
  while [ $n -lt 300 ] && kill -0 "$SERVER_PID" 2>/dev/null &&
    ! grep -q 'PKCS#11 clients on unix:' "$LOGS/server.log"; do
    sleep 0.1; n=$((n + 1))
  done
  if grep -q 'PKCS#11 clients on unix:' "$LOGS/server.log" && kill -0 "$SERVER_PID" 2>/dev/null; then
    return 0
  fi
  bad "server did not start"; indent < "$LOGS/server.log" | tail -n 20
  stop_server
  return 1
}

# client_conf FILE: the client's configuration, one slot served by the server.
client_conf() {
  printf '[[slot]]\nid = 0\nserver = "%s"\n' "$REMOTE" > "$1"
  chmod 644 "$1"
}

# summary_of LOG: the last "…: N passed, N failed" line of a script's output.
summary_of() { grep -E ': [0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1; }

echo "remote: server user $SRV_USER, client user $CLI_USER (uid $CLI_UID), module $MODULE_SRC"

# --- 1. the conformance runner -----------------------------------------------------------
# legacy_mechanisms as in library mode (run-side-by-side.sh): the DES3 cases run too.
if start_server "legacy_mechanisms = true"; then
  client_conf "$CLIHOME/conformance.toml"
  t0=$(date +%s)
  as_client env SOFTKMS_CONF="$CLIHOME/conformance.toml" timeout 900 \
    "$BIN/pkcs11-conformance" --module "$MODULE" --init > "$LOGS/conformance.txt" 2> "$LOGS/conformance.err"
  rc=$?
  sum=$(tail -n 1 "$LOGS/conformance.txt")
  echo "     conformance (client mode, $(( $(date +%s) - t0 )) s): $sum"
  if [ "$rc" -ge 2 ] || ! grep -qE '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' <<<"$sum"; then
    bad "conformance: the runner did not finish (exit $rc)"
    indent < "$LOGS/conformance.err" | tail -n 20
    indent < "$LOGS/server.log" | tail -n 20
  else
    grep -E '^[^ ]+ +(cm |3\.2 )?[^ ]+ +FAIL ' "$LOGS/conformance.txt" | awk '{print $1}' | sort > "$WORK/fails"
    grep -vE '^\s*(#|$)' "$KNOWN" 2>/dev/null | awk '{print $1}' | sort -u > "$WORK/known"
    new=$(comm -23 "$WORK/fails" "$WORK/known")
    fixed=$(comm -13 "$WORK/fails" "$WORK/known")
    if [ -z "$new" ]; then ok "conformance: no failure outside $(basename "$KNOWN") ($(wc -l < "$WORK/known") known)"
    else
      bad "conformance: new failures"
      for c in $new; do grep -E "^$c " "$LOGS/conformance.txt" | indent; done
    fi
    if [ -z "$fixed" ]; then ok "conformance: every known failure still fails"
    else bad "conformance: these now pass, remove them from $KNOWN: $(echo $fixed)"; fi
  fi
  # The same runner on a library-mode token (the client user's own file): every case must
  # give the same result, so that a mechanism or function client mode lost (a skip where
  # library mode passes) shows too.
  printf 'legacy_mechanisms = true\n[[slot]]\nid = 0\npath = "%s"\nkdf = "fast"\n' \
    "$CLIHOME/library.db" > "$CLIHOME/library.toml"
  chmod 644 "$CLIHOME/library.toml"
  as_client env SOFTKMS_CONF="$CLIHOME/library.toml" timeout 900 \
    "$BIN/pkcs11-conformance" --module "$MODULE" --init > "$LOGS/library.txt" 2> "$LOGS/library.err"
  echo "     conformance (library mode): $(tail -n 1 "$LOGS/library.txt")"
  results() { # results FILE: "CASE RESULT" per case
    awk 'NR > 1 { for (i = 2; i <= NF; i++) if ($i ~ /^(pass|FAIL|skip)$/) { print $1, $i; break } }' "$1"
  }
  if [ "$(results "$LOGS/library.txt" | wc -l)" -gt 0 ] &&
    diff <(results "$LOGS/library.txt") <(results "$LOGS/conformance.txt") > "$LOGS/diff"; then
    ok "conformance: client mode gives library mode's result on each of $(results "$LOGS/library.txt" | wc -l) cases"
  else
    bad "conformance: client and library mode differ (< library, > client)"
    head -n 40 "$LOGS/diff" | indent
    tail -n 5 "$LOGS/library.err" | indent
  fi
fi

# --- 2. the interop scripts and the envelope examples ------------------------------------
run_client_script() { # run_client_script NAME SCRIPT: one script, on a fresh server token
  local name=$1 script=$2 t0 rc
  start_server || return
  t0=$(date +%s)
  as_client timeout 1200 bash "$script" "$MODULE" > "$LOGS/$name.log" 2>&1
  rc=$?
  local sum; sum=$(summary_of "$LOGS/$name.log")
  if [ "$rc" -eq 0 ] && [ -n "$sum" ]; then
    ok "$name: ${sum#*: } ($(( $(date +%s) - t0 )) s)"
  else
    bad "$name (exit $rc): ${sum:-no summary}"
    grep -E '^FAIL' -A 15 "$LOGS/$name.log" | head -n 60 | indent
    [ -n "$sum" ] || tail -n 20 "$LOGS/$name.log" | indent
    tail -n 10 "$LOGS/server.log" | indent
  fi
}
for s in "${SCRIPTS[@]}"; do
  run_client_script "${s%.sh}" "$TREE/pkcs11-conformance/interop/$s"
done
run_client_script envelope.c "$TREE/docs/examples/build-and-run.sh"
run_client_script envelope-python-pkcs11 "$TREE/docs/examples/envelope-python-pkcs11.sh"

# --- 3. the boundary ---------------------------------------------------------------------
SO_PIN=so-secret-1
PIN=owner-secret-1
ALICE_PIN=alice-secret-1
if start_server; then
  client_conf "$CLIHOME/remote.toml"
  # The same token file named directly, as a library-mode slot.
  printf '[[slot]]\nid = 0\npath = "%s"\nkdf = "fast"\n' "$TOKEN" > "$CLIHOME/direct.toml"
  chmod 644 "$CLIHOME/direct.toml"
  CLI=(env SOFTKMS_CONF="$CLIHOME/remote.toml" timeout 60 "$BIN/softkms")
  P11=(timeout 60 pkcs11-tool --module "$MODULE")
  check() { # check NAME COMMAND... (as the client user): must succeed
    local name=$1; shift
    if as_client "$@" > "$LOGS/out" 2>&1; then ok "$name"
    else bad "$name"; indent < "$LOGS/out" | tail -n 15; fi
  }
  refuse() { # refuse NAME PATTERN COMMAND... (as the client user): must fail, printing PATTERN
    local name=$1 pat=$2; shift 2
    if as_client "$@" > "$LOGS/out" 2>&1; then bad "$name (succeeded)"; indent < "$LOGS/out" | tail -n 15
    elif ! grep -qE -- "$pat" "$LOGS/out"; then bad "$name (no \"$pat\")"; indent < "$LOGS/out" | tail -n 15
    else ok "$name: $(grep -m 1 -E -- "$pat" "$LOGS/out" | cut -c 1-110)"; fi
  }
  check "token init through the server (softkms CLI in client mode)" \
    env SOFTKMS_SO_PIN="$SO_PIN" SOFTKMS_PIN="$PIN" "${CLI[@]}" token init --label boundary
  check "user add alice (as the SO, through the server)" \
    env SOFTKMS_SO_PIN="$SO_PIN" SOFTKMS_NEW_PIN="$ALICE_PIN" "${CLI[@]}" user add alice
  check "key create k1 (as the owner)" env SOFTKMS_PIN="$PIN" "${CLI[@]}" key create k1
  printf '%s\n' '{"statements": [' \
    '  {"principals": ["alice"], "allow": ["Encrypt"]},' \
    '  {"principals": ["user"], "allow": ["*"]}' ']}' > "$CLIHOME/policy.json"
  chmod 644 "$CLIHOME/policy.json"
  check "key set-policy k1: alice may Encrypt only" \
    env SOFTKMS_PIN="$PIN" "${CLI[@]}" key set-policy k1 --policy "$CLIHOME/policy.json"
  printf 'secret for the boundary check\n' > "$CLIHOME/plain.txt"
  chmod 644 "$CLIHOME/plain.txt"
  # The CLI's encrypt and decrypt are C_EncryptInit and C_DecryptInit with
  # CKM_SOFTKMS_ENVELOPE, each run by the server, whose key gate applies the policy.
  check "alice encrypts with k1 (C_EncryptInit allowed)" env SOFTKMS_PIN="$ALICE_PIN" "${CLI[@]}" --user alice \
    encrypt --key k1 --in "$CLIHOME/plain.txt" --out "$CLIHOME/msg.bin"
  refuse "alice is refused decryption (C_DecryptInit: CKR_KEY_FUNCTION_NOT_PERMITTED)" CKR_KEY_FUNCTION_NOT_PERMITTED \
    env SOFTKMS_PIN="$ALICE_PIN" "${CLI[@]}" --json --user alice decrypt --in "$CLIHOME/msg.bin" \
    --out "$CLIHOME/alice.txt"
  check "the owner decrypts alice's message" bash -c \
    'env SOFTKMS_PIN="$1" "${@:3}" decrypt --in "$2/msg.bin" --out "$2/owner.txt" && cmp "$2/plain.txt" "$2/owner.txt"' \
    _ "$PIN" "$CLIHOME" "${CLI[@]}"
  # A second action, and a policy change taking effect: a P-256 key alice may sign with,
  # then, under a new policy, only verify with (the policy sits on the private key).
  check "key create s1 (P-256, as the owner)" env SOFTKMS_PIN="$PIN" "${CLI[@]}" key create s1 --spec p256
  for a in Sign Verify; do
    printf '%s\n' '{"statements": [' "  {\"principals\": [\"alice\"], \"allow\": [\"$a\"]}," \
      '  {"principals": ["user"], "allow": ["*"]}' ']}' > "$CLIHOME/policy-$a.json"
    chmod 644 "$CLIHOME/policy-$a.json"
  done
  check "key set-policy s1: alice may Sign" \
    env SOFTKMS_PIN="$PIN" "${CLI[@]}" key set-policy s1 --policy "$CLIHOME/policy-Sign.json"
  check "alice signs with s1 (C_SignInit allowed), the owner verifies" bash -c \
    'env SOFTKMS_PIN="$1" "${@:4}" --user alice sign --key s1 --in "$3/plain.txt" --out "$3/sig.bin" &&
     env SOFTKMS_PIN="$2" "${@:4}" verify --key s1 --signature "$3/sig.bin" --in "$3/plain.txt"' \
    _ "$ALICE_PIN" "$PIN" "$CLIHOME" "${CLI[@]}"
  check "key set-policy s1: alice may no longer Sign (Verify only)" \
    env SOFTKMS_PIN="$PIN" "${CLI[@]}" key set-policy s1 --policy "$CLIHOME/policy-Verify.json"
  refuse "alice is refused signing (C_SignInit: CKR_KEY_FUNCTION_NOT_PERMITTED)" CKR_KEY_FUNCTION_NOT_PERMITTED \
    env SOFTKMS_PIN="$ALICE_PIN" "${CLI[@]}" --json --user alice sign --key s1 --in "$CLIHOME/plain.txt" \
    --out "$CLIHOME/alice-sig.bin"
  refuse "alice with a wrong PIN is refused" CKR_PIN_INCORRECT \
    env SOFTKMS_PIN=wrong-pin-1 "${CLI[@]}" --json --user alice encrypt --key k1 --in "$CLIHOME/plain.txt" \
    --out "$CLIHOME/msg2.bin"
  if [ "$(stat -c '%U %a' "$TOKEN" 2>/dev/null)" = "$SRV_USER 600" ]; then
    ok "the token file is the server user's, mode 600"
  else bad "the token file is the server user's, mode 600 (it is: $(stat -c '%U %a' "$TOKEN" 2>&1))"; fi
  refuse "the client user cannot read the token file" "Permission denied" cat "$TOKEN"
  refuse "the client user cannot list the server's directory" "Permission denied" ls "$SRV"
  # The module named the file directly: no token, so no login, even with alice's right PIN.
  refuse "alice cannot open the token file as a library-mode token" "Permission denied" \
    env SOFTKMS_CONF="$CLIHOME/direct.toml" SOFTKMS_PIN="$ALICE_PIN" timeout 60 "$BIN/softkms" \
    --user alice encrypt --key k1 --in "$CLIHOME/plain.txt" --out "$CLIHOME/msg3.bin"
  refuse "pkcs11-tool cannot log in to the token file directly" "cannot open token file.*Permission denied" \
    env SOFTKMS_CONF="$CLIHOME/direct.toml" SOFTKMS_LOG=error "${P11[@]}" --login --pin "$PIN" --list-objects
  check "pkcs11-tool logs in through the server" \
    env SOFTKMS_CONF="$CLIHOME/remote.toml" "${P11[@]}" --login --pin "$PIN" --list-objects
  # A uid the server does not allow (root here) is not served: the slot shows no token.
  if env -i PATH="$CLI_PATH" HOME="$CLIHOME" SOFTKMS_CONF="$CLIHOME/remote.toml" "${P11[@]}" \
      --login --pin "$PIN" --list-objects > "$LOGS/out" 2>&1; then
    bad "a uid not in --pkcs11-allow-uid is refused (root logged in)"; indent < "$LOGS/out" | tail -n 15
  elif ! grep -q "No slot with a token" "$LOGS/out"; then
    bad "a uid not in --pkcs11-allow-uid is refused (not for the expected reason)"; indent < "$LOGS/out" | tail -n 15
  else ok "a uid not in --pkcs11-allow-uid is refused: the slot shows no token"; fi
  if grep -q "uid 0 may not connect" "$LOGS/server.log"; then ok "the server logged the refused uid"
  else bad "the server logged the refused uid"; indent < "$LOGS/server.log" | tail -n 10; fi
fi

if stop_server; then ok "the server stops on SIGTERM"
else bad "the server stops on SIGTERM (killed after 10 s)"; fi
[ -e "$SOCK" ] && bad "the server left its socket behind"

echo "remote: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
