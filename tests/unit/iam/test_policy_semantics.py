"""What docs/iam/ lets the operator do, judged on real ARNs and tags (moto cannot judge these).

Every plan the reconcile layer makes is replayed change by change against the target-account policy,
with the role's tags as they are at that step, so a policy that looks right but refuses step three of
a real plan fails here.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

import pytest

from dynamobackup.api.v1alpha1 import DynamoBackupRoleSpec
from dynamobackup.reconcile import plan as p
from dynamobackup.reconcile.desired import INLINE_POLICY_NAME, DesiredRole, desired_role
from dynamobackup.reconcile.observed import ObservedDocument, ObservedManagedPolicy, ObservedRole
from dynamobackup.reconcile.ownership import (
    MANAGED_BY_TAG,
    MANAGED_BY_VALUE,
    NAME_TAG,
    NAMESPACE_TAG,
    Owner,
)
from enforced import enforced_role

from .simulator import Decision, Request, decide, load

ACCOUNT = "111122223333"
MANAGEMENT_ACCOUNT = "999988887777"
OWNER = Owner("team-a", "backup-role")
ROLE = f"arn:aws:iam::{ACCOUNT}:role/veeam-backup"
OWN_POLICY = f"arn:aws:iam::{ACCOUNT}:policy/dynamobackup/veeam-backup-dynamobackup-1"
OPERATOR_ROLE = f"arn:aws:iam::{ACCOUNT}:role/dynamobackup-operator"
ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
OWNED = {f"aws:ResourceTag/{MANAGED_BY_TAG}": MANAGED_BY_VALUE}
OWNERSHIP_REQUEST = {f"aws:RequestTag/{MANAGED_BY_TAG}": MANAGED_BY_VALUE}

TARGET = load("operator-target-account.json")
MANAGEMENT = load("operator-management-account.json")


def allowed(policy: Mapping[str, Any], request: Request) -> bool:
    return decide(policy, request) is Decision.ALLOWED


@pytest.mark.parametrize(
    "request_",
    [
        Request("iam:GetRole", ROLE),  # any role is read, owned or not
        Request("iam:GetPolicyVersion", ADMIN_POLICY),  # attached AWS managed policies are read
        Request("iam:CreateRole", ROLE, OWNERSHIP_REQUEST),
        Request("iam:TagRole", ROLE, OWNERSHIP_REQUEST),  # tag-on-create, and adoption
        Request("iam:TagRole", ROLE, {**OWNED, "aws:RequestTag/team": "x"}),
        Request("iam:PutRolePolicy", ROLE, OWNED),
        Request("iam:DetachRolePolicy", ROLE, {**OWNED, "iam:PolicyARN": ADMIN_POLICY}),
        Request("iam:AttachRolePolicy", ROLE, {**OWNED, "iam:PolicyARN": OWN_POLICY}),
        Request("iam:CreatePolicy", OWN_POLICY),
        Request("iam:DeletePolicy", OWN_POLICY),
    ],
    ids=str,
)
def test_the_target_policy_allows(request_: Request) -> None:
    assert allowed(TARGET, request_)


@pytest.mark.parametrize(
    "request_",
    [
        Request("iam:PutRolePolicy", ROLE),  # a role the operator does not own
        Request("iam:DeleteRole", ROLE, {f"aws:ResourceTag/{MANAGED_BY_TAG}": "someone-else"}),
        Request("iam:CreateRole", ROLE),  # a role created without the ownership tag
        Request("iam:TagRole", ROLE, {f"aws:RequestTag/{MANAGED_BY_TAG}": "someone-else"}),
        Request("iam:AttachRolePolicy", ROLE, {**OWNED, "iam:PolicyARN": ADMIN_POLICY}),
        Request("iam:CreatePolicy", f"arn:aws:iam::{ACCOUNT}:policy/anything"),
        Request("iam:CreatePolicyVersion", f"arn:aws:iam::{ACCOUNT}:policy/ops/admin"),
        Request("iam:PutRolePolicy", OPERATOR_ROLE, OWNED),  # never itself, even if tagged
        Request("iam:TagRole", OPERATOR_ROLE, OWNERSHIP_REQUEST),
        Request("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/x", OWNERSHIP_REQUEST),
        Request("sts:AssumeRole", OPERATOR_ROLE),  # the target role does not chain further
    ],
    ids=str,
)
def test_the_target_policy_refuses(request_: Request) -> None:
    assert not allowed(TARGET, request_)


def test_the_management_policy_assumes_only_operator_roles() -> None:
    assert allowed(MANAGEMENT, Request("sts:AssumeRole", OPERATOR_ROLE))
    assert allowed(MANAGEMENT, Request("sts:GetCallerIdentity", "*"))
    assert not allowed(MANAGEMENT, Request("sts:AssumeRole", ROLE))


def test_the_trust_policy_admits_the_operator_with_the_external_id_only() -> None:
    trust = _trust(MANAGEMENT_ACCOUNT, "operator-ext")
    operator = f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:role/dynamobackup-operator"

    def assume(principal: str, **context: str) -> bool:
        return allowed(trust, Request("sts:AssumeRole", OPERATOR_ROLE, context, principal))

    assert assume(operator, **{"sts:ExternalId": "operator-ext"})
    assert not assume(operator, **{"sts:ExternalId": "guess"})
    assert not assume(operator)
    assert not assume(f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:role/other", **{"sts:ExternalId": "x"})


def untag(policy: Mapping[str, Any], *keys: str) -> Decision:
    """UntagRole of `keys` on a role the operator owns."""
    return decide(policy, Request("iam:UntagRole", ROLE, {**OWNED, "aws:TagKeys": keys}))


@pytest.mark.parametrize("name", ["target", "management"])
@pytest.mark.parametrize(
    "keys",
    [
        (MANAGED_BY_TAG,),
        (NAMESPACE_TAG,),
        (NAME_TAG,),
        ("dynamobackup.io/owner",),  # any key under the prefix, not only today's three
        ("team", MANAGED_BY_TAG),  # one ownership key among others is enough
    ],
    ids=",".join,
)
def test_the_policies_refuse_removing_an_ownership_tag(name: str, keys: tuple[str, ...]) -> None:
    policy = TARGET if name == "target" else MANAGEMENT
    assert untag(policy, *keys) is Decision.EXPLICIT_DENY


@pytest.mark.parametrize("name", ["target", "management"])
def test_the_policies_still_allow_removing_other_tags_of_an_owned_role(name: str) -> None:
    policy = TARGET if name == "target" else MANAGEMENT
    assert untag(policy, "team") is Decision.ALLOWED
    assert untag(policy, "team", "cost-center") is Decision.ALLOWED
    # Still only on roles the operator owns.
    unowned = Request("iam:UntagRole", ROLE, {"aws:TagKeys": ("team",)})
    assert decide(policy, unowned) is Decision.IMPLICIT_DENY


def _trust(management_account: str, external_id: str) -> dict[str, Any]:
    """The shipped trust policy with its two placeholders filled in, as docs/iam/README.md says."""
    document = load("target-account-trust.json")
    statement = document["Statement"][0]
    principal = statement["Principal"]["AWS"].replace("MANAGEMENT_ACCOUNT_ID", management_account)
    statement["Principal"]["AWS"] = principal
    statement["Condition"]["StringEquals"]["sts:ExternalId"] = external_id
    return document


# -- every plan, step by step ------------------------------------------------------------------


def spec(**overrides: Any) -> DesiredRole:
    base: dict[str, Any] = {
        "account": {"id": ACCOUNT},
        "roleName": "veeam-backup",
        "scope": {"operations": ["BackupPolicy"]},
        "trust": {"applianceRoleArn": "arn:aws:iam::444455556666:role/Veeam"},
        "tags": {"team": "storage"},
    }
    return desired_role(DynamoBackupRoleSpec.parse({**base, **overrides}), OWNER)


def as_enforced(desired: DesiredRole, **changes: Any) -> ObservedRole:
    """The role as Enforce leaves it (inline delivery), with `changes` applied."""
    return enforced_role(desired, **changes)


def own_managed(desired: DesiredRole) -> ObservedManagedPolicy:
    return ObservedManagedPolicy(
        arn=desired.managed_policy_arn(1),
        name=desired.managed_policy_name(1),
        path="/dynamobackup/",
        document=ObservedDocument(desired.permissions[0]),
        tags=desired.owner.tags(),
    )


def foreign_managed() -> ObservedManagedPolicy:
    return replace(own_managed(spec()), arn=ADMIN_POLICY, name="AdministratorAccess", path="/")


def requests_for(change: p.Change, role_arn: str, tags: Mapping[str, str]) -> Iterator[Request]:
    """The authorizations IAM performs for one change, given the role's tags before it."""
    on_role = {f"aws:ResourceTag/{k}": v for k, v in tags.items()}
    if isinstance(change, p.CreateRole | p.CreatePolicy):
        arn = role_arn if isinstance(change, p.CreateRole) else change.arn
        requested = _requested_tags(change.tags)
        yield Request(f"iam:{change.operation}", arn, requested)
        yield Request("iam:TagRole" if arn == role_arn else "iam:TagPolicy", arn, requested)
    elif isinstance(change, p.TagRole):
        yield Request("iam:TagRole", role_arn, {**on_role, **_requested_tags(change.tags)})
    elif isinstance(change, p.UntagRole):
        yield Request("iam:UntagRole", role_arn, {**on_role, "aws:TagKeys": tuple(change.keys)})
    elif isinstance(change, p.AttachRolePolicy | p.DetachRolePolicy):
        yield Request(
            f"iam:{change.operation}", role_arn, {**on_role, "iam:PolicyARN": change.policy_arn}
        )
    elif isinstance(change, p.CreatePolicyVersion | p.DeletePolicy):
        # Publishing prunes old versions; deleting removes the versions first (apply.py).
        for action in ("ListPolicyVersions", "DeletePolicyVersion", change.operation):
            yield Request(f"iam:{action}", change.policy_arn)
    elif isinstance(change, p.DeletePolicyVersion):
        yield Request("iam:DeletePolicyVersion", change.policy_arn)
    else:
        yield Request(f"iam:{change.operation}", role_arn, on_role)


def _requested_tags(tags: Mapping[str, str]) -> dict[str, str | tuple[str, ...]]:
    requested: dict[str, str | tuple[str, ...]] = {
        f"aws:RequestTag/{k}": v for k, v in tags.items()
    }
    requested["aws:TagKeys"] = tuple(tags)
    return requested


def test_requests_for_knows_every_kind_of_change() -> None:
    kinds = set(typing.get_args(p.Change))
    simple = {p.UpdateAssumeRolePolicy, p.UpdateRole, p.PutRolePermissionsBoundary}
    simple |= {p.DeleteRolePermissionsBoundary, p.PutRolePolicy, p.DeleteRolePolicy, p.DeleteRole}
    special = {p.CreateRole, p.CreatePolicy, p.TagRole, p.UntagRole}
    special |= {p.AttachRolePolicy, p.DetachRolePolicy}
    special |= {p.CreatePolicyVersion, p.DeletePolicyVersion, p.DeletePolicy}
    # A new kind of change needs a decision here about the authorizations it performs.
    assert kinds == simple | special


def refusals(changes: tuple[p.Change, ...], role: ObservedRole | None, arn: str) -> list[str]:
    """Each authorization the target policy refuses while applying `changes` in order."""
    tags = dict(role.tags) if role else {}
    refused = []
    for change in changes:
        for request in requests_for(change, arn, tags):
            decision = decide(TARGET, request)
            if decision is not Decision.ALLOWED:
                refused.append(f"{change.operation}: {request} is {decision.value}")
        if isinstance(change, p.CreateRole | p.TagRole):
            tags.update(change.tags)
        if isinstance(change, p.UntagRole):
            tags = {k: v for k, v in tags.items() if k not in change.keys}
    return refused


def observation_requests(role: ObservedRole) -> Iterator[Request]:
    for action in ("GetRole", "ListRolePolicies", "GetRolePolicy", "ListAttachedRolePolicies"):
        yield Request(f"iam:{action}", role.arn)
    yield Request("iam:ListInstanceProfilesForRole", role.arn)
    for policy in role.attached_policies:
        yield Request("iam:GetPolicy", policy.arn)
        yield Request("iam:GetPolicyVersion", policy.arn)


ENFORCE_CASES = {
    "create inline": (spec(), None),
    "create managed": (spec(permissions={"delivery": "Managed"}), None),
    "create with a boundary": (
        spec(permissionsBoundaryArn=f"arn:aws:iam::{ACCOUNT}:policy/boundary"),
        None,
    ),
    "repair trust, settings, tags and permissions": (
        spec(),
        as_enforced(
            spec(),
            trust=ObservedDocument(spec(trust={"applianceAccountId": "777788889999"}).trust),
            description="changed by hand",
            tags=OWNER.tags(),
            inline_policies={},
        ),
    ),
    "migrate to managed delivery": (spec(permissions={"delivery": "Managed"}), as_enforced(spec())),
    "publish a new managed version": (
        spec(permissions={"delivery": "Managed"}, scope={"operations": ["Restore"]}),
        as_enforced(spec(), inline_policies={}, attached_policies=(own_managed(spec()),)),
    ),
    "exclusive removes foreign policies": (
        spec(permissions={"exclusive": True}),
        as_enforced(
            spec(),
            inline_policies={
                INLINE_POLICY_NAME: ObservedDocument(spec().permissions[0]),
                "by-hand": ObservedDocument(spec().permissions[0]),
            },
            attached_policies=(foreign_managed(),),
        ),
    ),
    "set a boundary": (
        spec(permissionsBoundaryArn=f"arn:aws:iam::{ACCOUNT}:policy/boundary"),
        as_enforced(spec()),
    ),
    "drop the boundary": (spec(), as_enforced(spec(), permissions_boundary_arn=ADMIN_POLICY)),
    "untag a tag the spec dropped": (
        replace(spec(), managed_tag_keys=frozenset({"team", "old"})),
        as_enforced(spec(), tags={**spec().role_tags, "old": "x"}),
    ),
}


@pytest.mark.parametrize("case", ENFORCE_CASES)
def test_every_step_of_an_enforce_plan_is_allowed(case: str) -> None:
    desired, role = ENFORCE_CASES[case]
    assert p.blocker(desired, role) is None
    changes = p.plan_changes(desired, role).changes
    assert changes, "the case should need changes"
    assert refusals(changes, role, desired.arn) == []
    if role is not None:
        assert all(allowed(TARGET, r) for r in observation_requests(role))


def test_every_step_of_a_deletion_is_allowed() -> None:
    desired = spec(permissions={"delivery": "Managed"}, deletionPolicy="Delete")
    role = as_enforced(
        desired, attached_policies=(own_managed(desired), foreign_managed()), inline_policies={}
    )
    changes = p.plan_deletion(desired, role).changes
    assert {type(c) for c in changes} >= {p.DetachRolePolicy, p.DeletePolicy, p.DeleteRole}
    assert refusals(changes, role, desired.arn) == []


def test_every_step_of_an_adoption_is_allowed() -> None:
    desired = spec(adoptExisting=True)
    unowned = as_enforced(
        desired,
        trust=ObservedDocument(spec(trust={"applianceAccountId": "777788889999"}).trust),
        tags={},
    )
    changes = p.plan_changes(desired, unowned).changes
    assert refusals(changes, unowned, desired.arn) == []
