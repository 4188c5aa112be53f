"""IAM wildcard matching: `*` matches any run of characters, `?` exactly one."""

from __future__ import annotations

import re
from functools import lru_cache


def has_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


def wildcard_regex(pattern: str) -> str:
    """The regular expression (for fullmatch) equivalent to an IAM wildcard pattern."""
    return "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )


@lru_cache(maxsize=4096)
def compile_pattern(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile(wildcard_regex(pattern), flags)


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = True) -> bool:
    """True when `value` matches the IAM `pattern`; action names compare case-insensitively."""
    if not has_wildcard(pattern):
        return pattern.lower() == value.lower() if ignore_case else pattern == value
    return compile_pattern(pattern, ignore_case).fullmatch(value) is not None


def matches_everything(pattern: str) -> bool:
    """A pattern such as `*` or `**` that matches any string at all."""
    return bool(pattern) and set(pattern) == {"*"}


def pattern_covers(general: str, specific: str) -> bool:
    """Whether every action name `specific` matches is also matched by `general` (`s3:*` covers
    `s3:Get*`; `s3:Get*` does not cover `s3:*`), case-insensitively. Sound: True is always right."""
    return _covers(general.lower(), specific.lower(), 0, 0, {})


def _covers(general: str, specific: str, i: int, j: int, memo: dict[tuple[int, int], bool]) -> bool:
    if (i, j) in memo:
        return memo[i, j]
    if i == len(general):
        result = j == len(specific)
    elif general[i] == "*":
        # `*` absorbs nothing more, or the next token of `specific` (a wildcard included).
        result = _covers(general, specific, i + 1, j, memo) or (
            j < len(specific) and _covers(general, specific, i, j + 1, memo)
        )
    elif j == len(specific) or specific[j] == "*":
        result = False
    elif general[i] == "?" or general[i] == specific[j]:
        # `?` covers any one character (a `?` too); a literal covers only itself.
        result = _covers(general, specific, i + 1, j + 1, memo)
    else:
        result = False
    memo[i, j] = result
    return result
