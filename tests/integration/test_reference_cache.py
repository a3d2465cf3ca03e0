"""Integration tests for the content-hash-keyed reference data cache."""

from __future__ import annotations

import logging
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

import features.geography as geography_module
import features.taxonomy as taxonomy_module
from features.geography import Geography, load_geography
from features.reference_data import (
    DATA_DIR_ENV,
    FI_MUNICIPALITIES,
    LOADER_VERSION,
    SE_MUNICIPALITIES,
    cache_path,
    cached,
    default_cache_dir,
    default_data_dir,
    file_digest,
)
from features.taxonomy import Taxonomy, load_taxonomy

pytestmark = pytest.mark.integration

REPO_DATA = default_data_dir()


def cache_files(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.iterdir()) if cache_dir.exists() else []


def copy_geo_data(target: Path) -> Path:
    """Copy just the files load_geography reads into ``target/data``."""
    data = target / "data"
    for relative in (FI_MUNICIPALITIES, SE_MUNICIPALITIES):
        (data / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_DATA / relative, data / relative)
    return data


def fail_build(*_args: object) -> object:
    raise AssertionError("the loader rebuilt instead of reading the cache")


def assert_same_geography(a: Geography, b: Geography) -> None:
    pd.testing.assert_frame_equal(a.municipalities, b.municipalities)
    assert (a.distance_km == b.distance_km).all()


def assert_same_taxonomy(a: Taxonomy, b: Taxonomy) -> None:
    for name in (
        "skills",
        "occupations",
        "occupation_skills",
        "skill_relations",
        "skill_groups",
        "skill_ancestors",
        "isco_groups",
        "cpv",
    ):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), obj=name)
    assert dict(a.skipped_relations) == dict(b.skipped_relations)


def test_geography_cold_load_writes_cache_and_warm_load_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_dir = tmp_path / "cache"
    cold = load_geography(cache_dir=cache_dir)
    (entry,) = cache_files(cache_dir)
    digest = file_digest(
        [
            REPO_DATA / FI_MUNICIPALITIES,
            REPO_DATA / SE_MUNICIPALITIES,
            Path(geography_module.__file__),
        ]
    )

    assert entry == cache_path("geography", digest, cache_dir)
    assert entry.name.startswith(f"geography-v{LOADER_VERSION}-{digest[:16]}")

    monkeypatch.setattr(geography_module, "_build_geography", fail_build)
    warm = load_geography(cache_dir=cache_dir)

    assert warm is not cold
    assert_same_geography(warm, cold)
    assert warm.distance("091", "837") == cold.distance("091", "837")
    assert cache_files(cache_dir) == [entry]


def test_taxonomy_cold_load_writes_cache_and_warm_load_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_dir = tmp_path / "cache"
    cold = load_taxonomy(cache_dir=cache_dir)
    (entry,) = cache_files(cache_dir)

    assert entry.name.startswith(f"taxonomy-v{LOADER_VERSION}-")

    monkeypatch.setattr(taxonomy_module, "_build_taxonomy", fail_build)
    warm = load_taxonomy(cache_dir=cache_dir)

    assert_same_taxonomy(warm, cold)
    uri = cold.occupations["uri"].iloc[0]
    assert warm.essential_skills(uri) == cold.essential_skills(uri)
    assert warm.has_cpv("90910000") and not warm.has_cpv("90910000-1")


def test_changing_a_source_file_changes_the_key(tmp_path: Path) -> None:
    data = copy_geo_data(tmp_path)
    cache_dir = tmp_path / "cache"
    before = load_geography(data_dir=data, cache_dir=cache_dir)
    (old_entry,) = cache_files(cache_dir)

    fi_csv = data / FI_MUNICIPALITIES
    original = fi_csv.read_text(encoding="utf-8")
    # Akaa's population 2022 is 16473 in the source; change that one value.
    assert ",16473," in original
    fi_csv.write_text(original.replace(",16473,", ",16474,", 1), encoding="utf-8")
    after = load_geography(data_dir=data, cache_dir=cache_dir)

    entries = cache_files(cache_dir)
    population = after.municipalities.set_index("code")["population"]
    assert len(entries) == 2
    assert old_entry in entries
    assert population["020"] == 16474
    assert before.municipalities.set_index("code")["population"]["020"] == 16473


def test_same_bytes_in_another_folder_share_the_key(tmp_path: Path) -> None:
    data = copy_geo_data(tmp_path)
    originals = [REPO_DATA / FI_MUNICIPALITIES, REPO_DATA / SE_MUNICIPALITIES]
    copies = [data / FI_MUNICIPALITIES, data / SE_MUNICIPALITIES]

    assert file_digest(copies) == file_digest(originals)
    assert file_digest(list(reversed(originals))) != file_digest(originals)


def test_file_digest_sees_a_single_changed_byte(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    payload = bytearray(range(256)) * 10_000  # several read chunks
    path.write_bytes(bytes(payload))
    first = file_digest([path])
    payload[-1] ^= 1
    path.write_bytes(bytes(payload))

    assert len(first) == 64
    assert file_digest([path]) != first


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.write_bytes(b"this is not a pickle"),
        lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]),
        lambda path: path.write_bytes(b""),
        lambda path: path.write_bytes(pickle.dumps({"not": "a Geography"}, protocol=5)),
    ],
    ids=["garbage", "truncated", "empty", "wrong-type"],
)
def test_corrupt_cache_file_is_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: Callable[[Path], object]
) -> None:
    cache_dir = tmp_path / "cache"
    expected = load_geography(cache_dir=cache_dir)
    (entry,) = cache_files(cache_dir)
    damage(entry)

    with caplog.at_level(logging.WARNING, logger="features.reference_data"):
        rebuilt = load_geography(cache_dir=cache_dir)

    assert_same_geography(rebuilt, expected)
    assert any("rebuilding" in record.getMessage() for record in caplog.records)
    assert cache_files(cache_dir) == [entry]
    with entry.open("rb") as fh:
        assert isinstance(pickle.load(fh), Geography)


def test_cached_builds_once_per_content(tmp_path: Path) -> None:
    source = tmp_path / "source.txt"
    source.write_text("one", encoding="utf-8")
    cache_dir = tmp_path / "cache"
    calls: list[str] = []

    def build() -> dict[str, str]:
        calls.append("built")
        return {"content": source.read_text(encoding="utf-8")}

    assert cached("thing", [source], build, cache_dir) == {"content": "one"}
    assert cached("thing", [source], build, cache_dir) == {"content": "one"}
    source.write_text("two", encoding="utf-8")
    assert cached("thing", [source], build, cache_dir) == {"content": "two"}
    assert calls == ["built", "built"]
    assert not [p for p in cache_dir.iterdir() if p.name.endswith(".tmp")]


def test_unwritable_cache_is_not_fatal(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    source = tmp_path / "source.txt"
    source.write_text("x", encoding="utf-8")
    not_a_dir = tmp_path / "occupied"
    not_a_dir.write_text("a file where the cache directory should be", encoding="utf-8")

    with caplog.at_level(logging.WARNING, logger="features.reference_data"):
        value = cached("thing", [source], lambda: 42, not_a_dir)

    assert value == 42
    assert any("could not write cache" in record.getMessage() for record in caplog.records)


def test_cache_entry_name_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cache entry name"):
        cached("../escape", [], lambda: 1, tmp_path)


def test_environment_overrides_default_dirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.delenv("KOHTAANTO_CACHE_DIR", raising=False)
    repo_data = default_data_dir()
    repo_cache = default_cache_dir()

    assert (repo_data / "ATTRIBUTION.md").is_file()
    assert repo_cache == repo_data.parent / "var" / "cache"

    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "d"))
    monkeypatch.setenv("KOHTAANTO_CACHE_DIR", str(tmp_path / "c"))

    assert default_data_dir() == tmp_path / "d"
    assert default_cache_dir() == tmp_path / "c"


def test_missing_source_file_names_the_env_var(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=rf"{DATA_DIR_ENV}.*geo/fi_municipalities"):
        load_geography(data_dir=tmp_path, cache_dir=tmp_path / "cache")
