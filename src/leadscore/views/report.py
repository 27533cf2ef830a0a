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

from leadscore.core.contract_report import KEPT, KEPT_WHERE_WORKED, NO_LEADS, NOT_KEPT
from leadscore.model.grading import GRADES
from leadscore.views import format as fmt
from leadscore.views.contract_markdown import shown
from leadscore.views.leakage_review import review_rows, review_rule
from leadscore.views.nurture import nurture_page
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
    axis.yaxis.set_major_formatter(lambda v, _: f"{pct(v, 0)}")
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


STATUS_CLASS = {KEPT: "kept", NOT_KEPT: "notkept", KEPT_WHERE_WORKED: "partial", NO_LEADS: "idle"}


def status_class(verdict: str) -> str:
    """The CSS class (colour) of a verdict word: green kept, red not kept, amber kept only where
    sales worked, grey no leads. One mapping, so a word never shows in another word's colour."""
    return STATUS_CLASS.get(verdict, "idle")


def grade_promises(contract: dict) -> list[dict]:
    """Marketing's side: one row per promise of each grade (conversion, capacity)."""
    rows = []
    for grade, row in contract["grades"].items():
        promise = row["promise"] or {}
        for name, verdict in row["verdicts"].items():
            if name == "capacity":
                label = f"at most {promise['max_leads_per_month']:,} leads a month"
                achieved = f"{row['leads_per_month']:,.0f} a month"
            else:
                label = f"converts at least {pct(promise['min_conversion'], 0)}"
                achieved = pct(row["conversion"])
            rows.append(
                {"grade": grade, "promise": label, "achieved": achieved, "verdict": verdict}
            )
    return rows


def follow_up_promises(follow_up: dict | None) -> list[dict]:
    """Sales' side: one row per follow-up promise of each grade."""
    if not follow_up or not follow_up.get("promises"):
        return []
    return [
        {
            "grade": grade,
            "promise": f"contacted within {item['promise']['within_business_hours']:g} "
            "business hours",
            "says": item["label"],
            "achieved": pct(item["share"]),
            "required": pct(item["promise"]["min_share"], 0),
            "verdict": item["verdict"],
        }
        for grade, items in follow_up["promises"].items()
        for item in items
    ]


def side_sentence(side: str, rows: list[dict]) -> str:
    """'Sales' follow-up: 0 of 3 promises kept (not kept: ...).' -- judged promises only; a
    promise kept only where sales worked counts as kept (the grading held), and is named."""
    judged = [row for row in rows if row["verdict"] != NO_LEADS]
    kept = [row for row in judged if row["verdict"] in (KEPT, KEPT_WHERE_WORKED)]
    text = f"{side}: {len(kept)} of {len(judged)} promises kept"
    broken = [row for row in judged if row["verdict"] == NOT_KEPT]
    where_worked = [row for row in judged if row["verdict"] == KEPT_WHERE_WORKED]
    details = []
    if broken:
        details.append(
            "not kept: "
            + "; ".join(
                f"{row['grade']} {row['promise']}: {row['achieved']}"
                + (f" against {row['required']}" if "required" in row else "")
                for row in broken
            )
        )
    if where_worked:
        details.append(
            "kept only on the leads sales worked: "
            + "; ".join(f"{row['grade']} {row['promise']}" for row in where_worked)
        )
    return text + (f" ({'. '.join(details)})." if details else ".")


def headline(contract: dict, follow_up: dict | None = None) -> str:
    """What a department head reads first: both sides' promises, counted the same way."""
    a = contract["grades"]["A"]
    text = (
        f"A leads converted at {pct(a['conversion'])} ({a['leads_per_month']:,.0f} a month) and "
        f"brought {pct(a['share_of_conversions'])} of all conversions. "
    )
    text += side_sentence("Marketing's grades", grade_promises(contract))
    sales = follow_up_promises(follow_up)
    if sales:
        text += " " + side_sentence("Sales' follow-up", sales)
    return text


def month_below(month: dict) -> list[str]:
    """The grades of a closed month shown below their promise (the cells in red)."""
    return [grade for grade, row in month["grades"].items() if row.get("below_promise")]


def credit_summary(credit: dict | None, currency: str) -> list[tuple[str, str]]:
    """What marketing delivered and was credited, as (label, figure) pairs."""
    if not credit:
        return []
    t = credit["totals"]
    return [
        ("A leads delivered", money(t["a_leads"])),
        ("A leads worked by sales", money(t["a_worked"])),
        ("A deals won", money(t["a_won"])),
        ("revenue of won A deals", fmt.cash(t["a_won_revenue"], currency, "–")),
        ("marketing cost, all leads", fmt.cash(t["cost"], currency, "–")),
        ("cost per won A deal", fmt.cash(t["cost_per_won_a_deal"], currency, "–")),
        (
            "all deals won / revenue",
            f"{money(t['won'])} / {fmt.cash(t['won_revenue'], currency, '–')}",
        ),
    ]


def next_actions(
    contract: dict, follow_up: dict | None, credit: dict | None, currency: str
) -> list[str]:
    """The few things to look at, each with its owner and its figure."""
    actions = []
    for grade, row in contract["grades"].items():
        verdict = row["verdicts"].get("conversion")
        if verdict == NOT_KEPT:
            actions.append(
                f"Both owners: grade {grade} converted at {pct(row['conversion'])} against "
                f"{pct(row['promise']['min_conversion'], 0)}; re-check the grade's threshold or "
                "propose a new promise (leadscore contract propose)."
            )
        elif verdict == KEPT_WHERE_WORKED and row.get("worked"):
            never = row["leads"] - row["worked"]["leads"]
            actions.append(
                f"Sales: {never:,} leads graded {grade} were never worked; those worked "
                f"converted at {pct(row['worked']['conversion'])}."
            )
        if row["verdicts"].get("capacity") == NOT_KEPT:
            actions.append(
                f"Both owners: {row['leads_per_month']:,.0f} {grade} leads a month exceed sales' "
                f"capacity of {row['promise']['max_leads_per_month']:,}."
            )
    for row in follow_up_promises(follow_up):
        if row["verdict"] == NOT_KEPT:
            actions.append(
                f"Sales: {row['grade']} leads {row['promise']}: {row['achieved']} against "
                f"the {row['required']} promised."
            )
    cost = (follow_up or {}).get("a_cost")
    if cost:
        never = cost["groups"]["never worked"]["leads"]
        text = f"Sales: {never:,} A leads were never worked"
        if cost.get("deals_lost"):
            text += f"; slow or no follow-up cost about {cost['deals_lost']:.0f} deals"
            if cost.get("revenue_lost") is not None:
                text += f" ({fmt.cash(cost['revenue_lost'], currency, '–')})"
        actions.append(text + ".")
    priced = [
        row
        for row in (credit or {}).get("channels", [])
        if row.get("cost_per_won_a_deal") is not None
    ]
    if len(priced) >= 2:
        priced.sort(key=lambda row: row["cost_per_won_a_deal"])
        cheap, dear = priced[0], priced[-1]
        dearest, cheapest = (
            fmt.cash(row["cost_per_won_a_deal"], currency, "–") for row in (dear, cheap)
        )
        actions.append(
            f"Marketing: a won A deal costs {dearest} from {dear['channel']} against {cheapest}"
            f" from {cheap['channel']}: look at the budget of {dear['channel']}."
        )
    if not contract["publish_gate"]["publishable"]:
        actions.append("Data team: the model did not pass the publish gate; do not serve it.")
    return actions


def report_charts(contract: dict, funnel: dict, importance: pd.DataFrame | None) -> dict:
    """The page's charts: grades, channels (when costs are known) and drivers (when given)."""
    charts = {"grades": grade_chart(contract)}
    if any(row["cost_per_a_lead"] is not None for row in funnel["channels"].values()):
        charts["channels"] = channel_chart(funnel)
    if importance is not None:
        charts["drivers"] = drivers_chart(importance)
    return charts


def missing_by_view(views: dict[str, dict]) -> dict[str, list[str]]:
    """What each view says the data miss, by view."""
    return {
        name: [item["message"] for item in part.get("missing", [])] for name, part in views.items()
    }


def by_cost_per_a_lead(rows: dict[str, dict]) -> list[tuple[str, dict]]:
    """Channels or campaigns, the cheapest A lead first (unknown costs last)."""
    return sorted(rows.items(), key=lambda item: item[1]["cost_per_a_lead"] or math.inf)


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
    nurture: dict | None = None,
) -> str:
    """The whole page as HTML text (the follow-up, credit and nurture sections when given)."""
    from jinja2 import Environment, PackageLoader

    currency = contract["currency"]
    environment = Environment(loader=PackageLoader("leadscore.views", "templates"), autoescape=True)
    channels = by_cost_per_a_lead(funnel["channels"])
    return environment.get_template("report.html.j2").render(
        contract=contract,
        align=align,
        funnel=funnel,
        feedback=feedback,
        follow_up=follow_up,
        credit=credit,
        nurture=nurture_page(nurture),
        proposal=proposal if proposal and proposal.get("open") else None,
        paired_promises=paired_promises,
        model_version=model_version,
        charts=report_charts(contract, funnel, importance),
        channels=channels,
        campaigns=by_cost_per_a_lead(funnel.get("campaigns", {}))[:TOP_CAMPAIGNS],
        needs=missing_by_view(
            {
                "contract": contract,
                "align": align,
                "funnel": funnel,
                "feedback": feedback,
                "follow_up": follow_up or {},
                "credit": credit or {},
            }
        ),
        drivers=importance is not None,
        grades=GRADES,
        headline=headline(contract, follow_up),
        currency=currency,
        cash=partial(fmt.cash, currency=currency, missing="–"),
        status_class=status_class,
        month_below=month_below,
        grade_promises=grade_promises(contract),
        follow_up_promises=follow_up_promises(follow_up),
        credit_summary=credit_summary(credit, currency),
        actions=next_actions(contract, follow_up, credit, currency),
        pct=pct,
        money=money,
        num=num,
        shown=shown,
        review_rows=review_rows,
        review_rule=review_rule,
    )
