"""Report stage: `reports/report.html`, one self-contained page for the two department heads.

The contract and its verdicts, conversion by grade, channel economics, the profile comparison,
the top drivers and the monthly feedback, from the JSON reports of the earlier stages. Charts
are embedded PNGs; the page makes no external request. A section whose data the export lacks
shows what it needs and the configuration key that provides it (the reports' `missing`).
"""

from __future__ import annotations

import base64
import io
import logging
import math
from functools import partial

import pandas as pd

from leadscore.model.grading import GRADES
from leadscore.views import format as fmt
from leadscore.views.contract import (
    KEPT_WHERE_WORKED,
    NOT_KEPT,
    review_rows,
    review_rule,
    shown,
)
from leadscore.views.proposal import paired_promises

log = logging.getLogger(__name__)

TOP_CAMPAIGNS = 10  # campaigns shown on the page (all are in reports/funnel.{json,md})


# The page marks a missing value with an en dash (the Markdown reports use a hyphen).
pct = partial(fmt.pct, missing="–")
money = partial(fmt.money, missing="–")
num = partial(fmt.num, missing="–")


def png(figure) -> str:
    """A matplotlib figure as base64 PNG text for a data: URI; closes the figure."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def grade_chart(contract: dict) -> str:
    """Achieved conversion per grade with its 95 % interval, and the promise as a marker."""
    import matplotlib.pyplot as plt

    grades = list(contract["grades"])
    rows = [contract["grades"][g] for g in grades]
    achieved = [r["conversion"] or 0.0 for r in rows]
    errors = [
        [a - r["conversion_ci_low"] for a, r in zip(achieved, rows, strict=True)],
        [r["conversion_ci_high"] - a for a, r in zip(achieved, rows, strict=True)],
    ]
    figure, axis = plt.subplots(figsize=(7, 3.2))
    axis.bar(grades, achieved, yerr=errors, color="#3e7cb1", capsize=4, label="achieved")
    promised = [
        (g, r["promise"]["min_conversion"])
        for g, r in zip(grades, rows, strict=True)
        if r["promise"]
    ]
    axis.scatter(
        [g for g, _ in promised],
        [p for _, p in promised],
        marker="_",
        s=900,
        color="#b42318",
        linewidths=3,
        label="promise (minimum)",
        zorder=3,
    )
    axis.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    axis.set_ylabel("converted within the window")
    axis.legend(frameon=False)
    axis.spines[["top", "right"]].set_visible(False)
    return png(figure)


def channel_chart(funnel: dict) -> str:
    """Cost per A lead by channel, cheapest first."""
    import matplotlib.pyplot as plt

    rows = sorted(
        (
            (name, row["cost_per_a_lead"])
            for name, row in funnel["channels"].items()
            if row["cost_per_a_lead"] is not None
        ),
        key=lambda item: item[1],
    )
    figure, axis = plt.subplots(figsize=(7, 3.4))
    axis.barh([name for name, _ in rows][::-1], [cost for _, cost in rows][::-1], color="#5b8c5a")
    axis.set_xlabel("cost per A lead")
    axis.spines[["top", "right"]].set_visible(False)
    return png(figure)


def drivers_chart(importance: pd.DataFrame, top: int = 10) -> str:
    """The strongest input fields by permutation importance (AUC points lost when shuffled)."""
    import matplotlib.pyplot as plt

    rows = importance.sort_values("rank").head(top)[::-1]
    figure, axis = plt.subplots(figsize=(7, 3.4))
    axis.barh(
        rows["field"],
        rows["permutation_auc_mean"],
        xerr=rows["permutation_auc_std"],
        color="#8e6c8a",
    )
    axis.set_xlabel("AUC lost when the field is shuffled")
    axis.spines[["top", "right"]].set_visible(False)
    return png(figure)


def headline(contract: dict) -> str:
    """One sentence a department head can act on."""
    verdicts = [
        (f"{grade} ({name})", verdict)
        for grade, row in contract["grades"].items()
        for name, verdict in row["verdicts"].items()
    ]
    broken = [name for name, verdict in verdicts if verdict == NOT_KEPT]
    where_worked = [name for name, verdict in verdicts if verdict == KEPT_WHERE_WORKED]
    a = contract["grades"]["A"]
    text = (
        f"A leads converted at {pct(a['conversion'])} ({a['leads_per_month']:,.0f} a month) and "
        f"brought {pct(a['share_of_conversions'])} of all conversions. "
    )
    if where_worked:
        text += (
            "Kept only on the leads sales worked (the rest were never worked: see the follow-up"
            " view): " + ", ".join(where_worked) + ". "
        )
    if broken:
        return text + "Promises not kept: " + ", ".join(broken) + "."
    if where_worked:
        return text + "Every other promise of the contract was kept in the test period."
    return text + "Every promise of the contract was kept in the test period."


def render_report(
    contract: dict,
    align: dict,
    funnel: dict,
    feedback: dict,
    model_version: str,
    importance: pd.DataFrame | None = None,
    follow_up: dict | None = None,
    credit: dict | None = None,
    proposal: dict | None = None,
) -> str:
    """The whole page as HTML text (the follow-up and credit sections when given)."""
    from jinja2 import Environment, PackageLoader

    environment = Environment(loader=PackageLoader("leadscore.views", "templates"), autoescape=True)
    charts = {"grades": grade_chart(contract)}
    if any(row["cost_per_a_lead"] is not None for row in funnel["channels"].values()):
        charts["channels"] = channel_chart(funnel)
    if importance is not None:
        charts["drivers"] = drivers_chart(importance)
    channels = sorted(
        funnel["channels"].items(), key=lambda item: item[1]["cost_per_a_lead"] or math.inf
    )
    return environment.get_template("report.html.j2").render(
        contract=contract,
        align=align,
        funnel=funnel,
        feedback=feedback,
        follow_up=follow_up,
        credit=credit,
        proposal=proposal if proposal and proposal.get("open") else None,
        paired_promises=paired_promises,
        model_version=model_version,
        charts=charts,
        channels=channels,
        campaigns=sorted(
            funnel.get("campaigns", {}).items(),
            key=lambda item: item[1]["cost_per_a_lead"] or math.inf,
        )[:TOP_CAMPAIGNS],
        needs={
            name: [item["message"] for item in part.get("missing", [])]
            for name, part in (
                ("contract", contract),
                ("align", align),
                ("funnel", funnel),
                ("feedback", feedback),
                ("follow_up", follow_up or {}),
                ("credit", credit or {}),
            )
        },
        drivers=importance is not None,
        grades=GRADES,
        headline=headline(contract),
        pct=pct,
        money=money,
        num=num,
        shown=shown,
        review_rows=review_rows,
        review_rule=review_rule,
    )
