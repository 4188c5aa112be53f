"""The human-readable `dbr check` verdict of one role: a summary line, then findings grouped with
counts. (`dbr report`, the fleet report over a cluster, is cli/report.py.)"""

from __future__ import annotations

from dynamobackup.policy.catalog import default_catalog
from dynamobackup.policy.evaluate import closest_action
from dynamobackup.policy.verdict import Verdict


def render_text(verdict: Verdict) -> str:
    lines = [_summary(verdict), _profile_line(verdict)]
    permissions = verdict.permissions
    groups = (
        ("Missing", permissions.missing, "actions the role needs and is not granted"),
        ("Denied", permissions.denied, "actions an explicit Deny blocks"),
        ("Conditional", permissions.conditional, "allowed only when conditions hold"),
        (
            "Excess",
            permissions.excess,
            "granted beyond the profile" + (" (strict)" if verdict.strict else ""),
        ),
        (
            "Dangerous",
            verdict.dangerous,
            "excess grants that change permissions or mint credentials (never compliant)",
        ),
    )
    for title, items, meaning in groups:
        if items:
            lines += ["", f"{title} ({len(items)}): {meaning}", *(f"  - {item}" for item in items)]
    if verdict.unknown:
        lines += [
            "",
            f"Unknown ({len(verdict.unknown)}): actions AWS does not have; they grant nothing",
            *(f"  - {_unknown_line(action)}" for action in verdict.unknown),
        ]
    if verdict.trust is not None and verdict.trust.findings:
        findings = verdict.trust.findings
        lines += ["", f"Trust findings ({len(findings)}):"]
        lines += [f"  {f.severity:<7} {f.code.value}: {f.message}" for f in findings]
    return "\n".join(lines)


def _unknown_line(action: str) -> str:
    suggestion = closest_action(action, default_catalog())
    hint = f"; did you mean {suggestion}?" if suggestion else ""
    return f"{action} (UnknownAction: not in AWS's action catalog{hint})"


def _summary(verdict: Verdict) -> str:
    p = verdict.permissions
    state = "COMPLIANT" if verdict.compliant else "NOT COMPLIANT"
    counts = (
        f"{len(p.allowed)}/{len(verdict.required_actions)} actions allowed, {len(p.missing)} missing, "
        f"{len(p.denied)} denied, {len(p.conditional)} conditional, {len(p.excess)} excess"
    )
    if verdict.trust is None:
        return f"{state}: {counts}; trust not checked"
    errors = sum(f.severity == "error" for f in verdict.trust.findings)
    warnings = len(verdict.trust.findings) - errors
    return f"{state}: {counts}; trust: {_count(errors, 'error')}, {_count(warnings, 'warning')}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _profile_line(verdict: Verdict) -> str:
    operations = ", ".join(verdict.operations)
    return f"Profile: {verdict.profile.product} {verdict.profile.version} ({operations})"
