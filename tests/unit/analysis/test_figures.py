"""The static plots: values drawn in the unit their axis names; an export without segments."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402

from leadscore.analysis.figures import curve_figure, segment_figure  # noqa: E402


def test_a_curve_is_drawn_in_percent_as_its_axes_say():
    table = pd.DataFrame({"share_of_leads": [0.0, 0.1, 1.0], "share_of_conversions": [0, 0.5, 1]})
    axis = curve_figure("gain", table).axes[0]
    assert "%" in axis.get_xlabel() and "%" in axis.get_ylabel()
    assert list(axis.lines[0].get_ydata()) == [0, 50, 100]


def test_an_export_without_segment_columns_still_gets_its_figure():
    figure = segment_figure(pd.DataFrame())
    assert "no segment columns" in figure.axes[0].texts[0].get_text()
