"""Throttling from AWS: botocore retries it, metrics count it, and the reconcile reports it as retryable."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest

from dynamobackup.api.v1alpha1 import DynamoBackupRoleSpec
from dynamobackup.aws.manager import RoleManager
from dynamobackup.aws.session import AwsSettings, SessionProvider
from dynamobackup.metrics import Metrics
from dynamobackup.reconcile.ownership import Owner

THROTTLED = b"""<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>
<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"""
IDENTITY = b"""<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/op</Arn><UserId>AIDAEXAMPLE</UserId>
<Account>123456789012</Account></GetCallerIdentityResult>
<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"""


class ThrottlingIam(BaseHTTPRequestHandler):
    """Answers STS identity normally and throttles every IAM call, like an account at its rate limit."""

    requests: list[str] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        action = dict(part.split("=", 1) for part in body.split("&"))["Action"]
        type(self).requests.append(action)
        throttled = action != "GetCallerIdentity"
        self.send_response(400 if throttled else 200)
        self.send_header("Content-Type", "text/xml")
        self.end_headers()
        self.wfile.write(THROTTLED if throttled else IDENTITY)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def throttling_endpoint() -> Iterator[str]:
    ThrottlingIam.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), ThrottlingIam)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def throttled_count(metrics: Metrics) -> float:
    return (
        metrics.registry.get_sample_value(
            "dynamobackup_aws_api_throttled_total", {"service": "iam", "operation": "GetRole"}
        )
        or 0.0
    )


def test_throttling_is_retried_counted_and_reported(throttling_endpoint: str) -> None:
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
    settings = AwsSettings(endpoint_url=throttling_endpoint, max_attempts=3)
    metrics = Metrics.unexported()
    manager = RoleManager(SessionProvider(settings, session, metrics))
    spec = DynamoBackupRoleSpec.parse(
        {
            "account": {"id": "123456789012"},
            "roleName": "r",
            "scope": {"operations": ["Restore"]},
            "trust": {"applianceAccountId": "111111111111"},
        }
    )
    before = throttled_count(metrics)
    outcome = manager.converge(spec, Owner("ns", "name"))

    assert ThrottlingIam.requests.count("GetRole") == 3  # botocore's attempts, not ours
    assert throttled_count(metrics) - before == 3
    assert outcome.failure is not None
    assert outcome.failure.reason == "AwsThrottled" and outcome.failure.retryable
    assert "GetRole failed after retries" in outcome.failure.message
    assert outcome.aws_calls == 2  # GetCallerIdentity and GetRole: retries are one call each
