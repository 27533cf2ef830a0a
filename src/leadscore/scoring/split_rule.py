"""scikit-learn's split decision for a lead's value at a tree node, once, for the numba kernels
(raw scores, the TreeSHAP walk and tables)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, inline="always")
def goes_left(
    node: int,
    value: float,
    links: np.ndarray,
    split: np.ndarray,
    missing_left: np.ndarray,
    category_left: np.ndarray,
) -> bool:
    """Whether a value sends the lead to the left child, exactly as scikit-learn decides."""
    row = links[node, 3]
    if np.isnan(value):
        go_left = missing_left[node] == 1
    elif row >= 0:  # categorical split; codes outside 0-255 or unknown: like a missing value
        if value < 0 or value >= 256:
            go_left = missing_left[node] == 1
        else:
            side = category_left[row, int(value)]
            go_left = (side == 1) or (side == -1 and missing_left[node] == 1)
    else:
        go_left = value <= split[node]
    return bool(go_left)
