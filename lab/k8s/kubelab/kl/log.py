"""Logging to stderr with timestamps (journald keeps it)."""
import logging
import sys


def setup(component, level=logging.INFO):
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(
        "%(asctime)s.%(msecs)03d " + component + " %(levelname)s %(name)s: %(message)s",
        "%Y-%m-%dT%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
