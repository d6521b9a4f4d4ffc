"""Signal handling and periodic loops shared by the daemons."""
import logging
import signal
import threading

LOG = logging.getLogger("loop")


def stop_event():
    ev = threading.Event()

    def handler(signum, _frame):
        LOG.info("received signal %d, stopping", signum)
        ev.set()
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return ev


def every(period, fn, stop, name):
    """Call fn() every period seconds until stop is set; log (never die on) errors."""
    while not stop.is_set():
        try:
            fn()
        except Exception:  # a controller loop must survive any single failure
            LOG.exception("%s: sync failed", name)
        stop.wait(period)


def spawn(period, fn, stop, name):
    t = threading.Thread(target=every, args=(period, fn, stop, name), daemon=True, name=name)
    t.start()
    return t
