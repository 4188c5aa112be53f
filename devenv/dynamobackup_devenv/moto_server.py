"""moto in server mode: a local AWS endpoint that boto3 reaches over HTTP, as the operator will.

It runs as a child process (`python -m moto.server`), not a thread, so its work does not share the GIL
with the tests or the operator and it dies with everything else on stop.

Accounts: moto keeps state per account ID. A request lands in the account named by its
`x-moto-account-id` header, else in the account owning its access key (keys from STS AssumeRole belong
to the account in the role ARN), else in DEFAULT_ACCOUNT_ID. The child runs without MOTO_ACCOUNT_ID,
which would override all of that. moto checks neither trust policies nor ExternalId: AssumeRole into
any ARN succeeds, so tests can show the operator *uses* cross-account credentials, not that AWS would
grant them.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Self

import boto3

from dynamobackup_devenv.processes import ManagedProcess, Service, start_on_free_ports, wait_until

log = logging.getLogger(__name__)

REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"
ACCOUNT_HEADER = "x-moto-account-id"
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class MotoServer(Service):
    """`python -m moto.server` on a free 127.0.0.1 port; `start()` returns once it answers."""

    def __init__(
        self,
        log_path: Path | None = None,
        start_timeout: float = 60.0,
        die_with_parent: bool = True,
    ) -> None:
        super().__init__(start_timeout, die_with_parent)
        self._given_log_path = log_path
        self.port = 0
        self.process: ManagedProcess | None = None
        self._temp_log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def log_path(self) -> Path | None:
        return self.process.log_path if self.process else None

    def start(self) -> Self:
        super().start()
        log.info("moto server ready in %.1fs at %s", self.startup_seconds, self.url)
        return self

    def reset(self) -> None:
        """Forgets every resource in every account (moto's own reset endpoint)."""
        self.helper().reset()

    def helper(self) -> AwsHelper:
        return AwsHelper(self.url)

    def healthy(self) -> bool:
        return moto_healthy(self.url)

    def environment(self) -> dict[str, str]:
        """Environment variables that point boto3 (and the AWS CLI) in another process here."""
        return aws_environment(self.url)

    def _start_up(self) -> None:
        start_on_free_ports(1, self._start_on, self._stop_process, "moto")

    def _shut_down(self) -> None:
        self._stop_process()
        self.process = None
        if self._temp_log is not None:
            self._temp_log.unlink(missing_ok=True)
            self._temp_log = None

    def _start_on(self, ports: list[int]) -> None:
        (self.port,) = ports
        self.process = ManagedProcess(
            "moto",
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            self._log_path(),
            _child_environment(),
            self.die_with_parent,
        )
        self.process.start()
        wait_until(self.healthy, self.start_timeout, "moto server answering", [self.process])

    def _stop_process(self) -> None:
        if self.process is not None:
            self.process.stop()

    def _log_path(self) -> Path:
        if self._given_log_path is not None:
            return self._given_log_path
        if self._temp_log is None:
            handle, name = tempfile.mkstemp(prefix="dbr-moto-", suffix=".log")
            os.close(handle)
            self._temp_log = Path(name)
        return self._temp_log


def moto_healthy(url: str) -> bool:
    """True when the server at `url` answers moto's config endpoint (with 201, as moto does)."""
    try:
        with urllib.request.urlopen(f"{url}/moto-api/config", timeout=2) as response:
            json.loads(response.read())
            return True
    except (OSError, urllib.error.URLError, ValueError):
        return False


def _child_environment() -> dict[str, str]:
    env = dict(os.environ)
    # Set, it would put every request in one account and switch the header and AssumeRole off.
    env.pop("MOTO_ACCOUNT_ID", None)
    return env


def aws_environment(endpoint_url: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


def moto_session(account: str | None = None, **credentials: str) -> boto3.Session:
    """A boto3 session with dummy (or given) credentials; `account` pins moto's account per request."""
    given = credentials or DUMMY_CREDENTIALS
    session = boto3.Session(
        aws_access_key_id=given["aws_access_key_id"],
        aws_secret_access_key=given["aws_secret_access_key"],
        aws_session_token=given.get("aws_session_token"),
        region_name=REGION,
    )
    if account is not None:

        def add_account_header(request: Any, **_: Any) -> None:
            request.headers[ACCOUNT_HEADER] = account

        session.events.register("before-sign", add_account_header)
    return session


def moto_client(
    endpoint_url: str, service: str, account: str | None = None, **credentials: str
) -> Any:
    """A boto3 client for `service` talking to moto at `endpoint_url`.

    With `account`, requests land in that account via moto's header; with credentials (for instance
    from `assume_role`) moto picks the account that owns them.
    """
    # boto3-stubs types clients per literal service name; this helper serves any service.
    session: Any = moto_session(account, **credentials)
    return session.client(service, endpoint_url=endpoint_url)


def trust_policy(trusted_account: str, external_id: str | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{trusted_account}:root"},
        "Action": "sts:AssumeRole",
    }
    if external_id is not None:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return {"Version": "2012-10-17", "Statement": [statement]}


def create_cross_account_role(
    endpoint_url: str,
    target_account: str,
    role_name: str,
    trusted_account: str = DEFAULT_ACCOUNT_ID,
    external_id: str | None = None,
) -> str:
    """Creates, in `target_account`, a role that `trusted_account` may assume; returns its ARN."""
    iam = moto_client(endpoint_url, "iam", account=target_account)
    created = iam.create_role(
        RoleName=role_name,
        AssumeRolePolicyDocument=json.dumps(trust_policy(trusted_account, external_id)),
    )
    return str(created["Role"]["Arn"])


def assume_role(
    endpoint_url: str,
    role_arn: str,
    external_id: str | None = None,
    session_name: str = "dbr-test",
    account: str | None = None,
) -> dict[str, str]:
    """STS AssumeRole from `account` (default: the default account); returns client keyword arguments."""
    sts = moto_client(endpoint_url, "sts", account=account)
    params: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": session_name}
    if external_id is not None:
        params["ExternalId"] = external_id
    credentials = sts.assume_role(**params)["Credentials"]
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


class AwsHelper:
    """What a test needs to talk to moto: clients per account, cross-account roles, AssumeRole."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url
        self.region = REGION
        self.default_account = DEFAULT_ACCOUNT_ID

    def session(self, account: str | None = None, **credentials: str) -> boto3.Session:
        return moto_session(account, **credentials)

    def client(self, service: str, account: str | None = None, **credentials: str) -> Any:
        """A client acting in `account` (default: the default account), or as `credentials`."""
        return moto_client(self.endpoint_url, service, account, **credentials)

    def environment(self) -> dict[str, str]:
        return aws_environment(self.endpoint_url)

    def create_cross_account_role(
        self,
        target_account: str,
        role_name: str,
        external_id: str | None = None,
        trusted_account: str = DEFAULT_ACCOUNT_ID,
    ) -> str:
        return create_cross_account_role(
            self.endpoint_url, target_account, role_name, trusted_account, external_id
        )

    def assume_role(
        self,
        role_arn: str,
        external_id: str | None = None,
        session_name: str = "dbr-test",
        account: str | None = None,
    ) -> dict[str, str]:
        return assume_role(self.endpoint_url, role_arn, external_id, session_name, account)

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
