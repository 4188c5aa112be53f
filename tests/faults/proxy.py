"""A fault-injecting HTTP proxy in front of the moto server: what a hostile network and a sick AWS do.

The operator is pointed at the proxy (`--aws-endpoint-url`); every request is forwarded to moto
unless the seeded schedule picks a fault for it:

    throttle        400 with an IAM `Throttling` error, nothing forwarded
    unavailable     503 (or 500) with an XML error, nothing forwarded
    html            500 with an HTML page, as a load balancer in front of AWS answers
    reset           the connection closed without an answer
    delay           no answer for longer than the client's read timeout, then closed
    truncated       forwarded; the answer cut in half (for AssumeRole: inside <Credentials>)
    after_mutation  forwarded, so the change is made in moto; then 500, so the client cannot know

Faults are drawn from `random.Random(seed)`, so a run can be repeated. `outage()` makes AWS
unreachable (every connection reset) until it ends. The proxy records the credentials it saw in
AssumeRole answers, so tests can scan everything the operator wrote for them.
"""

from __future__ import annotations

import http.client
import random
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import parse_qs, urlparse

from dynamobackup_devenv.processes import Lifecycle, free_ports

FAULTS = ("throttle", "unavailable", "html", "reset", "delay", "truncated", "after_mutation")
MUTATING = re.compile(r"^(Create|Put|Update|Delete|Attach|Detach|Tag|Untag|Remove|Add|Set)")
SECRET_TAGS = ("AccessKeyId", "SecretAccessKey", "SessionToken")

THROTTLE_BODY = (
    b'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>'
    b"<Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
    b"<RequestId>fault-proxy</RequestId></ErrorResponse>"
)
UNAVAILABLE_BODY = (
    b'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Receiver</Type>'
    b"<Code>ServiceUnavailable</Code><Message>Service is unavailable</Message></Error>"
    b"<RequestId>fault-proxy</RequestId></ErrorResponse>"
)
HTML_BODY = b"<html><head><title>500 Internal Server Error</title></head><body>oops</body></html>"


@dataclass
class Schedule:
    """Which faults, how often; `only` limits them to some AWS actions (e.g. AssumeRole)."""

    rate: float = 0.0
    faults: tuple[str, ...] = FAULTS
    only: frozenset[str] | None = None
    limit: int | None = None  # at most this many faults, then clean forwarding


@dataclass
class Record:
    injected: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    forwarded_mutations: Counter[str] = field(default_factory=Counter)
    secrets: set[str] = field(default_factory=set)


class FaultProxy(Lifecycle):
    def __init__(self, upstream: str, seed: int, read_timeout: float) -> None:
        self.upstream = urlparse(upstream)
        self.random = random.Random(seed)
        self.delay = read_timeout + 1.0
        self.schedule = Schedule()
        self.record = Record()
        self._lock = threading.Lock()
        self._down = threading.Event()
        (self.port,) = free_ports(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._down.clear()
        self._server.shutdown()
        self._server.server_close()

    @contextmanager
    def faults(self, schedule: Schedule) -> Iterator[Record]:
        with self._lock:
            self.schedule = schedule
        try:
            yield self.record
        finally:
            with self._lock:
                self.schedule = Schedule()

    @contextmanager
    def outage(self) -> Iterator[None]:
        """AWS unreachable: every connection is reset until the block ends."""
        self._down.set()
        try:
            yield
        finally:
            self._down.clear()

    def injected_total(self) -> int:
        with self._lock:
            return sum(self.record.injected.values())

    # -- the request path -----------------------------------------------------------------------

    def _pick(self, action: str) -> str | None:
        with self._lock:
            self.record.requests += 1
            if self._down.is_set():
                self.record.injected["outage"] += 1
                return "reset"
            s = self.schedule
            if s.rate <= 0 or (s.only is not None and action not in s.only):
                return None
            if s.limit is not None and sum(self.record.injected.values()) >= s.limit:
                return None
            if self.random.random() >= s.rate:
                return None
            fault = self.random.choice(s.faults)
            self.record.injected[fault] += 1
            return fault

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test's log is the operator's."""

            def do_POST(self) -> None:
                self._serve()

            def do_GET(self) -> None:
                self._serve()

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                action = _action(self.path, body)
                fault = proxy._pick(action)
                if fault in ("reset", "delay"):
                    if fault == "delay":
                        time.sleep(proxy.delay)
                    self._close()
                    return
                if fault == "throttle":
                    self._answer(400, THROTTLE_BODY, "text/xml")
                    return
                if fault == "unavailable":
                    self._answer(proxy.random.choice((500, 503)), UNAVAILABLE_BODY, "text/xml")
                    return
                if fault == "html":
                    self._answer(500, HTML_BODY, "text/html")
                    return
                status, headers, answer = proxy._forward(
                    self.command, self.path, self.headers, body
                )
                if action == "AssumeRole" and status == 200:
                    proxy._remember_credentials(answer)
                if status < 400 and MUTATING.match(action):
                    with proxy._lock:
                        proxy.record.forwarded_mutations[action] += 1
                if fault == "after_mutation":
                    self._answer(500, UNAVAILABLE_BODY, "text/xml")
                    return
                if fault == "truncated":
                    answer = _truncate(answer)
                self._answer(status, answer, headers.get("Content-Type", "text/xml"))

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _close(self) -> None:
                self.close_connection = True
                with suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)

        return Handler

    def _forward(
        self, method: str, path: str, headers: object, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(
            self.upstream.hostname, self.upstream.port, timeout=60
        )
        try:
            forwarded = {k: v for k, v in headers.items() if k.lower() != "host"}  # type: ignore[attr-defined]
            forwarded["Host"] = f"{self.upstream.hostname}:{self.upstream.port}"
            connection.request(method, path, body=body, headers=forwarded)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def _remember_credentials(self, answer: bytes) -> None:
        text = answer.decode(errors="replace")
        with self._lock:
            for tag in SECRET_TAGS:
                for value in re.findall(rf"<{tag}>([^<]+)</{tag}>", text):
                    self.record.secrets.add(value)


def _action(path: str, body: bytes) -> str:
    query = parse_qs(urlparse(path).query)
    if "Action" in query:
        return query["Action"][0]
    form = parse_qs(body.decode(errors="replace"))
    return form.get("Action", [""])[0]


def _truncate(answer: bytes) -> bytes:
    """Cut the answer: an AssumeRole answer inside its credentials (after the secrets), so what
    reaches the client is invalid XML that still holds every secret; others in the middle."""
    cut = answer.find(b"</Credentials>")
    return answer[:cut] if cut > 0 else answer[: max(1, len(answer) // 2)]
