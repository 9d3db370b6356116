"""A tiny test runner shared by the interop suites: register tests with @test, share set-up with
@once, run them with main(argv) (argv: substrings of test names), print a PASS/FAIL line per test
and a closing `N passed, M failed` line, and exit non-zero on any failure."""

import time
import traceback

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def once(fn):
    """Shared data, set up by the first test that needs it; a failure is remembered."""
    state = {}

    def wrapper():
        if "error" in state:
            raise AssertionError("set-up %s failed earlier: %s" % (fn.__name__, state["error"]))
        if "value" not in state:
            try:
                state["value"] = fn()
            except BaseException as e:
                state["error"] = "%s: %s" % (type(e).__name__, e)
                raise
        return state["value"]

    return wrapper


def check(cond, msg, *args):
    if not cond:
        raise AssertionError(msg % args if args else msg)


def main(argv):
    selected = [t for t in TESTS if not argv or any(a in t.__name__ for a in argv)]
    if not selected:
        print("no test matches %s; tests: %s" % (argv, ", ".join(t.__name__ for t in TESTS)))
        return 2
    passed = failed = 0
    for t in selected:
        started = time.monotonic()
        try:
            t()
        except Exception as e:  # noqa: BLE001 - report and go on
            failed += 1
            print("FAIL %s (%.2fs): %s: %s" % (t.__name__, time.monotonic() - started, type(e).__name__, e))
            tb = traceback.format_exc().rstrip().splitlines()
            print("\n".join("     " + line for line in tb[-12:]))
        else:
            passed += 1
            print("PASS %s (%.2fs)" % (t.__name__, time.monotonic() - started))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0
