"""Static figures of the evaluation curves and the segments: what `dvc plots show` displays.

PNG images render in any browser with no network (DVC's Vega charts load Vega from a CDN, so
offline they stay blank); each axis says its unit, and the values drawn are in that unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Curve:
    x: str
    y: str
    title: str
    x_label: str
    y_label: str
    diagonal: bool  # the line of a model with no skill (ROC) or perfect calibration


CURVES = {
    "roc": Curve("fpr", "tpr", "ROC curve (test period)",
                 "% of non-converting leads ranked above the cut",
                 "% of converting leads ranked above the cut", True),
    "precision_recall": Curve("recall", "precision", "Precision-recall (test period)",
                              "% of conversions caught (recall)",
                              "% of the leads above the cut that convert (precision)", False),
    "calibration": Curve("predicted", "observed", "Calibration, equal-frequency bins (test period)",
                         "predicted conversion (%)", "actual conversion (%)", True),
    "gain": Curve("share_of_leads", "share_of_conversions", "Cumulative gain (test period)",
                  "% of leads, best scores first", "% of conversions caught", True),
}  # fmt: skip
PERCENT = 100  # the tables hold shares; the axes say %


def curve_figure(name: str, table: pd.DataFrame):
    """One evaluation curve from its table (`leadscore.analysis.evaluate.curves`)."""
    import matplotlib.pyplot as plt

    curve = CURVES[name]
    figure, axis = plt.subplots(figsize=(5.5, 4.2))
    x, y = table[curve.x] * PERCENT, table[curve.y] * PERCENT
    axis.plot(x, y, color="#2b6cb0", marker="o" if len(table) <= 20 else None, lw=1.6)
    if curve.diagonal:
        top = max(float(x.max()), float(y.max())) if name == "calibration" else PERCENT
        axis.plot([0, top], [0, top], color="#999", lw=0.8, ls="--")
    axis.set_xlabel(curve.x_label)
    axis.set_ylabel(curve.y_label)
    axis.set_title(curve.title)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def segment_figure(segments: pd.DataFrame):
    """Test AUC per segment value (channel, company size): where the model ranks worse."""
    import matplotlib.pyplot as plt

    if "roc_auc" not in segments:  # an export without the segment columns
        figure, axis = plt.subplots(figsize=(7, 1.5))
        axis.text(0.5, 0.5, "no segment columns (channel, company size) in this data",
                  ha="center", va="center")  # fmt: skip
        axis.set_axis_off()
        return figure
    shown = segments.dropna(subset=["roc_auc"]).iloc[::-1]
    labels = shown["segment"].str.replace("_", " ") + ": " + shown["value"].astype(str)
    figure, axis = plt.subplots(figsize=(7, 0.3 * len(shown) + 1.2))
    axis.barh(labels, shown["roc_auc"], color="#2b6cb0")
    axis.set_xlim(0.5, 1.0)
    axis.set_xlabel("test AUC (0.5 = no better than chance, 1 = perfect ranking)")
    axis.set_title("Test AUC per segment")
    figure.tight_layout()
    return figure


def save_png(figure, path) -> None:
    """A PNG whose bytes depend only on the figure (no software version or date in it)."""
    figure.savefig(path, dpi=100, metadata={"Software": None})
