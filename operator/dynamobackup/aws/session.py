"""IAM clients per AWS account: the operator's own credentials, or a role assumed in the account.

Assumed-role credentials are cached until shortly before they expire, so a drift check costs no
STS call. Credentials are never logged or stored anywhere but in memory.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config

from dynamobackup import redaction
from dynamobackup.aws.calls import instrument
from dynamobackup.aws.ratelimit import AccountRateLimits
from dynamobackup.metrics import Metrics
from dynamobackup.reconcile.outcome import Failure
from dynamobackup.reconcile.tenancy import AccountAccess

SESSION_NAME = "dynamobackup-operator"
REFRESH_BEFORE_EXPIRY = timedelta(minutes=5)
DEFAULT_REGIONS = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}


class AccountAccessError(Exception):
    """The operator cannot act in the account; carries the Failure to report."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


@dataclass(frozen=True)
class AwsSettings:
    endpoint_url: str | None = None
    region: str | None = None
    max_attempts: int = 8
    # Seconds per attempt; botocore's 60 s default would hold a worker for minutes on a hung call.
    timeout: float = 20.0
    # IAM requests per second per account (0: unpaced) and how many may be saved up: below the
    # rates at which IAM throttles an account, whose quota the operator shares with its users.
    rate_limit: float = 10.0
    burst: float = 20.0

    def client_config(self) -> Config:
        # Adaptive mode adds client-side rate limiting to backoff: IAM's rate limits are low.
        return Config(
            retries={"mode": "adaptive", "total_max_attempts": self.max_attempts},
            user_agent_extra="dynamobackup-operator",
            connect_timeout=min(5.0, self.timeout),
            read_timeout=self.timeout,
        )

    def region_for(self, partition: str) -> str:
        return self.region or DEFAULT_REGIONS.get(partition, "us-east-1")


@dataclass
class _CachedClient:
    client: Any
    expires: datetime | None


class SessionProvider:
    """Hands out instrumented IAM clients per account; safe to use from many threads.

    Every client's calls are counted in `metrics` (by default metrics no endpoint serves).
    """

    def __init__(
        self,
        settings: AwsSettings,
        base_session: boto3.Session | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics.unexported()
        self._base = base_session or boto3.Session()
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, ...], _CachedClient] = {}
        # One lock per assumed role: concurrent reconciles of one account wait for the first
        # AssumeRole instead of racing past the empty cache with one call each (single flight).
        self._assuming: dict[tuple[str, ...], threading.Lock] = {}
        self._own_account: str | None = None
        self.limits = AccountRateLimits(settings.rate_limit, settings.burst)

    def iam_for(self, account: AccountAccess) -> Any:
        """An IAM client acting in `account`; raises AccountAccessError when that is impossible."""
        return self.client_for(account, "iam")

    def client_for(self, account: AccountAccess, service: str) -> Any:
        """A client of `service` acting in `account` (IAM, or Organizations for discovery)."""
        if account.assume_role_arn:
            return self._assumed_client(account, service)
        own = self.own_account_id(str(account.partition))
        if own != account.id:
            raise AccountAccessError(
                Failure(
                    "AccountMismatch",
                    f"the operator's credentials belong to account {own}, not {account.id}; "
                    "set assumeRoleArn (of the account's DynamoBackupAccount, or of the "
                    "DynamoBackupRole where no binding governs the account) to a role there",
                )
            )
        return self._client(
            ("own", service, str(account.partition)),
            str(account.partition),
            paced_as=_bucket(account, service),
        )

    def own_account_id(self, partition: str = "aws") -> str:
        if self._own_account is None:
            sts = self._client(("own", "sts", partition), partition)
            self._own_account = str(sts.get_caller_identity()["Account"])
        return self._own_account

    def _assumed_client(self, account: AccountAccess, service: str) -> Any:
        arn = account.assume_role_arn
        assert arn is not None
        arn_account = arn.split(":")[4]
        if arn_account != account.id:
            raise AccountAccessError(
                Failure(
                    "AssumeRoleAccountMismatch",
                    f"assumeRoleArn {arn} is in account {arn_account}, not in {account.id}",
                )
            )
        key = ("assumed", service, arn, account.external_id or "", str(account.partition))
        with self._lock:
            assuming = self._assuming.setdefault(key, threading.Lock())
        with assuming:
            cached = self._fresh(key)
            if cached is not None:
                return cached
            credentials = self._assume(arn, account.external_id, str(account.partition))
            redaction.remember(
                credentials["AccessKeyId"],
                credentials["SecretAccessKey"],
                credentials["SessionToken"],
            )
            # A client of the one base session, not a boto3.Session per account: sessions each
            # load and keep their own copy of the service models (about 11 MiB and 90 ms each).
            client = self._new_client(
                self._base,
                service,
                str(account.partition),
                paced_as=_bucket(account, service),
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
            )
            with self._lock:
                self._clients[key] = _CachedClient(client, credentials["Expiration"])
            return client

    def _fresh(self, key: tuple[str, ...]) -> Any | None:
        """The cached client for `key` while its credentials stay valid a while longer."""
        with self._lock:
            cached = self._clients.get(key)
        if cached and cached.expires and cached.expires - REFRESH_BEFORE_EXPIRY > datetime.now(UTC):
            return cached.client
        return None

    def _assume(self, arn: str, external_id: str | None, partition: str) -> dict[str, Any]:
        sts = self._client(("own", "sts", partition), partition)
        arguments: dict[str, Any] = {"RoleArn": arn, "RoleSessionName": SESSION_NAME}
        if external_id:
            arguments["ExternalId"] = external_id
        response = sts.assume_role(**arguments)
        credentials: dict[str, Any] = response["Credentials"]
        return credentials

    def _client(
        self, key: tuple[str, str, str], partition: str, paced_as: str | None = None
    ) -> Any:
        with self._lock:
            cached = self._clients.get(key)
            if cached is None:
                client = self._new_client(self._base, key[1], partition, paced_as=paced_as)
                cached = _CachedClient(client, None)
                self._clients[key] = cached
            return cached.client

    def _new_client(
        self,
        session: boto3.Session,
        service: str,
        partition: str,
        paced_as: str | None = None,
        **credentials: str,
    ) -> Any:
        # The service is a runtime string; boto3-stubs only types literal service names.
        factory: Any = session.client
        client = factory(
            service,
            region_name=self.settings.region_for(partition),
            endpoint_url=self.settings.endpoint_url,
            config=self.settings.client_config(),
            **credentials,
        )
        if paced_as is not None:
            self.limits.pace(client, paced_as)
        return instrument(client, self.metrics)


def _bucket(account: AccountAccess, service: str) -> str:
    """The rate-limit bucket of a client: IAM's per account; another service's (Organizations,
    for discovery) has quotas of its own, so a bucket of its own in that account."""
    return account.id if service == "iam" else f"{account.id}/{service}"
