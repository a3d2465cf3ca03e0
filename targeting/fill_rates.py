"""How fast vacancies of an occupation get filled in an area, and how long hires last.

**Time to fill.** A past vacancy (:mod:`targeting.history`) is *filled* on the day of its
first hire; its time to fill is that day minus its opening day (a hire recorded before the
opening day counts as day 0). A vacancy without a hire before ``as_of`` is *censored* at
``as_of − opens_on`` days: it was watched that long without a hire (still open, or closed
unfilled: either way no hire was seen in those days), which is not the same as never being
filled. The Kaplan–Meier estimate ``F(t) = 1 − Π_{t_i ≤ t} (1 − d_i / n_i)`` over these
durations is the probability that a vacancy gets its first hire within ``t`` days of opening.

**Cells and shrinkage.** Estimates are made for four nested cells of a vacancy: its country
(from the municipality code: FI 3 digits, SE 4), its ISCO-08 major group in the country, its
ISCO unit group in the country, and its ISCO unit group in its labour-market area (FI
employment area, SE functional labour-market region; :mod:`features.geography`). Each cell
is shrunk toward the next wider one by counts::

    F̂_cell(t) = (n_cell · F_cell(t) + k · F̂_wider(t)) / (n_cell + k)

with ``n_cell`` the cell's past vacancies and ``k`` = :data:`PRIOR_STRENGTH` pseudo-vacancies,
so a cell with few vacancies leans on its occupation's national rate and a well-observed one
speaks for itself. The country cell is shrunk toward all vacancies of both countries, and
those toward an uninformed curve (:func:`prior_fill`: half filled, evenly over 60 days), so
that a history with no vacancies yet gives that curve instead of "never filled".

**Retention.** Of the hires made at least 183 (365) days before ``as_of``, the share with a
``retained_6m`` (``retained_12m``) event before ``as_of``, per ISCO unit group in the country,
shrunk toward the country the same way (and the country toward both countries; with no hire
old enough anywhere, :data:`UNINFORMED_RETENTION`). The advisor turns these into expected
months of employment in the first year (:mod:`targeting.advisor`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.geography import Geography
from features.taxonomy import Taxonomy
from reporting.definitions import RETENTION_6M_DAYS, RETENTION_12M_DAYS
from targeting.history import History

__all__ = [
    "PRIOR_STRENGTH",
    "FillModel",
    "KaplanMeier",
    "Retention",
    "country_of",
    "fill_model",
    "kaplan_meier",
    "prior_fill",
]

#: Pseudo-vacancies (and pseudo-hires) with which a cell is shrunk toward the wider cell.
PRIOR_STRENGTH = 20.0
#: The uninformed fill curve (:func:`prior_fill`): this share filled by PRIOR_FILL_DAYS.
PRIOR_FILL = 0.5
PRIOR_FILL_DAYS = 60
#: Retention share assumed when history holds no hire old enough to tell.
UNINFORMED_RETENTION = 0.5
#: Time-to-fill quantiles are searched up to this many days.
MAX_DAYS = 1100
_ALL = "ALL"


def prior_fill(days: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The uninformed fill curve every estimate starts from: half of the vacancies filled,
    evenly over the first :data:`PRIOR_FILL_DAYS` days. Only a history with few vacancies
    leans on it (it weighs ``k`` pseudo-vacancies against all of them)."""
    t = np.asarray(days, dtype=np.float64)
    result: npt.NDArray[np.float64] = PRIOR_FILL * np.clip(t / PRIOR_FILL_DAYS, 0.0, 1.0)
    return result


@dataclass(frozen=True)
class KaplanMeier:
    """A Kaplan–Meier fill curve: ``F`` after each distinct event time, and the cell's size."""

    times: npt.NDArray[np.int64]  # distinct days at which a vacancy got its first hire
    filled: npt.NDArray[np.float64]  # F(t) from each of those days on
    n: int  # vacancies in the cell (at risk at day 0)

    def at(self, days: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """F(days): the share of vacancies filled within ``days`` days of opening."""
        position = np.searchsorted(self.times, np.asarray(days, dtype=np.int64), side="right")
        padded = np.concatenate([[0.0], self.filled])
        result: npt.NDArray[np.float64] = padded[position]
        return result


_EMPTY = KaplanMeier(np.zeros(0, np.int64), np.zeros(0, np.float64), 0)


def kaplan_meier(durations: npt.ArrayLike, events: npt.ArrayLike) -> KaplanMeier:
    """The Kaplan–Meier curve of ``durations`` (days) with ``events`` (True: filled then,
    False: censored then). A vacancy censored on day ``t`` is still at risk on day ``t``."""
    d = np.asarray(durations, dtype=np.int64)
    e = np.asarray(events, dtype=bool)
    if d.size == 0:
        return _EMPTY
    order = np.argsort(d, kind="stable")
    d, e = d[order], e[order]
    times = np.unique(d[e])
    if times.size == 0:
        return KaplanMeier(np.zeros(0, np.int64), np.zeros(0, np.float64), int(d.size))
    at_risk = d.size - np.searchsorted(d, times, side="left")
    event_times = d[e]
    deaths = np.searchsorted(event_times, times, side="right") - np.searchsorted(
        event_times, times, side="left"
    )
    survival = np.cumprod(1.0 - deaths / at_risk)
    filled = np.asarray(1.0 - survival, dtype=np.float64)
    return KaplanMeier(times.astype(np.int64), filled, int(d.size))


@dataclass(frozen=True)
class Retention:
    """Shares of hires still employed after 6 and 12 months, and the hires behind them."""

    after_6m: float
    after_12m: float
    hires_6m: int  # hires old enough to tell about 6 months (in the unit-group cell)
    hires_12m: int


@dataclass(frozen=True, eq=False)
class FillModel:
    """Fill curves and retention by occupation and area, as of ``history.as_of``.

    Build with :func:`fill_model`. ``prior_strength`` is ``k`` of the module docstring.
    """

    as_of: pd.Timestamp
    geography: Geography
    prior_strength: float
    _durations: npt.NDArray[np.int64] = field(repr=False)
    _events: npt.NDArray[np.bool_] = field(repr=False)
    _cells: dict[tuple[str, ...], npt.NDArray[np.int64]] = field(repr=False)
    _retention: pd.DataFrame = field(repr=False)
    _curves: dict[tuple[str, ...], KaplanMeier] = field(default_factory=dict, repr=False)

    # -- fill ----------------------------------------------------------------------------

    def _curve(self, key: tuple[str, ...]) -> KaplanMeier:
        curve = self._curves.get(key)
        if curve is None:
            rows = self._cells.get(key)
            curve = (
                _EMPTY if rows is None else kaplan_meier(self._durations[rows], self._events[rows])
            )
            self._curves[key] = curve
        return curve

    def _keys(self, isco_code: str, municipality: str) -> list[tuple[str, ...]]:
        country = country_of(municipality)
        area = str(
            self.geography.municipalities["labour_area_code"].iat[
                self.geography.index(municipality)
            ]
        )
        return [
            (_ALL,),
            ("country", country),
            ("major", country, isco_code[:1]),
            ("unit", country, isco_code),
            ("area", area, isco_code),
        ]

    def fill_curve(
        self, isco_code: str, municipality: str, days: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.float64], int]:
        """Shrunk ``F(days)`` for each of ``days`` and the vacancies of the narrowest cell."""
        grid = np.asarray(days, dtype=np.int64)
        estimate = prior_fill(grid)
        n = 0
        k = self.prior_strength
        for key in self._keys(isco_code, municipality):
            curve = self._curve(key)
            n = curve.n
            if curve.n + k > 0:
                estimate = (curve.n * curve.at(grid) + k * estimate) / (curve.n + k)
        return estimate, n

    def fill_probability(self, isco_code: str, municipality: str, days: int) -> tuple[float, int]:
        """P(a vacancy of the unit group in the municipality's area gets a hire within
        ``days`` of opening), and the number of past vacancies in that (unit group, area)."""
        if days < 0:
            return 0.0, self._curve(self._keys(isco_code, municipality)[-1]).n
        values, n = self.fill_curve(isco_code, municipality, [days])
        return float(values[0]), n

    def time_to_fill(
        self, isco_code: str, municipality: str, quantiles: Sequence[float] = (0.25, 0.5, 0.75)
    ) -> tuple[int | None, ...]:
        """Days by which each quantile of such vacancies is filled (None: not within
        :data:`MAX_DAYS`, e.g. when fewer than half of them ever are)."""
        grid = np.arange(MAX_DAYS + 1)
        curve, _ = self.fill_curve(isco_code, municipality, grid)
        out: list[int | None] = []
        for q in quantiles:
            reached = np.flatnonzero(curve >= q)
            out.append(int(grid[reached[0]]) if reached.size else None)
        return tuple(out)

    # -- retention -----------------------------------------------------------------------

    def retention(self, isco_code: str, municipality: str) -> Retention:
        """Shares retained 6 and 12 months after a hire (see the module docstring)."""
        country = country_of(municipality)
        table = self._retention
        k = self.prior_strength
        shares = []
        counts = []
        for months in ("6m", "12m"):
            pooled = table[table["country"] == country]
            base_n = float(pooled[f"n_{months}"].sum())
            base_kept = float(pooled[f"kept_{months}"].sum())
            overall_n = float(table[f"n_{months}"].sum())
            overall = (
                float(table[f"kept_{months}"].sum()) / overall_n
                if overall_n
                else UNINFORMED_RETENTION
            )
            country_rate = _shrunk(base_kept, base_n, overall, k)
            cell = pooled[pooled["isco_code"] == isco_code]
            n = float(cell[f"n_{months}"].sum())
            kept = float(cell[f"kept_{months}"].sum())
            shares.append(_shrunk(kept, n, country_rate, k))
            counts.append(int(n))
        after_6m = shares[0]
        # Nobody can be kept 12 months who was not kept 6.
        return Retention(after_6m, min(shares[1], after_6m), counts[0], counts[1])


def _shrunk(kept: float, n: float, prior: float, k: float) -> float:
    """``kept / n`` shrunk toward ``prior`` with ``k`` pseudo-hires (the prior when empty)."""
    return prior if n + k <= 0 else (kept + k * prior) / (n + k)


def country_of(municipality: str) -> str:
    """FI for three-digit municipality codes, SE for four."""
    return "FI" if len(municipality) == 3 else "SE"


def _countries(codes: pd.Series) -> npt.NDArray[np.object_]:
    lengths = codes.astype(str).str.len().to_numpy()
    return np.where(lengths == 3, "FI", "SE").astype(object)


def fill_model(
    history: History,
    geography: Geography,
    taxonomy: Taxonomy,
    *,
    prior_strength: float = PRIOR_STRENGTH,
) -> FillModel:
    """Fit the fill curves and retention shares of ``history`` (see the module docstring)."""
    if prior_strength < 0:
        raise ValueError("prior_strength must not be negative")
    cutoff = pd.Timestamp(history.as_of)
    isco_of = taxonomy.occupations.set_index("uri")["isco_code"].astype(str)
    vacancies = history.vacancies
    municipality = vacancies["municipality"].astype(str)
    known = municipality.map(geography.has_municipality).to_numpy(dtype=bool)
    isco = vacancies["occupation_uri"].astype(str).map(isco_of)
    keep = known & isco.notna().to_numpy()
    vacancies, municipality, isco = vacancies[keep], municipality[keep], isco[keep].astype(str)

    opens = pd.to_datetime(vacancies["opens_on"])
    first = pd.to_datetime(vacancies["first_hire_on"])
    filled = first.notna().to_numpy()
    to_fill = (first - opens).dt.days.to_numpy(dtype=np.float64, na_value=np.nan)
    watched = (cutoff - opens).dt.days.to_numpy(dtype=np.float64)
    durations = np.where(filled, np.maximum(to_fill, 0.0), watched).astype(np.int64)

    codes, uniques = pd.factorize(municipality)
    rows = np.array([geography.index(str(code)) for code in uniques], dtype=np.int64)[codes]
    area = geography.municipalities["labour_area_code"].astype(str).to_numpy()[rows]
    country = _countries(municipality)
    unit = isco.to_numpy(dtype=object)
    major = np.array([code[:1] for code in unit], dtype=object)
    frame = pd.DataFrame({"country": country, "major": major, "unit": unit, "area": area})
    cells: dict[tuple[str, ...], npt.NDArray[np.int64]] = {(_ALL,): np.arange(len(frame))}
    for name, columns in (
        ("country", ["country"]),
        ("major", ["country", "major"]),
        ("unit", ["country", "unit"]),
        ("area", ["area", "unit"]),
    ):
        if frame.empty:
            break
        for key, index in frame.groupby(columns, sort=False).indices.items():
            parts = key if isinstance(key, tuple) else (key,)
            cells[(name, *map(str, parts))] = np.asarray(index, dtype=np.int64)
    return FillModel(
        as_of=cutoff,
        geography=geography,
        prior_strength=float(prior_strength),
        _durations=durations,
        _events=filled,
        _cells=cells,
        _retention=_retention_table(history, isco_of, cutoff),
    )


def _retention_table(history: History, isco_of: pd.Series, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Per (country, unit group): hires old enough for 6 (12) months and those kept."""
    hires = history.hires
    vacancies = history.vacancies.set_index(history.vacancies["vacancy_id"].astype(str))
    uri = hires["vacancy_id"].map(vacancies["occupation_uri"].astype(str))
    municipality = hires["vacancy_id"].map(vacancies["municipality"].astype(str))
    frame = pd.DataFrame(
        {
            "country": _countries(municipality.fillna("")),
            "isco_code": uri.map(isco_of).fillna("").astype(str),
        }
    )
    hired = pd.to_datetime(hires["hired_on"])
    for months, days in (("6m", RETENTION_6M_DAYS), ("12m", RETENTION_12M_DAYS)):
        old_enough = (hired + pd.Timedelta(days=days) < cutoff).to_numpy()
        kept = hires[f"retained_{months}_on"].notna().to_numpy()
        frame[f"n_{months}"] = old_enough.astype(np.int64)
        frame[f"kept_{months}"] = (old_enough & kept).astype(np.int64)
    return frame.groupby(["country", "isco_code"], as_index=False, sort=True).sum()
