"""`dbr run`: start the operator (kopf) against the current kubeconfig or in-cluster credentials."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from dynamobackup.cli.errors import UsageError
from dynamobackup.reconcile.shard import Shard

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")

LOG_LEVELS = ("debug", "info", "warning", "error")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the DynamoBackupRole operator",
        description="Reconcile DynamoBackupRole objects: create and repair IAM roles (Enforce) "
        "or report drift (Audit). Uses KUBECONFIG or the in-cluster service account.",
    )
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "--namespace",
        "-n",
        action="append",
        default=[],
        metavar="NS",
        help="watch only this namespace (repeatable); default: all namespaces",
    )
    scope.add_argument(
        "--all-namespaces", "-A", action="store_true", help="watch every namespace (default)"
    )
    parser.add_argument(
        "--aws-endpoint-url",
        metavar="URL",
        help="send AWS calls to this endpoint (e.g. a moto server), not to AWS",
    )
    parser.add_argument("--aws-region", metavar="REGION", help="region for STS and IAM clients")
    parser.add_argument(
        "--aws-max-attempts",
        type=int,
        default=8,
        metavar="N",
        help="attempts per AWS call, with adaptive backoff (default 8)",
    )
    parser.add_argument(
        "--aws-timeout",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="read timeout of one AWS call attempt (default 20)",
    )
    parser.add_argument(
        "--aws-rate-limit",
        type=float,
        default=10.0,
        metavar="PER_SECOND",
        help="IAM requests per second per AWS account, bursts of twice that (default 10; 0: off)",
    )
    parser.add_argument(
        "--account-concurrency",
        type=int,
        default=4,
        metavar="N",
        help="worker threads one AWS account may hold at once, of --workers (default 4)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=8,
        metavar="N",
        help="worker threads for AWS calls and status writes (default 8)",
    )
    parser.add_argument(
        "--drift-tick",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how often each object's timer checks whether its drift check is due",
    )
    parser.add_argument(
        "--retry-delay",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="delay before retrying after a transient AWS failure",
    )
    parser.add_argument(
        "--max-retry-delay",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="cap of the exponential backoff of blocked deletions (default 300)",
    )
    parser.add_argument(
        "--leader-elect",
        action="store_true",
        help="run as one of several replicas: only the holder of a coordination.k8s.io Lease "
        "works, the others stand by (needs get/create/update on leases in --lease-namespace)",
    )
    parser.add_argument(
        "--lease-namespace",
        metavar="NS",
        help="namespace of the Lease (default: $POD_NAMESPACE, else the in-cluster namespace, "
        "else default)",
    )
    parser.add_argument(
        "--lease-name",
        default="dynamobackup-operator",
        metavar="NAME",
        help="name of the Lease (default dynamobackup-operator); give each shard its own",
    )
    parser.add_argument(
        "--shard",
        default="0/1",
        metavar="INDEX/COUNT",
        help="own only the objects whose namespace/name hashes to INDEX of COUNT shards "
        "(default 0/1: all); run one process (or leader-elected set) per index",
    )
    parser.add_argument(
        "--health-port",
        type=int,
        default=8080,
        metavar="PORT",
        help="serve /healthz for liveness and readiness probes (0: off)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=9090,
        metavar="PORT",
        help="serve Prometheus metrics on /metrics (0: off)",
    )
    parser.add_argument(
        "--role-set-resync",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how often each DynamoBackupRoleSet is recomputed from the bindings and its "
        "children (in memory; only differences are written; default 10)",
    )
    parser.add_argument(
        "--discover-organizations",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="read AWS Organizations for DynamoBackupOrganization objects (default: on; turn "
        "off in every operator of a cluster but one)",
    )
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="info")
    parser.add_argument("--log-format", choices=("text", "json"), default="text")
    add_tenancy_arguments(parser)
    parser.set_defaults(handler=run_operator)


def add_tenancy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--require-account-bindings",
        action="store_true",
        help="refuse every DynamoBackupRole whose account no DynamoBackupAccount binds "
        "(default: only bound accounts are restricted; the Helm chart turns this on)",
    )
    parser.add_argument(
        "--operator-namespace",
        metavar="NS",
        help="the namespace of the Secrets DynamoBackupAccounts name (default: $POD_NAMESPACE, "
        "else the in-cluster namespace)",
    )
    parser.add_argument(
        "--external-id-secret-name",
        action="append",
        default=[],
        metavar="NAME",
        help="a Secret name external IDs may be read from (repeatable; default: any name the "
        "operator's RBAC allows). Give the same names the RBAC grants get on",
    )
    parser.add_argument(
        "--forbid-action",
        action="append",
        default=[],
        metavar="PATTERN",
        help="an action pattern no DynamoBackupRole may add, on top of the dangerous ones "
        "(repeatable)",
    )


def run_operator(args: argparse.Namespace) -> int:
    import kopf  # heavy, and only needed here
    from prometheus_client import REGISTRY, start_http_server

    from dynamobackup.aws.session import AwsSettings
    from dynamobackup.handlers.registry import build_registry
    from dynamobackup.handlers.runtime import OperatorConfig, Runtime
    from dynamobackup.metrics import Metrics
    from dynamobackup.reconcile.tenancy import TenancySettings
    from dynamobackup.redaction import install_log_redaction

    _check_url(args.aws_endpoint_url)
    try:
        shard = Shard.parse(args.shard)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.workers < 1 or args.account_concurrency < 1 or args.aws_rate_limit < 0:
        raise UsageError(
            "--workers and --account-concurrency must be at least 1, --aws-rate-limit at least 0"
        )
    config = OperatorConfig(
        namespaces=tuple(args.namespace),
        aws=AwsSettings(
            args.aws_endpoint_url,
            args.aws_region,
            args.aws_max_attempts,
            args.aws_timeout,
            rate_limit=args.aws_rate_limit,
            burst=2 * args.aws_rate_limit,
        ),
        workers=args.workers,
        shard=shard,
        account_concurrency=args.account_concurrency,
        drift_tick_seconds=args.drift_tick,
        retry_delay_seconds=args.retry_delay,
        max_retry_delay_seconds=args.max_retry_delay,
        health_endpoint=f"http://0.0.0.0:{args.health_port}/healthz" if args.health_port else None,
        metrics_port=args.metrics_port or None,
        tenancy=TenancySettings(
            bindings_required=args.require_account_bindings,
            operator_namespace=args.operator_namespace or _in_cluster_namespace(),
            forbidden_actions=tuple(args.forbid_action),
        ),
        external_id_secret_names=tuple(args.external_id_secret_name),
        role_set_resync_seconds=args.role_set_resync,
        discover_organizations=args.discover_organizations,
    )
    log_format = kopf.LogFormat.JSON if args.log_format == "json" else kopf.LogFormat.FULL
    # Before anything logs: every record is scrubbed of credentials and external IDs.
    install_log_redaction()
    kopf.configure(debug=args.log_level == "debug", log_format=log_format)
    logging.getLogger().setLevel(args.log_level.upper())
    logging.getLogger("kopf.objects").addFilter(_quiet_event_handler)
    logging.getLogger("aiohttp.access").addFilter(_probes_at_debug)
    # botocore logs request details at debug level; never let it near credentials.
    logging.getLogger("botocore").setLevel(logging.WARNING)
    # The kubernetes client logs response bodies at debug level: Secrets hold external IDs.
    logging.getLogger("kubernetes.client.rest").setLevel(logging.WARNING)
    # On the default registry: /metrics serves them with the process's own collectors.
    metrics = Metrics(REGISTRY)
    if config.metrics_port:
        start_http_server(config.metrics_port, registry=metrics.registry)
    runtime = Runtime(config, metrics=metrics)
    election = _elect_leader(args) if args.leader_elect else None
    try:
        kopf.run(
            registry=build_registry(runtime),
            # Not kopf's peering: the Lease above already made this the only active writer.
            standalone=True,
            clusterwide=not config.namespaces,
            namespaces=config.namespaces,
            liveness_endpoint=config.health_endpoint,
        )
    finally:
        if election is not None:
            election.release()
    return 0


def _elect_leader(args: argparse.Namespace) -> Any:
    """Blocks until this process holds the Lease; meanwhile /healthz says it stands by."""
    from kubernetes import client

    from dynamobackup.cli.standby import standby_health
    from dynamobackup.handlers.kube import api_client
    from dynamobackup.handlers.leader import LeaderElection, default_identity

    namespace = args.lease_namespace or _own_namespace()
    election = LeaderElection(
        client.CoordinationV1Api(api_client(pool_size=2)),
        namespace,
        args.lease_name,
        default_identity(),
    )
    with standby_health(args.health_port):
        election.acquire()
    election.keep_renewing()
    return election


def _in_cluster_namespace() -> str | None:
    """$POD_NAMESPACE, else the ServiceAccount's namespace; None out of a cluster."""
    if namespace := os.environ.get("POD_NAMESPACE"):
        return namespace
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or None
    except OSError:
        return None


def _own_namespace() -> str:
    return _in_cluster_namespace() or "default"


def _quiet_event_handler(record: logging.LogRecord) -> bool:
    """kopf logs at INFO every run of the handler that follows each object's watch events."""
    return not (
        record.levelno <= logging.INFO and record.getMessage() == "Handler 'follow' succeeded."
    )


def _probes_at_debug(record: logging.LogRecord) -> bool:
    """Kubelet probes /healthz every few seconds; aiohttp logs each request at INFO.

    The record is demoted to DEBUG, and dropped unless the operator logs at debug level.
    """
    if "/healthz" not in record.getMessage():
        return True
    record.levelno, record.levelname = logging.DEBUG, "DEBUG"
    return logging.getLogger().isEnabledFor(logging.DEBUG)


def _check_url(url: str | None) -> None:
    if url is None:
        return
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise UsageError(f"--aws-endpoint-url {url!r} is not an http(s) URL")
