"""Fast lookups of string columns in dictionaries.

``Series.map(dict)`` over Arrow-backed strings converts every value to a Python object;
factorising first touches each *distinct* value once, which is what makes loading 2.6 million
skill observations take a second rather than ten.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd

MISSING = -1


def lookup_codes(values: pd.Series, mapping: Mapping[str, int]) -> npt.NDArray[np.int64]:
    """``mapping[value]`` for every value, ``MISSING`` (-1) where absent or null."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.fromiter(
        (mapping.get(str(u), MISSING) for u in uniques), dtype=np.int64, count=len(uniques)
    )
    out = np.full(len(codes), MISSING, np.int64)
    present = codes >= 0
    out[present] = mapped[codes[present]]
    return out
