"""`dbr run` logging: kubelet probes of /healthz stay out of an INFO log."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from dynamobackup.cli.run import _probes_at_debug


def access_record(path: str) -> logging.LogRecord:
    # The shape of aiohttp.access's records: the request line inside the message.
    return logging.LogRecord(
        "aiohttp.access",
        logging.INFO,
        __file__,
        1,
        '%s [%s] "%s" %d',
        ("10.0.0.7", "29/Nov/2026:08:00:00 +0000", f"GET {path} HTTP/1.1", 200),
        None,
    )


@pytest.fixture
def root_level() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    saved = root.level
    yield root
    root.setLevel(saved)


def test_probe_requests_are_dropped_at_info(root_level: logging.Logger) -> None:
    root_level.setLevel(logging.INFO)
    assert _probes_at_debug(access_record("/healthz")) is False
    assert _probes_at_debug(access_record("/other")) is True


def test_probe_requests_show_at_debug_as_debug(root_level: logging.Logger) -> None:
    root_level.setLevel(logging.DEBUG)
    record = access_record("/healthz")
    assert _probes_at_debug(record) is True
    assert (record.levelno, record.levelname) == (logging.DEBUG, "DEBUG")
