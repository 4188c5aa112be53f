"""The one error type the CLI turns into `exit 2` with a one-line message."""


class UsageError(Exception):
    """Bad input from the user: unreadable file, invalid JSON, unknown operation, bad flag."""
