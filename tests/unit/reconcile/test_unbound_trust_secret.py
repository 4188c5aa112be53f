"""Without any account binding, the trust policy's external ID still comes from the role's
Secret: a role that names one never falls back to a spec value it does not have."""

from __future__ import annotations

from dynamobackup.reconcile.tenancy import (
    AccountAccess,
    Admission,
    Grant,
    SecretRef,
    TenancySettings,
    admit,
    grant,
    secrets_needed,
)

from .conftest import APPLIANCE, make_spec

ACCESS = "arn:aws:iam::123456789012:role/dynamobackup-operator"


def test_an_unbound_role_takes_its_trust_external_id_from_its_own_secret() -> None:
    spec = make_spec(
        account={"id": "123456789012", "assumeRoleArn": ACCESS},
        trust={
            "applianceRoleArn": APPLIANCE,
            "externalId": None,
            "externalIdSecretRef": {"name": "veeam", "key": "external-id"},
        },
    )
    admitted = admit(spec, "team-a", {}, [], TenancySettings())
    secret = SecretRef("team-a", "veeam", "external-id")
    assert isinstance(admitted, Admission)
    assert secrets_needed(admitted) == (secret,)
    assert grant(admitted, spec, {secret: "from-the-secret"}) == Grant(
        AccountAccess("123456789012", "aws", ACCESS, None), "from-the-secret", admitted.guardrails
    )
