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
# axe judges colours as they are painted: an element caught halfway through a fade (a toast leaving, a
# dialog arriving) has a fraction of its contrast. Finite animations are let finish first (for at most
# a few seconds; endless spinners and shimmer are not waited for), and while axe runs nothing starts to
# fade: a toast whose time runs out meanwhile goes at once instead of being measured half gone.
SETTLE_AND_FREEZE = """async () => {
    const finite = document.getAnimations().filter(
        (animation) => animation.effect?.getComputedTiming().endTime !== Infinity);
    const settled = Promise.all(finite.map((animation) => animation.finished.catch(() => null)));
    await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, 5000))]);
    const still = new CSSStyleSheet();
    still.replaceSync('*, *::before, *::after { transition: none !important; '
        + 'animation-duration: 0s !important; animation-delay: 0s !important; }');
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, still];
    window.__axeStill = still;
}"""
THAW = """() => {
    document.adoptedStyleSheets = document.adoptedStyleSheets.filter((sheet) => sheet !== window.__axeStill);
}"""


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Every violation axe finds in the page as it is now: rule id, impact, help and the offending nodes."""
    assert AXE_SCRIPT.is_file(), f"{AXE_SCRIPT} is missing: run `npm ci` in services/gateway/web"
    if not page.evaluate("() => 'axe' in window"):
        # Evaluated, not added as a <script>: the app's Content-Security-Policy forbids inline scripts.
        page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8"))
    page.evaluate(SETTLE_AND_FREEZE)
    try:
        found = page.evaluate(
            "async () => (await axe.run(document, { resultTypes: ['violations'] })).violations"
        )
    finally:
        page.evaluate(THAW)
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
