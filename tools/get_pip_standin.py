# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""A local stand-in for get-pip.py, for ansible-test's per-test virtual environments.

ansible-test bootstraps pip in each venv it makes by downloading get-pip.py from a host our machines cannot
reach; it tells the user to save the script at ~/.ansible/test/cache/get_pip_<version>.py instead. This is
what `make sanity` saves there. Like get-pip.py it takes `pip install` arguments (ansible-test passes the
exact pip version it wants) plus get-pip's --no-setuptools / --no-wheel: pip is bootstrapped from the
standard library's ensurepip, then upgrades itself from PyPI.
"""

import ensurepip
import os
import subprocess
import sys


# get-pip.py's own switches: leave those packages out (pip never sees these options).
OWN_SWITCHES = {'--no-setuptools': 'setuptools', '--no-wheel': 'wheel'}


def main():
    args = [a for a in sys.argv[1:] if a not in OWN_SWITCHES]
    leave_out = [OWN_SWITCHES[a] for a in sys.argv[1:] if a in OWN_SWITCHES]
    # ensurepip sets PIP_CONFIG_FILE=/dev/null in this process; pip must still read the site's pip.conf
    # (index, proxy CA bundle), so it runs with the environment as it was before.
    env = dict(os.environ)
    ensurepip.bootstrap(upgrade=True)  # also brings setuptools on Python < 3.12
    pip = [sys.executable, '-m', 'pip']
    rc = subprocess.call(pip + ['install'] + args, env=env)
    if rc == 0 and leave_out:
        rc = subprocess.call(pip + ['uninstall', '--yes', '--quiet'] + leave_out, env=env)
    return rc


if __name__ == '__main__':
    sys.exit(main())
