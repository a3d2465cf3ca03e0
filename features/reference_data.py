"""Locations of the bundled reference data and a content-hash-keyed load cache.

The reference files (ESCO, ISCO-08, CPV, municipalities) live in the repository's
``data/`` folder; see ``data/ATTRIBUTION.md``. Loaders parse them once and keep the
parsed objects under ``var/cache`` keyed by a SHA-256 of the source bytes, so a changed
source file or a bumped :data:`LOADER_VERSION` simply produces a new cache entry.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypeVar

import pandas as pd

__all__ = [
    "CACHE_DIR_ENV",
    "CPV_CODES",
    "DATA_DIR_ENV",
    "ESCO_BROADER_SKILL_RELATIONS",
    "ESCO_CLASSIFICATION_ZIP",
    "ESCO_ISCO_GROUPS",
    "ESCO_OCCUPATIONS",
    "ESCO_OCCUPATION_SKILL_RELATIONS",
    "ESCO_RELATIONS_ZIP",
    "ESCO_SKILLS",
    "ESCO_SKILLS_HIERARCHY",
    "ESCO_SKILL_GROUPS",
    "ESCO_SKILL_SKILL_RELATIONS",
    "FI_MUNICIPALITIES",
    "ISCO_GROUPS",
    "LOADER_VERSION",
    "SE_FA_REGIONS",
    "SE_MUNICIPALITIES",
    "cache_path",
    "cached",
    "default_cache_dir",
    "default_data_dir",
    "default_var_dir",
    "file_digest",
    "in_checkout",
    "open_zip_member",
    "read_csv_str",
    "require_file",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Bump whenever a loader changes what it builds; old cache entries are then ignored.
#: (The loaders also hash their own module source into the key, as a safety net.)
LOADER_VERSION = 1

DATA_DIR_ENV = "KOHTAANTO_DATA_DIR"
CACHE_DIR_ENV = "KOHTAANTO_CACHE_DIR"

# Paths relative to the data directory.
ESCO_CLASSIFICATION_ZIP = "esco/esco_v1.1.1_classification_en_csv.zip"
ESCO_RELATIONS_ZIP = "esco/esco_v1.1.1_relations_csv.zip"
FI_MUNICIPALITIES = "geo/fi_municipalities_2025.csv"
SE_MUNICIPALITIES = "geo/se_municipalities.csv"
SE_FA_REGIONS = "geo/se_fa_regions_2015.csv"
ISCO_GROUPS = "codes/isco08_groups.csv"
CPV_CODES = "codes/cpv_2008.csv"

# Member names inside ESCO_CLASSIFICATION_ZIP.
ESCO_SKILLS = "skills_en.csv"
ESCO_OCCUPATIONS = "occupations_en.csv"
ESCO_SKILL_GROUPS = "skillGroups_en.csv"
ESCO_SKILLS_HIERARCHY = "skillsHierarchy_en.csv"
ESCO_ISCO_GROUPS = "ISCOGroups_en.csv"

# Member names inside ESCO_RELATIONS_ZIP.
ESCO_OCCUPATION_SKILL_RELATIONS = "occupationSkillRelations.csv"
ESCO_SKILL_SKILL_RELATIONS = "skillSkillRelations.csv"
ESCO_BROADER_SKILL_RELATIONS = "broaderRelationsSkillPillar.csv"

_REPO_ROOT = Path(__file__).resolve().parents[1]
_CHUNK_BYTES = 1 << 20
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


#: An installed wheel carries the reference data beside this module; in a checkout
#: ``features/data`` is a link to ``<repo>/data``, which is what the wheel is built from.
_PACKAGED_DATA = Path(__file__).resolve().parent / "data"


def in_checkout() -> bool:
    """True when the code runs from the repository (an editable install), not a wheel."""
    return (_REPO_ROOT / "pyproject.toml").is_file()


def default_data_dir() -> Path:
    """Return the reference data directory.

    ``$KOHTAANTO_DATA_DIR``, else ``<repo>/data`` in a checkout, else the copy an installed
    wheel carries.
    """
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override)
    return _REPO_ROOT / "data" if in_checkout() else _PACKAGED_DATA


def default_var_dir() -> Path:
    """Where the service keeps its files: ``<repo>/var`` in a checkout, else ``./var``.

    An installed wheel must not write into site-packages; the working directory is where a
    service manager (or the person) running ``kohtaanto`` chose to keep state.
    """
    return _REPO_ROOT / "var" if in_checkout() else Path.cwd() / "var"


def default_cache_dir() -> Path:
    """Return the load cache directory (``$KOHTAANTO_CACHE_DIR`` or the var dir's ``cache``)."""
    override = os.environ.get(CACHE_DIR_ENV)
    return Path(override) if override else default_var_dir() / "cache"


def require_file(data_dir: Path, relative: str) -> Path:
    """Return ``data_dir / relative``, raising a helpful error when it does not exist."""
    path = data_dir / relative
    if not path.is_file():
        raise FileNotFoundError(
            f"reference data file {path} is missing; set {DATA_DIR_ENV} to the folder "
            f"that holds {relative!r} (see data/ATTRIBUTION.md)"
        )
    return path


def file_digest(paths: Sequence[Path]) -> str:
    """Return a hex SHA-256 over the bytes of ``paths``, in the given order.

    Each file's base name and size are hashed before its bytes so that moving bytes
    from one file to the next, or swapping two files, changes the digest.
    """
    digest = hashlib.sha256()
    for path in paths:
        size = path.stat().st_size
        digest.update(f"{path.name}\0{size}\0".encode())
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK_BYTES):
                digest.update(chunk)
    return digest.hexdigest()


def cache_path(name: str, digest: str, cache_dir: Path) -> Path:
    """Return the cache file for entry ``name`` built from sources hashing to ``digest``."""
    return cache_dir / f"{name}-v{LOADER_VERSION}-{digest[:32]}.pkl"


def cached(
    name: str,
    sources: Sequence[Path],
    build: Callable[[], T],
    cache_dir: Path | None = None,
    *,
    expected_type: type[T] | None = None,
) -> T:
    """Return ``build()``, memoised on disk by the content of ``sources``.

    The entry is stored as ``<cache_dir>/<name>-v<LOADER_VERSION>-<digest>.pkl`` with
    pickle protocol 5, which loads these DataFrames several times faster than
    ``joblib.load``. Writes go to a temporary file that is then renamed over the entry,
    so concurrent readers see either the old file or the complete new one.

    A cache file that cannot be read (truncated, corrupt, written by an incompatible
    version, or not an ``expected_type``) is logged and rebuilt. Failing to write the
    cache is logged and otherwise ignored: the cache only saves time.

    Unpickling can run code, so ``cache_dir`` must only be writable by trusted users.
    """
    if not _SAFE_NAME.match(name):
        raise ValueError(f"cache entry name must match {_SAFE_NAME.pattern}, got {name!r}")
    directory = default_cache_dir() if cache_dir is None else cache_dir
    path = cache_path(name, file_digest(sources), directory)

    if path.exists():
        try:
            with path.open("rb") as fh:
                value: Any = pickle.load(fh)
        except Exception as exc:  # any unreadable cache must be rebuilt
            logger.warning("cache file %s is unreadable (%r); rebuilding", path, exc)
        else:
            if expected_type is None or isinstance(value, expected_type):
                logger.debug("loaded %s from cache %s", name, path)
                result: T = value
                return result
            logger.warning(
                "cache file %s holds %s, expected %s; rebuilding",
                path,
                type(value).__name__,
                expected_type.__name__,
            )

    built = build()
    try:
        _atomic_dump(built, path)
    except OSError as exc:
        logger.warning("could not write cache file %s (%s); continuing without it", path, exc)
    else:
        logger.info("cached %s at %s", name, path)
    return built


def _atomic_dump(value: object, path: Path) -> None:
    """Write ``value`` to ``path`` so that readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(value, fh, protocol=5)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates 0600 files; a cache directory may be shared by several users.
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        # Leave no temp files behind, whatever interrupted the write.
        Path(tmp_name).unlink(missing_ok=True)
        raise


@contextmanager
def open_zip_member(zip_path: Path, member: str) -> Iterator[IO[bytes]]:
    """Open ``member`` of the zip archive ``zip_path`` for binary reading, in place."""
    with zipfile.ZipFile(zip_path) as archive:
        try:
            info = archive.getinfo(member)
        except KeyError:
            raise FileNotFoundError(f"{zip_path} has no member {member!r}") from None
        with archive.open(info) as fh:
            yield fh


def read_csv_str(source: Path | IO[bytes], usecols: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a UTF-8 CSV with every column as text and empty cells as ``""``.

    Text dtype keeps codes such as ``'020'`` or ``'0110'`` intact.
    """
    frame = pd.read_csv(
        source,
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        encoding="utf-8",
        usecols=list(usecols) if usecols is not None else None,
    )
    if usecols is not None:
        frame = frame[list(usecols)]
    return frame
