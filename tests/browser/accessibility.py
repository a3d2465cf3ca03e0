"""axe-core on a page, and the summary of every page checked in this run.

axe-core is the copy packaged in axe-playwright-python (injected into the page; nothing is
fetched). :func:`audit` counts the violations by impact and returns those of impact serious
or critical as readable lines (rule, impact, targets); :func:`write_summary` prints the table
of every page audited so far (page -> violations by impact) into var/browser/axe-summary.txt.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

FAILING = ("serious", "critical")
IMPACTS = ("critical", "serious", "moderate", "minor")
SUMMARY = Path(__file__).parents[2] / "var" / "browser" / "axe-summary.txt"

AXE = Axe()
#: role -> page label -> violations (nodes) by impact, for every page audited in this process.
summary: dict[str, dict[str, Counter[str]]] = {}


def audit(page: Page, label: str, role: str) -> list[str]:
    """axe on the page as it is; returns the failing violations as readable lines."""
    results = AXE.run(page).response
    counts: Counter[str] = Counter()
    failing = []
    for violation in results["violations"]:
        impact = violation["impact"] or "minor"
        counts[impact] += len(violation["nodes"])
        if impact in FAILING:
            targets = "; ".join(", ".join(node["target"]) for node in violation["nodes"][:5])
            failing.append(f"{label}: {violation['id']} ({impact}) at {targets}")
    summary.setdefault(role, {})[label] = counts
    return failing


def write_summary() -> str:
    lines = [f"{'page':<70} " + " ".join(f"{i:>8}" for i in IMPACTS)]
    for role, pages in sorted(summary.items()):
        lines.append(f"[{role}]")
        for label, counts in pages.items():
            lines.append(f"{label[:70]:<70} " + " ".join(f"{counts[i]:>8}" for i in IMPACTS))
    text = "\n".join(lines)
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text(text + "\n")
    return text
