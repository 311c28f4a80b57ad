#!/usr/bin/env python3
"""Compare a client suite's per-test results with its expected-outcome list.

Usage: compare.py SUITE_NAME RESULTS.tsv EXPECTED.txt

RESULTS.tsv has one line per test: ID <TAB> pass|fail|skip <TAB> detail.

EXPECTED.txt lists the tests that may end other than "pass", one per line
(blank lines and lines starting with '#' are ignored):

    ID-OR-GLOB  OUTCOME  REF  REASON...

  ID-OR-GLOB  a test id, or a shell-style pattern (fnmatch) for parameterized tests
  OUTCOME     fail or skip
  REF         for "fail": the section of the PKCS#11 standard the test's expectation
              contradicts ("§4.4.1"), "pending:AREA" for a gap that a change in
              progress closes (the entry goes when it lands), or "scope:" for a
              feature SoftKMS does not offer where the suite fails instead of
              skipping; for "skip": why the suite skips it here ("suite:" for the
              suite's own conditions, "scope:", "pending:AREA")
  REASON      free text, required

The verdict fails on: a failure or skip that no entry allows; an entry whose tests
end otherwise (a listed failure that passes now, a listed skip that runs); an entry
that matches no test; an entry without a reference or reason. An exact id wins over
a pattern; among patterns the longest wins. Exit status 0 when the verdict passes.
"""
import fnmatch
import sys


def load_expected(path):
    entries, problems = [], []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 3)
            where = f"{path}:{n}"
            if len(parts) < 4:
                problems.append(f"{where}: needs ID OUTCOME REF REASON")
                continue
            pat, outcome, ref, reason = parts
            if outcome not in ("fail", "skip"):
                problems.append(f"{where}: outcome must be fail or skip, not {outcome!r}")
                continue
            if outcome == "fail" and not ref.startswith(("§", "pending:", "scope:")):
                problems.append(f"{where}: a failure needs a section (§…), pending:AREA or scope:")
                continue
            entries.append({"pat": pat, "outcome": outcome, "ref": ref,
                            "reason": reason, "where": where, "hits": []})
    return entries, problems


def entry_for(test_id, entries):
    exact = [e for e in entries if e["pat"] == test_id]
    if exact:
        return exact[0]
    globs = [e for e in entries if any(c in e["pat"] for c in "*?[")
             and fnmatch.fnmatchcase(test_id, e["pat"])]
    return max(globs, key=lambda e: len(e["pat"]), default=None)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    suite, results_path, expected_path = sys.argv[1:]
    entries, problems = load_expected(expected_path)
    results = []
    with open(results_path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                tid, outcome, detail = (line.rstrip("\n").split("\t", 2) + ["", ""])[:3]
                results.append((tid, outcome, detail))

    counts = {"pass": 0, "fail": 0, "skip": 0}
    allowed = {"fail": 0, "skip": 0}
    for tid, outcome, detail in results:
        counts[outcome] = counts.get(outcome, 0) + 1
        e = entry_for(tid, entries)
        if e is not None:
            e["hits"].append((tid, outcome))
        if outcome == "pass":
            continue
        if e is not None and e["outcome"] == outcome:
            allowed[outcome] += 1
            print(f"{outcome:4} {tid} (listed, {e['ref']}): {detail[:150]}")
        else:
            problems.append(f"unexpected {outcome}: {tid}: {detail}")
    for e in entries:
        if not e["hits"]:
            problems.append(f"{e['where']}: {e['pat']} matches no test (remove the entry)")
        for tid, outcome in e["hits"]:
            if outcome != e["outcome"]:
                problems.append(f"{e['where']}: {tid} is listed as {e['outcome']} but "
                                f"{'passes' if outcome == 'pass' else outcome + 's'} now "
                                "(update the list)")

    for p in problems:
        print(f"BAD  {p}")
    print(f"{suite}: {len(results)} tests, {counts['pass']} passed, "
          f"{counts['fail']} failed ({allowed['fail']} listed), "
          f"{counts['skip']} skipped ({allowed['skip']} listed); "
          f"{'OK' if not problems else f'{len(problems)} problem(s)'}")
    sys.exit(1 if problems or not results else 0)


if __name__ == "__main__":
    main()
