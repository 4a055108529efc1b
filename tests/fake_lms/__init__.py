"""FAKE LMS for the tests: the protocols of a commercial LMS that cannot run here.

``launch`` (LTI 1.3 login), ``ags`` (Assignment and Grade Services, Names and Role
Provisioning) and ``canvas`` (Canvas REST): each a Flask app served on loopback.
"""

import threading

from werkzeug.serving import make_server


class LoopbackServer:
    """Serve ``self.app`` on a free local port in a daemon thread."""

    app = None
    base_url = None

    def serve(self, host="127.0.0.1"):
        """Start; returns self (``stop()`` ends it). ``base_url`` is set from here on.
        ``host``: another local address, e.g. a project Docker network's gateway."""
        self._server = make_server(host, 0, self.app, threaded=True)
        self.base_url = f"http://{host}:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self._server.shutdown()
