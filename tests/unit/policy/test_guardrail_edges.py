"""Which additionalActions entries a DynamoBackupRole is refused, at the edges of the rules:
patterns AWS has no action for yet, and the `*` line of the dangerous definition."""

from __future__ import annotations

from dynamobackup.policy.catalog import default_catalog
from dynamobackup.policy.guardrails import Guardrails
from dynamobackup.policy.profiles import load_profile

PROFILE = load_profile().required_actions(["BackupPolicy"])
CATALOG = default_catalog()


def test_a_forbidden_pattern_refuses_entries_it_covers_that_aws_has_no_action_for_yet() -> None:
    guardrails = Guardrails(forbidden=("s3:Delete*",))
    entries = ["s3:DeleteFuture*", "s3:DeleteObjectsSoon", "s3:*", "s3:GetObject", "ec2:Describe*"]
    assert guardrails.refused(entries, PROFILE, CATALOG) == (
        "s3:*",
        "s3:DeleteFuture*",
        "s3:DeleteObjectsSoon",
    )


def test_the_every_service_line_of_the_definition_names_no_service() -> None:
    # `"*": [Permissions management]` applies to every service; it is not a service called `*`
    # whose future actions a service wildcard could grant. `?` matches one-letter services (`q`,
    # which has no Future* action) and `??` two-letter ones, none of them dangerous.
    entries = ["?:Future*", "??:Future*", "iam:Future*"]
    assert Guardrails().refused(entries, PROFILE, CATALOG) == ("iam:Future*",)


def test_a_dangerous_services_wildcard_is_refused_whatever_follows_its_first_colon() -> None:
    assert Guardrails().refused(["iam:Future:*"], PROFILE, CATALOG) == ("iam:Future:*",)


def test_refused_entries_are_listed_in_case_insensitive_order() -> None:
    entries = ["sts:AssumeRole", "KMS:CreateKey", "s3:GetObject", "iam:CreateUser"]
    assert Guardrails().refused(entries, PROFILE, CATALOG) == (
        "iam:CreateUser",
        "KMS:CreateKey",
        "sts:AssumeRole",
    )


def test_what_a_profile_wildcard_already_grants_is_never_refused() -> None:
    profile = (*PROFILE, "iam:*")
    assert Guardrails().refused(["iam:CreateUser", "IAM:Get*"], profile, CATALOG) == ()
