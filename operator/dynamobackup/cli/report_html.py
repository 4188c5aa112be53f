"""The fleet report as one self-contained HTML page: inline CSS, no script, no external asset, so
it can be mailed, archived or opened from a file share as it is.

Each grid cell carries data-account, data-operation and data-verdict: the browser test reads the
verdicts from there, and so can anyone scripting against the page.
"""

from __future__ import annotations

from html import escape

from dynamobackup.cli.report import age
from dynamobackup.reconcile.fleet import CellVerdict, FleetReport

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1b1f24;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#57606a}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.card{border:1px solid #d0d7de;border-radius:6px;padding:8px 14px;min-width:110px}
.card b{display:block;font-size:22px}
table{border-collapse:collapse}th,td{border:1px solid #d0d7de;padding:4px 10px;text-align:left}
th{background:#f6f8fa}
td.cell{text-align:center;font-weight:600;min-width:110px}
.ready{background:#dafbe1;color:#116329}.missing{background:#ffebe9;color:#a40e26}
.failing{background:#fff1e5;color:#953800}.unknown{background:#eaeef2;color:#57606a}
.none{background:#fff;color:#8c959f}
.bar{display:inline-block;height:10px;background:#cf222e;vertical-align:middle}
.error{color:#a40e26;font-weight:600}.warning{color:#953800}
"""

LABELS = {
    CellVerdict.READY: "ready",
    CellVerdict.MISSING: "missing",
    CellVerdict.FAILING: "failing",
    CellVerdict.UNKNOWN: "not checked",
    CellVerdict.NONE: "no role",
}


def render_html(report: FleetReport) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>DynamoDB backup roles: fleet compliance</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>DynamoDB backup roles: fleet compliance</h1>",
        f'<p class="meta">Generated {escape(report.generated_at.isoformat(timespec="seconds"))} '
        "by dbr report.</p>",
        _cards(report),
        _grid(report),
        _most_missing(report),
        _trust(report),
        _roles(report),
        _sets(report),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _cards(report: FleetReport) -> str:
    c = report.counts
    items = (
        ("Accounts", c["accounts"]),
        ("Roles", c["roles"]),
        ("Compliant", c["compliant"]),
        ("Not compliant", c["notCompliant"]),
        ("Failing", c["failing"]),
        ("Not checked", c["unknown"]),
        ("Trust errors", c["trustErrors"]),
    )
    cards = "".join(
        f'<div class="card">{escape(name)}<b>{value}</b></div>' for name, value in items
    )
    return f'<div class="cards" id="summary">{cards}</div>'


def _grid(report: FleetReport) -> str:
    head = "".join(f"<th>{escape(op)}</th>" for op in report.operations)
    rows = []
    for account, cells in report.grid.items():
        tds = "".join(
            f'<td class="cell {v.value}" data-account="{escape(account)}" '
            f'data-operation="{escape(op)}" data-verdict="{v.value}">{LABELS[v]}</td>'
            for op, v in cells.items()
        )
        rows.append(f"<tr><th>{escape(account)}</th>{tds}</tr>")
    body = "".join(rows) or f'<tr><td colspan="{len(report.operations) + 1}">no roles</td></tr>'
    return (
        "<h2>Accounts x operations</h2>"
        '<p class="meta">ready: a role in the account has every action of the operation and a '
        "trust policy without errors; missing: it lacks some; failing: the operator could not "
        "check it; no role: no role there serves the operation.</p>"
        f'<table id="grid"><thead><tr><th>Account</th>{head}</tr></thead><tbody>{body}</tbody></table>'
    )


def _most_missing(report: FleetReport) -> str:
    if not report.most_missing:
        return '<h2>Most-missing actions</h2><p id="most-missing">No role misses an action.</p>'
    top = report.most_missing[0][1]
    rows = "".join(
        f"<tr><td><code>{escape(action)}</code></td><td>{count}</td>"
        f'<td><span class="bar" style="width:{max(4, 200 * count // top)}px"></span></td></tr>'
        for action, count in report.most_missing
    )
    return (
        "<h2>Most-missing actions</h2>"
        f'<table id="most-missing"><tr><th>Action</th><th>Roles</th><th></th></tr>{rows}</table>'
    )


def _trust(report: FleetReport) -> str:
    findings = report.trust_findings
    if not findings:
        return '<h2>Trust findings</h2><p id="trust">No trust finding.</p>'
    rows = "".join(
        f"<tr><td>{escape(row.account_id)}</td><td>{escape(row.namespace)}/{escape(row.name)}</td>"
        f'<td class="{escape(f.severity)}">{escape(f.severity)}</td><td>{escape(f.code)}</td>'
        f"<td>{escape(f.message)}</td></tr>"
        for row, f in findings
    )
    return (
        '<h2>Trust findings</h2><table id="trust"><tr><th>Account</th><th>Role</th>'
        f"<th>Severity</th><th>Code</th><th>Message</th></tr>{rows}</table>"
    )


def _roles(report: FleetReport) -> str:
    rows = "".join(
        f"<tr><td>{escape(r.account_id)}</td><td>{escape(r.namespace)}/{escape(r.name)}</td>"
        f"<td>{escape(r.role_set or '-')}</td><td>{escape(r.mode)}</td>"
        f'<td data-state="{escape(r.state)}">{escape(r.state)}</td>'
        f"<td>{escape(r.reason or '-')}</td><td>{len(r.missing) + len(r.denied)}</td>"
        f'<td data-age="{escape(age(r.age_seconds(report.generated_at)))}">'
        f"{escape(age(r.age_seconds(report.generated_at)))}</td></tr>"
        for r in report.roles
    )
    return (
        '<h2>Roles</h2><table id="roles"><tr><th>Account</th><th>Role</th><th>Set</th>'
        "<th>Mode</th><th>State</th><th>Reason</th><th>Missing</th><th>Last check</th></tr>"
        f"{rows}</table>"
    )


def _sets(report: FleetReport) -> str:
    if not report.sets:
        return ""
    rows = "".join(
        f"<tr><td>{escape(s.namespace)}/{escape(s.name)}</td><td>{escape(s.role_name)}</td>"
        f"<td>{s.selected}</td><td>{s.ready}</td><td>{s.compliant}</td><td>{s.non_compliant}</td>"
        f"<td>{s.failing}</td><td>{escape(s.reason or '-')}</td></tr>"
        for s in report.sets
    )
    return (
        '<h2>Role sets</h2><table id="sets"><tr><th>Set</th><th>Role</th><th>Selected</th>'
        "<th>Ready</th><th>Compliant</th><th>Not compliant</th><th>Failing</th><th>Status</th>"
        f"</tr>{rows}</table>"
    )
