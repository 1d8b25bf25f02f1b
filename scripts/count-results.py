#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Count the results of a test run with the kernel's own KTAP parser.

usage: count-results.py KTREE RESULTS_DIR SUITE...

Each SUITE is RESULTS_DIR/SUITE.log, (K)TAP from a kselftest, the host checks
or the guest's dmesg (the KUnit suites run at boot). A suite whose log is
missing or holds no test counts as one failure. The last line printed is
"N passed, N failed, N skipped".
"""
import io
import os
import sys


def main():
    ktree, results, suites = sys.argv[1], sys.argv[2], sys.argv[3:]
    sys.path.insert(0, os.path.join(ktree, 'tools/testing/kunit'))
    import kunit_parser
    import kunit_printer

    passed = failed = skipped = 0
    for suite in suites:
        path = os.path.join(results, suite + '.log')
        if not os.path.exists(path):
            print(f'    {suite}: no log: the suite did not run (see {results})')
            failed += 1
            continue
        with open(path, errors='replace') as f:
            lines = f.readlines()
        quiet = kunit_printer.Printer(print=False, output=io.StringIO())
        test = kunit_parser.parse_run_tests(lines, quiet)
        c = test.counts
        bad = c.failed + c.crashed + c.errors
        if c.total() == 0:
            bad = max(bad, 1)
        passed += c.passed
        failed += bad
        skipped += c.skipped
        print(f'    {suite}: {c.passed} passed, {bad} failed, {c.skipped} skipped')
        for name in failed_names(test, kunit_parser):
            print(f'      FAILED: {name}')
    print(f'{passed} passed, {failed} failed, {skipped} skipped')
    return 1 if failed else 0


def failed_names(test, kp, parent=''):
    name = f'{parent}.{test.name}' if parent and test.name else test.name or parent
    if not test.subtests:
        if test.status in (kp.TestStatus.FAILURE, kp.TestStatus.TEST_CRASHED,
                           kp.TestStatus.FAILURE_TO_PARSE_TESTS):
            yield name
        return
    for sub in test.subtests:
        yield from failed_names(sub, kp, name)


if __name__ == '__main__':
    sys.exit(main())
