#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Print the failed tests of pytest JUnit XML reports, briefly, so they end a long CI log (which keeps only its
head and tail) instead of sitting in its elided middle.  Usage: junit_failures.py REPORT.xml..."""

from __future__ import annotations

import os
import sys
import xml.etree.ElementTree as ET

LINES = 25  # of each failure's text: the assertion and its message come last in pytest's short traceback


def main(paths):
    for path in paths:
        if not os.path.exists(path):
            print('%s: no report (the verifier did not run)' % path)
            continue
        for case in ET.parse(path).getroot().iter('testcase'):
            for bad in list(case.findall('failure')) + list(case.findall('error')):
                print('FAILED %s::%s' % (case.get('classname'), case.get('name')))
                text = (bad.text or bad.get('message') or '').rstrip().splitlines()
                for line in text[-LINES:]:
                    print('    ' + line)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
