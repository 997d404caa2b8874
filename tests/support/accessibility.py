"""axe-core in Chromium (axe-playwright-python ships the script; nothing is downloaded): the
automated accessibility check every hosted page passes (issue 9 §7, WCAG 2.x A and AA rules)."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe

BLOCKING = {"serious", "critical"}
# WCAG 2.0-2.2 A and AA, and axe's best practices (landmarks, headings, skip link).
OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}

_axe = Axe()


def accessibility_problems(page: Any) -> list[str]:
    """The serious and critical violations on the page as it is now, one line each."""
    results = _axe.run(page, options=OPTIONS)
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(str(node["target"]) for node in violation["nodes"][:3])
        for violation in results.response["violations"]
        if violation.get("impact") in BLOCKING
    ]


def assert_accessible(page: Any) -> None:
    problems = accessibility_problems(page)
    assert not problems, f"{page.url}:\n" + "\n".join(problems)
