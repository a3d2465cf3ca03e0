"""Screenshots of the main pages at 1280x800 into docs/screenshots/ (README's pictures).

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--seed 11]

Serves the application on 127.0.0.1 over a small generated world (the browser tests' live
site: ``tests/browser/site.py``), signs each role in through the real form in the
distribution's Chromium (``scripts/ensure-chromium.sh``), prepares a proposal with consent
through the JSON API so the employer's proposals page has one, and saves one PNG per page.
Nothing leaves 127.0.0.1: any other request is aborted and the script fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from features.world_store import load_world  # noqa: E402
from tests.browser.site import Guard, Journey, Site, launch, new_context, serve, sign_in  # noqa: E402
from training.synthetic import WorldConfig, generate_world  # noqa: E402


@dataclass(frozen=True)
class Shot:
    name: str
    role: str
    path: str
    #: The browser's language (the pages follow it; the users have chosen none).
    locale: str = "en-GB"


def shots(journey: Journey) -> list[Shot]:
    person = f"/app/coach/jobseekers/{journey.jobseeker_id}"
    vacancy = f"/app/employer/vacancies/{journey.vacancy_id}"
    return [
        Shot("coach-caseload", "coach", "/app/coach/"),
        Shot("coach-person", "coach", person),
        Shot("coach-matches", "coach", f"{person}/matches"),
        Shot("coach-plan", "coach", f"{person}/plan"),
        Shot("employer-vacancies", "journey-employer", "/app/employer/"),
        Shot("employer-shortlist", "journey-employer", vacancy),
        Shot("employer-proposals", "journey-employer", f"{vacancy}/proposals"),
        Shot(
            "procurement-ledger",
            "journey-procurement",
            f"/app/procurement/contracts/{journey.contract_id}#ledger",
        ),
        Shot("procurement-statistics", "journey-procurement", "/app/procurement/statistics"),
        Shot("operator-registry", "operator", "/app/operator/"),
        Shot("coach-matches-fi", "coach", f"{person}/matches", locale="fi-FI"),
        Shot("employer-shortlist-sv", "journey-employer", vacancy, locale="sv-SE"),
    ]


def prepare(site: Site) -> Journey:
    """A person with a conditioned first match, proposed there with consent (JSON API)."""
    journey = site.journey(min_results=4)
    site.add_user("journey-employer", "employer", journey.supplier_org)
    site.add_user("journey-procurement", "procurement", journey.buyer)
    answer = site.api(
        "coach",
        "POST",
        f"/api/v1/coach/jobseekers/{journey.jobseeker_id}/proposals",
        json={
            "vacancy_id": journey.vacancy_id,
            "consent_given_at": f"{site.world.as_of.isoformat()}T09:00:00Z",
            "consent_method": "written",
            "note": "Interested in the role; can start at once.",
        },
    )
    answer.raise_for_status()
    return journey


def take(page: Page, shot: Shot, out: Path) -> Path:
    answer = page.goto(shot.path)
    if answer is None or answer.status != 200:
        status = None if answer is None else answer.status
        raise RuntimeError(f"{shot.path} answered {status}")
    page.wait_for_load_state("networkidle")
    target = out / f"{shot.name}.png"
    page.screenshot(path=str(target))
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kohtaanto-screens-") as temporary:
        root = Path(temporary)
        generate_world(WorldConfig(seekers=1500, vacancies=500, seed=args.seed), root / "world")
        world = load_world(root / "world")
        with serve(world, root) as site, sync_playwright() as driver:
            journey = prepare(site)
            browser = launch(driver)
            guard = Guard()
            pages: dict[tuple[str, str], Page] = {}
            try:
                for shot in shots(journey):
                    key = (shot.role, shot.locale)
                    if key not in pages:
                        context = new_context(browser, site, guard, locale=shot.locale)
                        pages[key] = context.new_page()
                        sign_in(pages[key], shot.role)
                    print(take(pages[key], shot, args.out).relative_to(ROOT))
            finally:
                browser.close()
            if guard.refused:
                print(f"requests beyond 127.0.0.1 were attempted: {guard.refused}", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
