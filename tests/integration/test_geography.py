"""Integration tests for features.geography against the bundled municipality files."""

from __future__ import annotations

import csv
import math
import re

import numpy as np
import pytest

from features.geography import EARTH_RADIUS_KM, Geography, haversine_km, load_geography
from features.reference_data import FI_MUNICIPALITIES, SE_MUNICIPALITIES, default_data_dir

pytestmark = pytest.mark.integration

DATA = default_data_dir()
HELSINKI, TAMPERE, AKAA, TORNIO = "091", "837", "020", "851"
STOCKHOLM, GOTHENBURG, UPPLANDS_VASBY, HAPARANDA = "0180", "1480", "0114", "2583"


def file_rows(relative: str) -> list[dict[str, str]]:
    with (DATA / relative).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def geography(tmp_path_factory: pytest.TempPathFactory) -> Geography:
    return load_geography(cache_dir=tmp_path_factory.mktemp("geography-cache"))


def test_municipality_counts_equal_source_rows(geography: Geography) -> None:
    fi_rows = file_rows(FI_MUNICIPALITIES)
    se_rows = file_rows(SE_MUNICIPALITIES)
    frame = geography.municipalities
    fi = frame[frame["country"] == "FI"]
    se = frame[frame["country"] == "SE"]

    assert len(fi) == len(fi_rows) == 308
    assert len(se) == len(se_rows) == 290
    assert set(fi["code"]) == {row["municipality_code"] for row in fi_rows}
    assert set(se["code"]) == {row["municipality_code"] for row in se_rows}
    assert frame["code"].is_unique
    assert int(fi["population"].sum()) == sum(int(r["population_2022"]) for r in fi_rows)
    assert int(se["population"].sum()) == sum(int(r["population_lau2019"]) for r in se_rows)


def test_columns_and_dtypes(geography: Geography) -> None:
    frame = geography.municipalities

    assert list(frame.columns) == [
        "code",
        "country",
        "name",
        "name_sv",
        "region_code",
        "region_name",
        "labour_area_code",
        "labour_area_name",
        "lat",
        "lon",
        "population",
    ]
    assert frame["lat"].dtype == np.float64
    assert frame["lon"].dtype == np.float64
    assert frame["population"].dtype == np.int64
    assert frame.index.tolist() == list(range(len(frame)))


def test_leading_zeros_are_preserved(geography: Geography) -> None:
    frame = geography.municipalities.set_index("code")

    assert frame.loc[AKAA, "name"] == "Akaa"
    assert frame.loc[AKAA, "name_sv"] == "Ackas"
    assert frame.loc[UPPLANDS_VASBY, "name"] == "Upplands Väsby"
    assert geography.has_municipality(AKAA)
    assert not geography.has_municipality("20")
    assert not geography.has_municipality("114")
    fi_codes = frame.index[frame["country"] == "FI"]
    se_codes = frame.index[frame["country"] == "SE"]
    assert fi_codes.str.fullmatch(r"\d{3}").all()
    assert se_codes.str.fullmatch(r"\d{4}").all()


def test_region_and_labour_area_codes_are_prefixed(geography: Geography) -> None:
    frame = geography.municipalities.set_index("code")

    assert frame.loc[AKAA, ["region_code", "region_name"]].tolist() == ["FI-06", "Pirkanmaa"]
    assert frame.loc[AKAA, "labour_area_code"] == "FI-EA-39"
    assert frame.loc[AKAA, "labour_area_name"] == "Tampereen seutu"
    assert frame.loc[UPPLANDS_VASBY, "region_code"] == "SE-01"
    assert frame.loc[UPPLANDS_VASBY, "labour_area_code"] == "SE-FA-23"
    assert frame.loc[UPPLANDS_VASBY, "labour_area_name"] == "Stockholm"
    fi = frame[frame["country"] == "FI"]
    se = frame[frame["country"] == "SE"]
    assert fi["region_code"].str.fullmatch(r"FI-\d{2}").all()
    assert se["region_code"].str.fullmatch(r"SE-\d{2}").all()
    assert fi["labour_area_code"].nunique() == 46
    assert se["labour_area_code"].nunique() == 60


def test_swedish_coordinates_use_the_main_locality(geography: Geography) -> None:
    rows = {row["municipality_code"]: row for row in file_rows(SE_MUNICIPALITIES)}
    frame = geography.municipalities.set_index("code")

    for code in (STOCKHOLM, GOTHENBURG, "2584"):  # 2584 Kiruna: centroid is far from town
        assert frame.loc[code, "lat"] == float(rows[code]["main_locality_lat"])
        assert frame.loc[code, "lon"] == float(rows[code]["main_locality_lon"])
    assert frame.loc["2584", "lat"] != float(rows["2584"]["lat"])


def test_known_distances(geography: Geography) -> None:
    assert 150.0 <= geography.distance(HELSINKI, TAMPERE) <= 175.0
    assert 380.0 <= geography.distance(STOCKHOLM, GOTHENBURG) <= 420.0
    # Helsinki-Stockholm is roughly 400 km across the Baltic.
    assert 380.0 <= geography.distance(HELSINKI, STOCKHOLM) <= 420.0
    assert geography.distance(TORNIO, HAPARANDA) < 5.0
    assert geography.distance(TAMPERE, HELSINKI) == geography.distance(HELSINKI, TAMPERE)


def test_distance_matrix_is_symmetric_with_zero_diagonal(geography: Geography) -> None:
    matrix = geography.distance_km
    n = len(geography.municipalities)
    off_diagonal = matrix[~np.eye(n, dtype=bool)]

    assert matrix.shape == (n, n)
    assert matrix.dtype == np.float32
    assert np.array_equal(matrix, matrix.T)
    assert not np.diagonal(matrix).any()
    assert off_diagonal.min() > 0.0
    # Nothing in Finland or Sweden is more than ~2,000 km from anything else.
    assert off_diagonal.max() < 2_000.0


def test_distance_matrix_matches_haversine(geography: Geography) -> None:
    frame = geography.municipalities
    rng = np.random.default_rng(20250101)
    i, j = rng.integers(0, len(frame), size=(2, 200))
    lat = frame["lat"].to_numpy()
    lon = frame["lon"].to_numpy()

    expected = haversine_km(lat[i], lon[i], lat[j], lon[j])

    np.testing.assert_allclose(geography.distance_km[i, j], expected, rtol=1e-6, atol=1e-3)


def test_distances_from_is_an_aligned_read_only_row(geography: Geography) -> None:
    row = geography.distances_from(HELSINKI)

    assert row[geography.index(TAMPERE)] == pytest.approx(geography.distance(HELSINKI, TAMPERE))
    assert row[geography.index(HELSINKI)] == 0.0
    with pytest.raises(ValueError, match="read-only"):
        row[0] = 1.0


def test_within_radius(geography: Geography) -> None:
    near_tornio = geography.within_radius(TORNIO, 30.0)
    distances = [geography.distance(TORNIO, code) for code in near_tornio]
    row = geography.distances_from(TORNIO)

    assert near_tornio[0] == TORNIO
    assert HAPARANDA in near_tornio  # across the border
    assert distances == sorted(distances)
    assert max(distances) <= 30.0
    assert len(near_tornio) == int((row <= 30.0).sum())
    assert geography.within_radius(TORNIO, 0.0) == [TORNIO]
    assert TAMPERE not in geography.within_radius(HELSINKI, 150.0)
    assert TAMPERE in geography.within_radius(HELSINKI, 175.0)


def test_within_radius_rejects_negative_radius(geography: Geography) -> None:
    with pytest.raises(ValueError, match="non-negative"):
        geography.within_radius(HELSINKI, -1.0)
    with pytest.raises(ValueError, match="non-negative"):
        geography.within_radius(HELSINKI, math.nan)


def test_unknown_code_raises_key_error_naming_it(geography: Geography) -> None:
    with pytest.raises(KeyError, match=re.escape("'91'")):
        geography.index("91")
    with pytest.raises(KeyError, match=re.escape("'9999'")):
        geography.distance(HELSINKI, "9999")


def test_haversine_hand_computed_pairs() -> None:
    one_degree = EARTH_RADIUS_KM * math.pi / 180.0  # 111.195 km along the equator

    assert haversine_km(0.0, 0.0, 0.0, 1.0) == pytest.approx(111.19508, abs=1e-4)
    assert haversine_km(0.0, 0.0, 1.0, 0.0) == pytest.approx(one_degree, rel=1e-12)
    assert haversine_km(0.0, 0.0, 90.0, 0.0) == pytest.approx(10_007.5576, abs=1e-3)
    assert haversine_km(0.0, 0.0, 0.0, 180.0) == pytest.approx(math.pi * EARTH_RADIUS_KM)
    # At 60°N a degree of longitude is about half as long as at the equator.
    # Exact: 2R·asin(cos 60° · sin 0.5°) = 55.5970 km.
    assert haversine_km(60.0, 24.0, 60.0, 25.0) == pytest.approx(55.5970, abs=1e-3)


def test_haversine_broadcasts() -> None:
    lat = np.array([[60.0], [61.0]])
    lon = np.array([[24.0], [24.0]])

    distances = haversine_km(lat, lon, lat.T, lon.T)

    assert distances.shape == (2, 2)
    assert distances.dtype == np.float64
    assert distances[0, 1] == pytest.approx(111.19508, abs=1e-4)
    assert distances[0, 0] == 0.0
