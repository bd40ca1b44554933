"""Tally of a tempest run, read as a subunit v2 stream on stdin.

Usage: stestr last --subunit | python tools/tempest_tally.py EXPECTED

Prints passed/failed/skipped counts and, for each test that did not pass,
its name and reason (a skip's reason, a failure's last traceback line).
Exits 1 if a test failed that EXPECTED does not list, or if no test ran;
2 if EXPECTED lists a test that now passes (the list must shrink with the
fixes). EXPECTED has one regular expression per line, matched against the
test name without its tempest attributes, followed by '#' and the reason
(a line without a reason is an error). Runs with the tempest venv's Python
(python-subunit and testtools come with stestr).
"""

import re
import sys

import subunit
import testtools


def load_expected(path):
    expected = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            pattern, _, reason = line.partition('#')
            if not reason.strip():
                sys.exit('%s:%d: an expected failure needs its reason after '
                         '"#"' % (path, number))
            expected.append((re.compile(pattern.strip()), reason.strip()))
    return expected


def reason_of(test):
    details = test.get('details') or {}
    for key in ('reason', 'traceback'):
        if key in details:
            text = details[key].as_text().strip()
            lines = [ln for ln in text.splitlines() if ln.strip()]
            last = lines[-1] if lines else text
            # caas's (and Magnum's) error bodies: the title says it all.
            title = re.search(r"'status': (\d+), 'title': '([^']*)'", last)
            if title:
                last = 'HTTP %s: %s' % title.groups()
            return last if len(last) <= 300 else last[:297] + '...'
    return ''


def main(argv):
    expected = load_expected(argv[1])
    tests = []
    stream = subunit.ByteStreamToStreamResult(sys.stdin.buffer,
                                              non_subunit_name='stdout')
    result = testtools.StreamToDict(tests.append)
    result.startTestRun()
    try:
        stream.run(result)
    finally:
        result.stopTestRun()
    counts = {'passed': 0, 'failed': 0, 'skipped': 0}
    unexpected, fixed = [], []
    lines = []
    for test in sorted(tests, key=lambda t: t['id']):
        name = re.sub(r'\[.*\]$', '', test['id'])
        status = test['status']
        if status in ('success', 'xfail'):
            counts['passed'] += 1
            if any(p.search(name) for p, _ in expected):
                fixed.append(name)
            continue
        if status == 'skip':
            counts['skipped'] += 1
            lines.append('SKIP  %s: %s' % (name, reason_of(test)))
            continue
        if status not in ('fail', 'uxsuccess'):
            continue
        counts['failed'] += 1
        known = next((r for p, r in expected if p.search(name)), None)
        lines.append('%s  %s: %s' % ('XFAIL' if known else 'FAIL ', name,
                                     reason_of(test)))
        if known:
            lines.append('       expected: %s' % known)
        else:
            unexpected.append(name)
    print('magnum-tempest-plugin: %(passed)d passed, %(failed)d failed, '
          '%(skipped)d skipped' % counts)
    print('\n'.join(lines))
    if not tests:
        print('no test ran')
        return 1
    if unexpected:
        print('%d unexpected failure(s)' % len(unexpected))
        return 1
    if fixed:
        print('listed as expected failures but passed (remove them from '
              '%s): %s' % (argv[1], ', '.join(fixed)))
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
