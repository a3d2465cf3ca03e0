"""The wheel carries the reference data: `kohtaanto generate` runs from a clean venv.

Offline and quick: the wheel is built without build isolation (setuptools is a dev
dependency) from a copy of the sources, installed with ``--no-deps --no-index`` into a new
venv that sees the project's dependencies through a ``.pth`` line naming this venv's
site-packages (which, unlike processing its ``.pth`` files, does not bring in the editable
checkout). The command then runs in an empty folder outside the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "data", "features", "matching", "reporting")
PACKAGES = ("service", "targeting", "training")


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_wheel_generates_a_world_from_a_clean_venv(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in (*SOURCES, *PACKAGES):
        path = REPO / name
        if path.is_dir():
            # features/data is a link to data/: copied as a link, resolved by the build.
            shutil.copytree(path, source / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(path, source / name)
    wheels = tmp_path / "wheels"
    _run(
        sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
        "--wheel-dir", wheels, source, cwd=tmp_path,
    )  # fmt: skip
    (wheel,) = wheels.glob("kohtaanto-*.whl")

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    site = _run(
        python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path
    )
    (Path(site.strip()) / "kohtaanto-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(
        sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps",
        "--no-index", wheel, cwd=tmp_path,
    )  # fmt: skip

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("KOHTAANTO_") and key != "PYTHONPATH"
    }
    where = _run(
        python, "-c", "import features.reference_data as r, service; "
        "print(service.__file__); print(r.default_data_dir())",
        cwd=elsewhere, env=env,
    )  # fmt: skip
    module, data_dir = where.split()
    assert module.startswith(str(venv)), "the installed wheel, not the checkout, must run"
    assert data_dir.startswith(str(venv))

    # The web application's templates, static files and catalogues are in the wheel.
    web = _run(
        python, "-c", "from service.web import STATIC_DIR; "
        "from service.web.templating import TEMPLATES_DIR; "
        "from service.web.i18n import translations; "
        "print(STATIC_DIR); print((STATIC_DIR / 'vendor/htmx.min.js').is_file()); "
        "print((STATIC_DIR / 'vendor/swagger-ui/swagger-ui-bundle.js').is_file()); "
        "print((TEMPLATES_DIR / 'base.html').is_file()); "
        "print(translations('sv').gettext('Sign in'))",
        cwd=elsewhere, env=env,
    )  # fmt: skip
    static_dir, *found = web.split("\n")[:5]
    assert static_dir.startswith(str(venv))
    assert found == ["True", "True", "True", "Logga in"]

    # The targeting advisor's documented tables are in the wheel.
    tables = _run(
        python, "-c", "from targeting.advisor import load_labour_tables; "
        "from targeting.occupation_mix import FALLBACK_TABLE; import targeting; "
        "print(targeting.__file__); print(FALLBACK_TABLE.is_file()); "
        "print(load_labour_tables().share('45') > 0)",
        cwd=elsewhere, env=env,
    )  # fmt: skip
    package, *found = tables.split("\n")[:3]
    assert package.startswith(str(venv)) and found == ["True", "True"]

    version = _run(venv / "bin" / "kohtaanto", "--version", cwd=elsewhere, env=env)
    assert version.strip() == "kohtaanto 0.1.0"
    _run(
        venv / "bin" / "kohtaanto", "generate", "--seekers", "60", "--vacancies", "20",
        "--out", "world", cwd=elsewhere, env=env,
    )  # fmt: skip
    meta = json.loads((elsewhere / "world" / "world.json").read_text())
    assert meta
    assert (elsewhere / "world" / "jobseekers.parquet").is_file()
    # State the run needed (the reference data cache) went under the working folder.
    assert (elsewhere / "var" / "cache").is_dir()
