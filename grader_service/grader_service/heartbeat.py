"""A background thread that renews a job's lease while the job runs."""

import logging
import threading

log = logging.getLogger(__name__)


class Heartbeat:
    """Context manager: call ``renew()`` every ``interval`` seconds until the block ends.

    ``renew`` returns False once the lease is lost; the beat then stops (the job's
    result will be discarded by the guarded write). Errors are logged, never raised.
    """

    def __init__(self, renew, interval):
        self.renew = renew
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True)

    def _beat(self):
        while not self._stop.wait(self.interval):
            try:
                if not self.renew():
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
