"""The error boundary of AWS I/O and the redaction net (issue 8, defect 1)."""

from __future__ import annotations

import logging

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError
from botocore.parsers import ResponseParserError

from dynamobackup import redaction
from dynamobackup.aws.errors import describe_failure

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "FQoGZXIvYXdzEBYaDExampleSessionToken0123456789"
KEY_ID = "ASIAIOSFODNN7EXAMPLE"
ASSUME_ROLE_BODY = (
    "<AssumeRoleResponse><AssumeRoleResult><Credentials>"
    f"<AccessKeyId>{KEY_ID}</AccessKeyId><SecretAccessKey>{SECRET}</SecretAccessKey>"
    f"<SessionToken>{TOKEN}"
)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            ResponseParserError(
                f"Unable to parse response, invalid XML received:\n{ASSUME_ROLE_BODY}"
            ),
            "AwsBadResponse",
        ),
        (
            ReadTimeoutError(endpoint_url=f"https://sts/?X-Amz-Security-Token={TOKEN}"),
            "AwsUnreachable",
        ),
        (ConnectTimeoutError(endpoint_url="https://iam.amazonaws.com"), "AwsUnreachable"),
        (RuntimeError(f"boom {SECRET}"), "InternalError"),
        (KeyError(TOKEN), "InternalError"),
    ],
)
def test_any_exception_becomes_a_retryable_failure_without_its_text(
    error: Exception, reason: str
) -> None:
    failure = describe_failure(error, "111122223333", "reconciling the role")
    assert failure.reason == reason and failure.retryable
    for secret in (SECRET, TOKEN, KEY_ID):
        assert secret not in failure.message


def test_an_aws_error_message_is_one_redacted_line() -> None:
    response = {
        "Error": {"Code": "InvalidInput", "Message": f"bad\n<SessionToken>{TOKEN}</SessionToken>"},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
    failure = describe_failure(ClientError(response, "GetRole"), "111122223333", "reading")
    assert "\n" not in failure.message and TOKEN not in failure.message


def test_an_html_500_is_unavailable_and_retried() -> None:
    response = {
        "Error": {"Code": "500", "Message": "<html>oops</html>"},
        "ResponseMetadata": {"HTTPStatusCode": 500},
    }
    failure = describe_failure(ClientError(response, "AssumeRole"), "111122223333", "assuming")
    assert failure.reason == "AwsUnavailable" and failure.retryable


@pytest.mark.parametrize(
    "text",
    [
        ASSUME_ROLE_BODY,
        f'{{"SecretAccessKey": "{SECRET}", "SessionToken": "{TOKEN}", "AccessKeyId": "{KEY_ID}"}}',
        f"GET /?Action=AssumeRole&X-Amz-Security-Token={TOKEN}&ExternalId={SECRET}",
        f"Authorization: AWS4-HMAC-SHA256 Credential={KEY_ID}/20261129, Signature={SECRET}",
        f"{{'externalId': '{SECRET}', 'sts:ExternalId': '{TOKEN}'}}",
    ],
)
def test_redact_masks_every_shape_of_secret(text: str) -> None:
    masked = redaction.redact(text)
    for secret in (SECRET, TOKEN, KEY_ID):
        assert secret not in masked
    assert redaction.MASK in masked


def test_remembered_values_are_masked_anywhere() -> None:
    redaction.remember("veeam-external-id-42")
    assert redaction.redact("trust for veeam-external-id-42 ok") == f"trust for {redaction.MASK} ok"


def test_every_log_record_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    factory = logging.getLogRecordFactory()
    redaction.install_log_redaction()
    try:
        with caplog.at_level(logging.DEBUG):
            logging.getLogger("botocore.parsers").debug("Response body:\n%s", ASSUME_ROLE_BODY)
            try:
                raise ResponseParserError(ASSUME_ROLE_BODY)
            except ResponseParserError:
                logging.getLogger("kopf.objects").exception("Handler failed")
        text = caplog.text + "".join(r.exc_text or "" for r in caplog.records)
        assert "Handler failed" in text and SECRET not in text and TOKEN not in text
    finally:
        logging.setLogRecordFactory(factory)


def test_a_garbled_error_code_never_becomes_a_metric_label() -> None:
    from types import SimpleNamespace

    from dynamobackup.aws.calls import CallObserver
    from dynamobackup.metrics import Metrics

    metrics = Metrics.unexported()
    model = SimpleNamespace(name="AssumeRole", service_model=SimpleNamespace(service_name="sts"))
    CallObserver(metrics).after_call(model, {"Error": {"Code": f"<SessionToken>{TOKEN}"}})
    labels = [
        sample.labels["outcome"]
        for metric in metrics.aws_calls.collect()
        for sample in metric.samples
    ]
    assert "error" in labels and not [label for label in labels if TOKEN in label]


def test_no_exception_text_escapes_a_handler_into_kopfs_annotation() -> None:
    import kopf

    from dynamobackup.handlers.registry import _contained
    from dynamobackup.handlers.runtime import OperatorConfig

    class FakeRuntime:
        config = OperatorConfig()

    def boom() -> None:
        raise RuntimeError(f"response body {ASSUME_ROLE_BODY}")

    with pytest.raises(kopf.TemporaryError) as raised:
        _contained(FakeRuntime(), boom)  # type: ignore[arg-type]
    assert "RuntimeError" in str(raised.value) and SECRET not in str(raised.value)
