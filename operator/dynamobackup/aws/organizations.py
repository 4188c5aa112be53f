"""Reading an AWS Organization: its accounts, where each sits in the OU tree, and their tags.

Calls per read: DescribeOrganization, ListRoots, ListAccounts (20 accounts a page), per root or
OU one ListOrganizationalUnitsForParent and one ListChildren, and, when tags are wanted, one
ListTagsForResource per account. Every call is read-only; all of them work from the management
account or a delegated administrator.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from dynamobackup.aws.calls import counting
from dynamobackup.aws.errors import describe_failure
from dynamobackup.aws.session import AccountAccessError, SessionProvider
from dynamobackup.reconcile.discovery import MemberAccount, OrganizationSnapshot, OrgUnit
from dynamobackup.reconcile.outcome import Failure
from dynamobackup.reconcile.tenancy import AccountAccess


def read_organization(
    sessions: SessionProvider, access: AccountAccess, read_tags: bool
) -> tuple[OrganizationSnapshot | Failure, int]:
    """The organisation as the account `access` sees it, and the number of AWS calls made."""
    with counting() as log:
        try:
            client = sessions.client_for(access, "organizations")
            snapshot: OrganizationSnapshot | Failure = _read(client, read_tags)
        except AccountAccessError as error:
            snapshot = error.failure
        except Exception as error:  # the error boundary: see aws.errors
            snapshot = describe_failure(error, access.id, "reading the organisation")
    return snapshot, log.calls


def _read(client: Any, read_tags: bool) -> OrganizationSnapshot:
    organization = client.describe_organization()["Organization"]["Id"]
    accounts = {
        account["Id"]: account
        for page in client.get_paginator("list_accounts").paginate()
        for account in page["Accounts"]
    }
    paths = _account_paths(client)
    members = []
    for account_id, account in sorted(accounts.items()):
        tags = _tags(client, account_id) if read_tags else {}
        members.append(
            MemberAccount(
                id=account_id,
                name=str(account.get("Name", "")),
                status=str(account.get("Status", "ACTIVE")),
                path=paths.get(account_id, ()),
                tags=tags,
            )
        )
    return OrganizationSnapshot(str(organization), tuple(members))


def _account_paths(client: Any) -> dict[str, tuple[OrgUnit, ...]]:
    """Account ID -> the roots and OUs above it, walking the tree breadth first."""
    pending: deque[tuple[OrgUnit, ...]] = deque(
        (OrgUnit(root["Id"], root.get("Name", "Root")),)
        for page in client.get_paginator("list_roots").paginate()
        for root in page["Roots"]
    )
    paths: dict[str, tuple[OrgUnit, ...]] = {}
    while pending:
        path = pending.popleft()
        parent = path[-1].id
        for page in client.get_paginator("list_organizational_units_for_parent").paginate(
            ParentId=parent
        ):
            pending.extend(
                (*path, OrgUnit(ou["Id"], ou.get("Name", ou["Id"])))
                for ou in page["OrganizationalUnits"]
            )
        for page in client.get_paginator("list_children").paginate(
            ParentId=parent, ChildType="ACCOUNT"
        ):
            for child in page["Children"]:
                paths[child["Id"]] = path
    return paths


def _tags(client: Any, account_id: str) -> dict[str, str]:
    return {
        tag["Key"]: tag["Value"]
        for page in client.get_paginator("list_tags_for_resource").paginate(ResourceId=account_id)
        for tag in page["Tags"]
    }
