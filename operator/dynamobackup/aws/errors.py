"""AWS errors as Failures a person can act on: a CamelCase reason and one line, never a traceback.

This is the error boundary of all AWS I/O: whatever is raised while talking to AWS becomes a
Failure. Only AWS's own error code and message (redacted, one line) are ever copied into it: never
the text of another exception, which for botocore may hold a raw response body (an AssumeRole
response holds credentials), headers or a request signature.
"""

from __future__ import annotations

import re

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    IncompleteReadError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)
from botocore.parsers import ResponseParserError

from dynamobackup.aws.calls import THROTTLING_CODES
from dynamobackup.reconcile.outcome import Failure
from dynamobackup.redaction import one_line

ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
BAD_CREDENTIALS = frozenset(
    {"InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException", "SignatureDoesNotMatch"}
)


# An error code is copied into a condition reason and a metric label: only a plain AWS code.
_ERROR_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9.]{0,63}$")
_UNREACHABLE = (BotoConnectionError, ConnectionClosedError, ReadTimeoutError, IncompleteReadError)


def error_code(error: ClientError) -> str:
    code = str(error.response.get("Error", {}).get("Code", "Unknown"))
    return code if _ERROR_CODE.match(code) else "Unknown"


def describe_failure(error: Exception, account_id: str, doing: str) -> Failure:
    """Map any exception raised while talking to AWS to the Failure shown in the Ready condition.

    Never raises. Messages name the exception's class, never its text (see the module doc).
    """
    if isinstance(error, ClientError):
        return _client_failure(error, account_id, doing)
    if isinstance(error, NoCredentialsError):
        return Failure(
            "NoCredentials", "the operator has no AWS credentials (IRSA, Pod Identity or env)"
        )
    if isinstance(error, _UNREACHABLE):
        kind = type(error).__name__
        return Failure("AwsUnreachable", f"cannot reach AWS while {doing} ({kind})", retryable=True)
    if isinstance(error, ResponseParserError):
        return Failure(
            "AwsBadResponse",
            f"AWS sent a response that could not be read while {doing} (the body is not shown: "
            "it may hold credentials)",
            retryable=True,
        )
    if isinstance(error, BotoCoreError):
        return Failure("AwsClientError", f"{doing} failed: {type(error).__name__}", retryable=True)
    return Failure(
        "InternalError",
        f"unexpected {type(error).__name__} while {doing}; see the operator's log",
        retryable=True,
    )


def _client_failure(error: ClientError, account_id: str, doing: str) -> Failure:
    code = error_code(error)
    message = one_line(str(error.response.get("Error", {}).get("Message", "")), 300) or code
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    operation = error.operation_name
    if code in THROTTLING_CODES or status >= 500:
        reason = "AwsThrottled" if code in THROTTLING_CODES else "AwsUnavailable"
        return Failure(
            reason, f"{operation} failed after retries while {doing}: {message}", retryable=True
        )
    if operation == "AssumeRole":
        return Failure(
            "AssumeRoleFailed", f"cannot assume the role for account {account_id}: {message}"
        )
    reason, text = _KNOWN_ERRORS.get(
        code, (_reason_for(code), "{operation} failed while {doing}: {message}")
    )
    detail = text.format(operation=operation, account=account_id, doing=doing, message=message)
    return Failure(reason, detail)


def boundary_not_found(arn: str, account_id: str) -> Failure:
    """The permissions boundary the spec names does not exist; retried, since it may be created."""
    return Failure(
        "PermissionsBoundaryNotFound",
        f"the permissions boundary {arn} (spec.permissionsBoundaryArn) does not exist or cannot "
        f"be attached in account {account_id}: create it or correct the ARN",
        retryable=True,
    )


def _reason_for(code: str) -> str:
    return f"Aws{code[:1].upper()}{code[1:]}" if code.isalnum() else "AwsError"


_ACCESS_DENIED_TEXT = "the operator is not allowed to call iam:{operation} in account {account} while {doing}: {message}"
_KNOWN_ERRORS: dict[str, tuple[str, str]] = {
    **dict.fromkeys(ACCESS_DENIED, ("AccessDenied", _ACCESS_DENIED_TEXT)),
    **dict.fromkeys(
        BAD_CREDENTIALS,
        ("InvalidCredentials", "AWS rejected the operator's credentials: {message}"),
    ),
    "MalformedPolicyDocument": (
        "InvalidPolicy",
        "IAM rejected a policy document in {operation}: {message}",
    ),
    "LimitExceeded": (
        "IamLimitExceeded",
        "{operation} hit an IAM quota in account {account}: {message}",
    ),
}
