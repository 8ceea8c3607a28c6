"""axe-core (the web UI's dev dependency) run in a page: its accessibility rule violations."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

from .tabs import REPO

AXE_SCRIPT = REPO / "services" / "gateway" / "web" / "node_modules" / "axe-core" / "axe.min.js"
# Impacts that fail a test, and rules of lesser impact that fail it too (a level-one heading on every
# page, all content in landmarks); other "minor" and "moderate" ones are printed only.
BLOCKING = ("serious", "critical")
BLOCKING_RULES = ("page-has-heading-one", "region")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Every violation axe finds in the page as it is now: rule id, impact, help and the offending nodes."""
    assert AXE_SCRIPT.is_file(), f"{AXE_SCRIPT} is missing: run `npm ci` in services/gateway/web"
    if not page.evaluate("() => 'axe' in window"):
        # Evaluated, not added as a <script>: the app's Content-Security-Policy forbids inline scripts.
        page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8"))
    found = page.evaluate("async () => (await axe.run(document, { resultTypes: ['violations'] })).violations")
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "nodes": [
                {"target": node["target"], "summary": node.get("failureSummary", "")}
                for node in violation["nodes"]
            ],
        }
        for violation in found
    ]


def blocking(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        violation
        for violation in violations
        if violation["impact"] in BLOCKING or violation["id"] in BLOCKING_RULES
    ]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['impact']}: {violation['id']} ({violation['help']})")
        for node in violation["nodes"]:
            lines.append(f"    {node['target']}: {node['summary']}".replace("\n", " "))
    return "\n".join(lines)
