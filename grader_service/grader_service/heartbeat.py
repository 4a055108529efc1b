"""A background thread that renews a job's lease while the job runs."""

import logging
import threading

log = logging.getLogger(__name__)


class Heartbeat:
    """Context manager: call ``renew()`` every ``interval`` seconds until the block ends.

    ``renew`` returns False once the lease is lost (the job was cancelled, or another
    worker took it over); the beat then calls ``on_lost()`` (e.g. to stop the sandbox)
    and stops. The job's result will be discarded by the guarded write either way.
    Errors are logged, never raised.
    """

    def __init__(self, renew, interval, on_lost=None):
        self.renew = renew
        self.interval = interval
        self.on_lost = on_lost
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True)

    def _beat(self):
        while not self._stop.wait(self.interval):
            try:
                if not self.renew():
                    if self.on_lost is not None:
                        self.on_lost()
                    return
            except Exception:
                log.exception("lease heartbeat failed")

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False
