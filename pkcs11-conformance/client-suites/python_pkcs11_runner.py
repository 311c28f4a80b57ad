#!/usr/bin/env python3
"""Run python-pkcs11's own test suite one test per process.

Usage: python_pkcs11_runner.py TESTS_PARENT_DIR RESULTS.tsv

Discovers the unittest cases of TESTS_PARENT_DIR/tests (the suite's tests/ package,
whose __init__ reads PKCS11_MODULE, PKCS11_TOKEN_LABEL, PKCS11_TOKEN_PIN and
PKCS11_TOKEN_SO_PIN) and runs each in a forked child, so that every test starts
with the module loaded afresh: the suite's fixtures leave a session logged in when
a setUp fails, which in one process fails every later test with
CKR_USER_ALREADY_LOGGED_IN. This process never loads the PKCS#11 module itself
(python-pkcs11 loads it in the tests' setUpClass), which is checked before forking.

Writes ID <TAB> pass|fail|skip <TAB> detail per test to RESULTS.tsv (ids as
pytest prints them: tests/test_rsa.py::RSATests::test_sign_pss) and prints the
tests that do not pass. Exit status 0 unless discovery fails.
"""
import io
import os
import signal
import sys
import traceback
import unittest

TIMEOUT = 300


def flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from flatten(t)
        else:
            yield t


def pytest_id(test):
    # tests.test_rsa.RSATests.test_sign_pss -> tests/test_rsa.py::RSATests::test_sign_pss
    parts = test.id().split(".")
    if len(parts) < 3:
        return test.id()
    return "/".join(parts[:-2]) + ".py::" + parts[-2] + "::" + parts[-1]


def last_line(tb):
    lines = [l for l in tb.strip().splitlines() if l.strip()]
    return lines[-1].strip() if lines else "error"


def run_one(test):
    """In the child: run one test with its class and module fixtures."""
    result = unittest.TestResult()
    unittest.TestSuite([test]).run(result)
    if result.errors or result.failures:
        return "fail", last_line((result.errors + result.failures)[0][1])
    if result.unexpectedSuccesses:
        return "fail", "unexpected success of a test marked as an expected failure"
    if result.skipped:
        return "skip", result.skipped[0][1]
    if result.expectedFailures:
        return "skip", "expected failure (the suite's own mark)"
    if result.testsRun != 1:
        return "fail", "did not run"
    return "pass", ""


def module_loaded():
    lib = os.path.realpath(os.environ.get("PKCS11_MODULE", ""))
    with open("/proc/self/maps", encoding="utf-8") as f:
        return any(lib in line for line in f)


def main():
    parent, out_path = sys.argv[1:3]
    os.chdir(parent)
    sys.path.insert(0, parent)
    suite = unittest.TestLoader().discover("tests", top_level_dir=parent)
    tests = list(flatten(suite))
    if os.path.exists("/proc/self/maps") and module_loaded():
        sys.exit("the PKCS#11 module was loaded during discovery; cannot fork cleanly")
    log = open(os.path.join(os.path.dirname(os.path.abspath(out_path)), "tests.log"), "w")
    with open(out_path, "w", encoding="utf-8") as out:
        for test in tests:
            tid = pytest_id(test)
            r, w = os.pipe()
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                try:
                    signal.alarm(TIMEOUT)
                    os.dup2(log.fileno(), 1)
                    os.dup2(log.fileno(), 2)
                    outcome, detail = run_one(test)
                except BaseException:
                    outcome, detail = "fail", last_line(traceback.format_exc())
                os.write(w, f"{outcome}\t{detail}".encode("utf-8", "replace"))
                os._exit(0)
            os.close(w)
            with io.open(r, "rb") as pipe:
                data = pipe.read().decode("utf-8", "replace")
            _, status = os.waitpid(pid, 0)
            if os.WIFSIGNALED(status):
                sig = os.WTERMSIG(status)
                why = "timed out" if sig == signal.SIGALRM else f"killed by signal {sig}"
                outcome, detail = "fail", why
            elif "\t" in data:
                outcome, detail = data.split("\t", 1)
            else:
                outcome, detail = "fail", f"no result (exit status {os.WEXITSTATUS(status)})"
            detail = " ".join(detail.split())[:300]
            out.write(f"{tid}\t{outcome}\t{detail}\n")
            if outcome != "pass":
                print(f"{outcome:4} {tid}: {detail}")


if __name__ == "__main__":
    main()
