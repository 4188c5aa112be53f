"""/healthz of a standby replica: alive and ready to take over, while another replica leads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Standby(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"standby: waiting for the Lease\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Probes every few seconds are not worth a log line."""


@contextmanager
def standby_health(port: int) -> Iterator[None]:
    """Serves 200 on every path of `port` (0: nothing) until the block ends; the port is then
    free for kopf's own liveness endpoint."""
    if not port:
        yield
        return
    server = ThreadingHTTPServer(("0.0.0.0", port), _Standby)
    thread = threading.Thread(target=server.serve_forever, name="standby-health", daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
