"""Finnish and Swedish municipalities with a great-circle distance matrix.

:func:`load_geography` merges ``data/geo/fi_municipalities_2025.csv`` (308 municipalities)
and ``data/geo/se_municipalities.csv`` (290 kommuner) into one table with regional and
labour-market areas, and precomputes straight-line distances between every pair. There is
no travel-time data, so distance plus "same labour-market area" is the regional proxy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.reference_data import (
    FI_MUNICIPALITIES,
    SE_MUNICIPALITIES,
    cached,
    default_data_dir,
    read_csv_str,
    require_file,
)

__all__ = ["EARTH_RADIUS_KM", "Geography", "haversine_km", "load_geography"]

logger = logging.getLogger(__name__)

#: Mean Earth radius (IUGG), in kilometres.
EARTH_RADIUS_KM = 6371.0088

COLUMNS = (
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
)


def haversine_km(
    lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Return great-circle distances in km between points given in degrees (broadcasts)."""
    phi1 = np.radians(np.asarray(lat1, dtype=np.float64))
    phi2 = np.radians(np.asarray(lat2, dtype=np.float64))
    dphi = phi2 - phi1
    dlambda = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    a = np.sin(dphi / 2.0) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlambda / 2.0) ** 2
    # Rounding can push `a` a hair above 1 for antipodal points.
    central_angle = 2.0 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    distances: npt.NDArray[np.float64] = EARTH_RADIUS_KM * central_angle
    return distances


@dataclass(frozen=True, eq=False)
class Geography:
    """Municipalities of Finland and Sweden and the distances between them.

    Treat the DataFrame and matrix as read-only: they are shared with the on-disk cache.

    Attributes:
        municipalities: one row per municipality, Finnish then Swedish, each sorted by
            code; columns ``code`` (FI 3 digits, SE 4
            digits, leading zeros kept; unique across both countries), ``country``
            (``'FI'``/``'SE'``), ``name`` (Finnish name in FI, Swedish in SE), ``name_sv``,
            ``region_code`` (``'FI-06'`` maakunta / ``'SE-01'`` län), ``region_name``,
            ``labour_area_code`` (``'FI-EA-39'`` employment area / ``'SE-FA-23'``
            functional labour-market region), ``labour_area_name``, ``lat``, ``lon``
            (WGS84 degrees; Swedish rows use the main locality), ``population``.
        distance_km: float32 great-circle distances, ``distance_km[i, j]`` between rows
            ``i`` and ``j`` of :attr:`municipalities`.
    """

    municipalities: pd.DataFrame
    distance_km: npt.NDArray[np.float32]
    _pos: dict[str, int] = field(repr=False)

    def __post_init__(self) -> None:
        self.distance_km.setflags(write=False)

    def index(self, code: str) -> int:
        """Return the row of municipality ``code`` (e.g. ``'091'`` or ``'0180'``)."""
        try:
            return self._pos[code]
        except KeyError:
            raise KeyError(
                f"unknown municipality code {code!r} (FI codes have 3 digits, SE codes 4)"
            ) from None

    def has_municipality(self, code: str) -> bool:
        """Return whether ``code`` is a known FI or SE municipality code."""
        return code in self._pos

    def distance(self, code_a: str, code_b: str) -> float:
        """Return the great-circle distance in km between two municipalities."""
        return float(self.distance_km[self.index(code_a), self.index(code_b)])

    def distances_from(self, code: str) -> npt.NDArray[np.float32]:
        """Return a read-only row of distances (km) from ``code`` to every municipality."""
        return self.distance_km[self.index(code)]

    def within_radius(self, code: str, km: float) -> list[str]:
        """Return codes within ``km`` of ``code`` (itself included), nearest first.

        Both countries are searched, so border areas such as Tornio-Haparanda match.
        """
        if not km >= 0:
            raise ValueError(f"radius must be a non-negative number of km, got {km!r}")
        row = self.distances_from(code)
        inside = np.flatnonzero(row <= km)
        nearest_first = inside[np.argsort(row[inside], kind="stable")]
        codes: list[str] = self.municipalities["code"].iloc[nearest_first].tolist()
        return codes


def load_geography(
    data_dir: Path | None = None, cache_dir: Path | None = None, use_cache: bool = True
) -> Geography:
    """Load FI and SE municipalities from ``data_dir`` (default: the repo's ``data/``).

    With ``use_cache`` the result is read from, or written to, ``cache_dir`` (default
    ``var/cache``) under a key derived from the source files' bytes.
    """
    root = default_data_dir() if data_dir is None else data_dir
    sources = [require_file(root, FI_MUNICIPALITIES), require_file(root, SE_MUNICIPALITIES)]
    if use_cache:
        geography = cached(
            "geography",
            # Hashing this module as well means edited loader code never gets a stale pickle.
            [*sources, Path(__file__)],
            lambda: _build_geography(*sources),
            cache_dir,
            expected_type=Geography,
        )
    else:
        geography = _build_geography(*sources)
    # Unpickling bypasses __post_init__, so protect the shared matrix here as well.
    geography.distance_km.setflags(write=False)
    return geography


def _build_geography(fi_csv: Path, se_csv: Path) -> Geography:
    municipalities = pd.concat(
        [
            _finnish_municipalities(fi_csv).sort_values("code", kind="stable"),
            _swedish_municipalities(se_csv).sort_values("code", kind="stable"),
        ],
        ignore_index=True,
    )
    duplicated = municipalities["code"][municipalities["code"].duplicated()]
    if not duplicated.empty:
        raise ValueError(f"duplicate municipality codes: {duplicated.head(3).tolist()}")
    lat = municipalities["lat"].to_numpy()
    lon = municipalities["lon"].to_numpy()
    if np.isnan(lat).any() or np.isnan(lon).any():
        missing = municipalities.loc[np.isnan(lat) | np.isnan(lon), "code"].tolist()
        raise ValueError(f"municipalities without coordinates: {missing[:5]}")
    distances = haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    # Average with the transpose so the matrix is exactly symmetric after rounding.
    distances = (distances + distances.T) / 2.0
    np.fill_diagonal(distances, 0.0)
    logger.info("built distance matrix for %d municipalities", len(municipalities))
    return Geography(
        municipalities=municipalities,
        distance_km=distances.astype(np.float32),
        _pos={code: i for i, code in enumerate(municipalities["code"])},
    )


def _finnish_municipalities(path: Path) -> pd.DataFrame:
    raw = read_csv_str(
        path,
        [
            "municipality_code",
            "name_fi",
            "name_sv",
            "region_code",
            "region_name_fi",
            "employment_area_code",
            "employment_area_name_fi",
            "lat",
            "lon",
            "population_2022",
        ],
    )
    _check_codes(raw["municipality_code"], 3, path)
    frame = pd.DataFrame(
        {
            "code": raw["municipality_code"],
            "country": "FI",
            "name": raw["name_fi"],
            "name_sv": raw["name_sv"],
            "region_code": "FI-" + raw["region_code"],
            "region_name": raw["region_name_fi"],
            "labour_area_code": "FI-EA-" + raw["employment_area_code"],
            "labour_area_name": raw["employment_area_name_fi"],
            "lat": _floats(raw["lat"], path),
            "lon": _floats(raw["lon"], path),
            "population": _ints(raw["population_2022"], path),
        }
    )
    return frame.loc[:, list(COLUMNS)]


def _swedish_municipalities(path: Path) -> pd.DataFrame:
    raw = read_csv_str(
        path,
        [
            "municipality_code",
            "name",
            "county_code",
            "county_name",
            "lat",
            "lon",
            "main_locality_lat",
            "main_locality_lon",
            "population_lau2019",
            "fa_code",
            "fa_name",
        ],
    )
    _check_codes(raw["municipality_code"], 4, path)
    # The main town is where people and jobs are; the polygon centroid of a large
    # northern kommun can lie far out in the mountains.
    has_locality = (raw["main_locality_lat"] != "") & (raw["main_locality_lon"] != "")
    lat = raw["main_locality_lat"].where(has_locality, raw["lat"])
    lon = raw["main_locality_lon"].where(has_locality, raw["lon"])
    if not has_locality.all():
        logger.info("%d SE municipalities fall back to centroids", int((~has_locality).sum()))
    frame = pd.DataFrame(
        {
            "code": raw["municipality_code"],
            "country": "SE",
            "name": raw["name"],
            "name_sv": raw["name"],
            "region_code": "SE-" + raw["county_code"],
            "region_name": raw["county_name"],
            "labour_area_code": "SE-FA-" + raw["fa_code"],
            "labour_area_name": raw["fa_name"],
            "lat": _floats(lat, path),
            "lon": _floats(lon, path),
            "population": _ints(raw["population_lau2019"], path),
        }
    )
    return frame.loc[:, list(COLUMNS)]


def _check_codes(codes: pd.Series, digits: int, path: Path) -> None:
    bad = codes[~codes.str.fullmatch(rf"\d{{{digits}}}")]
    if not bad.empty:
        raise ValueError(f"{path}: municipality codes must have {digits} digits: {bad.tolist()}")


def _floats(values: pd.Series, path: Path) -> npt.NDArray[np.float64]:
    try:
        return np.asarray(values.astype(np.float64), dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"{path}: non-numeric coordinate ({exc})") from exc


def _ints(values: pd.Series, path: Path) -> npt.NDArray[np.int64]:
    try:
        return np.asarray(values.astype(np.int64), dtype=np.int64)
    except ValueError as exc:
        raise ValueError(f"{path}: non-integer population ({exc})") from exc
