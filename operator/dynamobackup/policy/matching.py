"""IAM wildcard matching: `*` matches any run of characters, `?` exactly one."""

from __future__ import annotations

import re
from functools import lru_cache

WILDCARD_CHARS = frozenset("*?")


def has_wildcard(pattern: str) -> bool:
    return any(char in WILDCARD_CHARS for char in pattern)


@lru_cache(maxsize=4096)
def compile_pattern(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = (".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = True) -> bool:
    """True when `value` matches the IAM `pattern`; action names compare case-insensitively."""
    if not has_wildcard(pattern):
        return pattern.lower() == value.lower() if ignore_case else pattern == value
    return compile_pattern(pattern, ignore_case).fullmatch(value) is not None


def matches_everything(pattern: str) -> bool:
    """A pattern such as `*` or `**` that matches any string at all."""
    return bool(pattern) and set(pattern) == {"*"}
