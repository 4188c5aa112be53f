"""AWS errors as Failures a person can act on: a CamelCase reason and one line, never a traceback."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
)

from dynamobackup.aws.calls import THROTTLING_CODES
from dynamobackup.reconcile.outcome import Failure

ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
BAD_CREDENTIALS = frozenset(
    {"InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException", "SignatureDoesNotMatch"}
)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def describe_failure(error: Exception, account_id: str, doing: str) -> Failure:
    """Map an exception from boto3 to the Failure shown in the Ready condition."""
    if isinstance(error, ClientError):
        return _client_failure(error, account_id, doing)
    if isinstance(error, NoCredentialsError):
        return Failure(
            "NoCredentials", "the operator has no AWS credentials (IRSA, Pod Identity or env)"
        )
    if isinstance(error, EndpointConnectionError):
        return Failure("AwsUnreachable", f"cannot reach AWS while {doing}: {error}", retryable=True)
    if isinstance(error, BotoCoreError):
        return Failure("AwsClientError", f"{doing} failed: {error}", retryable=True)
    raise error


def _client_failure(error: ClientError, account_id: str, doing: str) -> Failure:
    code = error_code(error)
    message = str(error.response.get("Error", {}).get("Message", "")).strip() or code
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    operation = error.operation_name
    if operation == "AssumeRole":
        return Failure(
            "AssumeRoleFailed", f"cannot assume the role for account {account_id}: {message}"
        )
    if code in THROTTLING_CODES or status >= 500:
        reason = "AwsThrottled" if code in THROTTLING_CODES else "AwsUnavailable"
        return Failure(
            reason, f"{operation} failed after retries while {doing}: {message}", retryable=True
        )
    reason, text = _KNOWN_ERRORS.get(
        code, (_reason_for(code), "{operation} failed while {doing}: {message}")
    )
    detail = text.format(operation=operation, account=account_id, doing=doing, message=message)
    return Failure(reason, detail)


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
