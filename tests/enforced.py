"""The IAM role as Enforce leaves it, built from a `DesiredRole`: one builder for every tier.

Tests that need "a compliant role, then one thing changed" start here, so the meaning of
"as enforced" (trust, permissions by delivery, settings, tags) is written once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from dynamobackup.policy.document import PolicyDocument
from dynamobackup.reconcile.desired import INLINE_POLICY_NAME, MANAGED_POLICY_PATH, DesiredRole
from dynamobackup.reconcile.observed import ObservedDocument, ObservedManagedPolicy, ObservedRole

Spelling = Callable[[PolicyDocument], ObservedDocument]


def enforced_role(
    desired: DesiredRole, *, spelling: Spelling = ObservedDocument, **changes: Any
) -> ObservedRole:
    """The role Enforce leaves for `desired`, its documents read back through `spelling` (as
    written by default), with `changes` applied last."""
    attached: tuple[ObservedManagedPolicy, ...] = ()
    inline: dict[str, ObservedDocument] = {}
    if str(desired.delivery) == "Managed":
        attached = tuple(
            ObservedManagedPolicy(
                arn=desired.managed_policy_arn(i),
                name=desired.managed_policy_name(i),
                path=MANAGED_POLICY_PATH,
                document=spelling(document),
                tags=desired.owner.tags(),
            )
            for i, document in enumerate(desired.permissions, start=1)
        )
    else:
        inline = {INLINE_POLICY_NAME: spelling(desired.permissions[0])}
    role = ObservedRole(
        arn=desired.arn,
        role_id="AROAEXAMPLEEXAMPLE123",
        name=desired.name,
        path=desired.path,
        description=desired.settings.description,
        max_session_duration=desired.settings.max_session_duration,
        permissions_boundary_arn=desired.settings.permissions_boundary_arn,
        tags=dict(desired.role_tags),
        trust=spelling(desired.trust),
        inline_policies=inline,
        attached_policies=attached,
    )
    return replace(role, **changes)
