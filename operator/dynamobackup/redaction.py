"""The second net for secrets: scrub credentials and external IDs from any text that leaves memory.

The first net is the AWS error boundary (`aws.errors.describe_failure`), which never copies a raw
response, header or exception text into a message. This module catches what slips past it: every
log record of the process (`install_log_redaction`) and every message the operator writes to the
API server (status, Events, kopf's annotations) goes through `redact`.

Two kinds of evidence are scrubbed: values that look like secrets wherever they appear (AWS access
key IDs, `SecretAccessKey`/`SessionToken`/`X-Amz-Security-Token`/`ExternalId` fields in XML, JSON,
query strings and headers), and values the process itself handled as secrets (`remember`), such as
assumed-role credentials and external IDs, which have no recognisable shape.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

MASK = "[REDACTED]"
# Secrets shorter than this are not remembered: masking every "ab" in every log would destroy the
# logs and protect nothing (the API server refuses external IDs shorter than 2 characters anyway).
MIN_REMEMBERED_LENGTH = 4
MAX_REMEMBERED = 4096

_SECRET_FIELDS = (
    "SecretAccessKey",
    "SessionToken",
    "AccessKeyId",
    "X-Amz-Security-Token",
    "ExternalId",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_access_key_id",
    "Signature",
    "Credential",
)
_FIELD_ALTERNATIVES = "|".join(re.escape(name) for name in _SECRET_FIELDS)
_PATTERNS = (
    # XML elements: <SecretAccessKey>...</SecretAccessKey>, also when the closing tag was cut off.
    re.compile(rf"(<(?:{_FIELD_ALTERNATIVES})>)[^<]*", re.IGNORECASE),
    # JSON and Python reprs: "SecretAccessKey": "..." or 'ExternalId': '...'.
    re.compile(rf"""(["']?(?:{_FIELD_ALTERNATIVES})["']?\s*[:=]\s*["'])[^"']*""", re.IGNORECASE),
    # Query strings, headers and key=value logs: X-Amz-Security-Token=..., ExternalId: ...
    re.compile(rf"((?:{_FIELD_ALTERNATIVES})\s*[:=]\s*)[^\s&,;\"'<>]+", re.IGNORECASE),
    # sts:ExternalId conditions in policy documents.
    re.compile(r"""(sts:ExternalId["']?\s*:\s*\[?\s*["'])[^"']*""", re.IGNORECASE),
    # Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...
    re.compile(r"(Authorization\s*[:=]\s*)[^\n]*", re.IGNORECASE),
)
# Access key IDs have a recognisable shape wherever they appear (AKIA long-term, ASIA temporary).
_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{12,}\b")

_remembered: set[str] = set()
_remembered_lock = threading.Lock()


def remember(*secrets: str | None) -> None:
    """Values this process handles as secrets; `redact` masks them wherever they appear."""
    with _remembered_lock:
        for secret in secrets:
            if secret and len(secret) >= MIN_REMEMBERED_LENGTH:
                if len(_remembered) >= MAX_REMEMBERED:
                    _remembered.clear()  # bounded memory; the patterns still apply
                _remembered.add(secret)


def redact(text: str) -> str:
    """`text` with every recognisable or remembered secret replaced by MASK."""
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    text = _ACCESS_KEY_ID.sub(MASK, text)
    with _remembered_lock:
        remembered: Iterable[str] = sorted(_remembered, key=len, reverse=True)
    for secret in remembered:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def one_line(text: str, limit: int = 400) -> str:
    """A message fit for a condition or an Event: redacted, on one line, at most `limit` chars."""
    flat = " ".join(redact(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def install_log_redaction() -> None:
    """Every log record of the process is redacted when it is created, before any handler (files,
    stderr, kopf's Event poster) sees it; tracebacks are formatted and redacted then too."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "redacting", False):
        return

    def redacting_factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        _redact_record(record)
        return record

    redacting_factory.redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacting_factory)


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # a malformed format string; keep the template only
        message = str(record.msg)
    record.msg, record.args = redact(message), ()
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        record.exc_info = None
