#!/usr/bin/env bash
# Builds docs/examples/envelope.c against include/softkms.h and the system's
# pkcs11.h (p11-kit's: Debian package libp11-kit-dev), then runs it on MODULE
# with a throw-away token. The program prints one line per check and ends with
# "envelope.c: N passed, N failed".
# Usage: build-and-run.sh MODULE_PATH      Exits non-zero on a failure.
set -u
MODULE=$(realpath "${1:?usage: $0 MODULE_PATH}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CC=${CC:-cc}
command -v "$CC" >/dev/null || { echo "envelope.c: no C compiler ($CC)"; exit 2; }

# The directory that holds pkcs11.h: $PKCS11_INCLUDE, else p11-kit's.
P11_INC=${PKCS11_INCLUDE:-}
if [ -z "$P11_INC" ]; then
  for d in /usr/include/p11-kit-1/p11-kit /usr/local/include/p11-kit-1/p11-kit; do
    [ -f "$d/pkcs11.h" ] && { P11_INC=$d; break; }
  done
fi
[ -n "$P11_INC" ] && [ -f "$P11_INC/pkcs11.h" ] \
  || { echo "envelope.c: no pkcs11.h (install libp11-kit-dev or set PKCS11_INCLUDE)"; exit 2; }

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

if ! timeout 120 "$CC" -std=c11 -Wall -Wextra -Werror -I "$ROOT/include" -I "$P11_INC" \
    "$ROOT/docs/examples/envelope.c" -o "$WORK/envelope" -ldl 2>"$WORK/cc.err"; then
  echo "FAIL compile envelope.c"
  sed 's/^/     /' "$WORK/cc.err" | head -n 40
  echo "envelope.c: 0 passed, 1 failed"
  exit 1
fi

SOFTKMS_CONF="$WORK/softkms.toml" timeout 120 "$WORK/envelope" "$MODULE"
rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
  # Killed, timed out or crashed: the program could not print its own summary.
  echo "FAIL envelope exited with status $rc"
  echo "envelope.c: 0 passed, 1 failed"
fi
exit "$rc"
