"""The publish gate: may this model be served? One definition for every caller.

The contract report (`views/contract.py`), the scorecard and `leadscore promote` (the MLflow
registry) all judge a model here, with the evaluate stage's metrics: the data minimum, the AUC
interval's lower end (`roc_auc_gate_low`, the worst over refits), the odds ratio and the lift of
the A grade over the base rate, the margin over the best rule profile, the leakage review's
sign-off and the owners' agreement. The grade and profile figures (conversion with its Wilson
interval, volume a month) and the test period's months (also for an undated export) are
defined here too, so the gate and the report read the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from leadscore.core import fields
from leadscore.core.agreement import Agreement, sealed_agreement
from leadscore.core.config import Params
from leadscore.core.contract import Contract, Profiles, PublishGate
from leadscore.core.contract_report import GateCheck, GateResult
from leadscore.core.errors import LeadscoreError
from leadscore.core.stats import conversion_figures, period_months
from leadscore.data.behaviour import leads_of
from leadscore.data.leakage import awaiting_sign_off, importance_shares, with_importance
from leadscore.data.profiles import fitting_mask

NO_A_LEADS = "Not assessable: no lead was graded A in the test period (see the grade's note)."
ODDS_RATIO_WHY = "odds of converting, A grade / all test leads"
REVIEW_CHECK = "fields_under_review"


# --- the figures the gate and the report share -----------------------------------------------


def group_figures(
    converted: pd.Series,
    months: float,
    base_rate: float,
    total: int,
    lead_keys: pd.Series | None = None,
) -> dict:
    """Leads, conversions, conversion with its 95 % Wilson interval, volume per month, share of
    all conversions and lift over the base rate.

    `lead_keys`: each row's lead (`behaviour.leads_of`) when rows are snapshots of leads; the
    volume a month then counts distinct leads, as sales receives them, while conversion stays
    per row (each snapshot judged over its own outcome window)."""
    leads, conversions = int(len(converted)), int(converted.sum())
    distinct = leads if lead_keys is None else int(lead_keys.nunique())
    figures = conversion_figures(conversions, leads)
    conversion = figures["conversion"]
    return {
        **figures,
        "leads_per_month": distinct / months,
        "share_of_conversions": conversions / total if total else 0.0,
        "lift": conversion / base_rate if conversion is not None and base_rate else None,
    }


def undated_months(params: Params, scored: pd.DataFrame) -> float | None:
    """The test period's months for an export without creation dates (its leads spread evenly
    over `data.export_months`, the test taking `split.test_share`); None when dates say."""
    if fields.CREATED_AT in scored:
        return None
    return params.data.export_months * params.split.test_share


def covered_months(scored: pd.DataFrame, months: float | None) -> float:
    """Months the test period covers: from creation dates, or as given for an undated export."""
    if months is not None:
        return months
    if fields.CREATED_AT not in scored:
        raise LeadscoreError(
            "the test leads have no creation dates: the length of the test period must be given "
            "(data.export_months x split.test_share)"
        )
    return period_months(scored[fields.CREATED_AT])


def profile_figures(scored: pd.DataFrame, profiles: Profiles, months: float) -> dict[str, dict]:
    """Leads and conversion of each side's rule profile on the test period."""
    converted = scored[fields.CONVERTED].astype(int)
    base_rate, total = float(converted.mean()), int(converted.sum())
    keys = leads_of(scored)
    figures = {}
    for name, profile in (("marketing", profiles.marketing), ("sales", profiles.sales)):
        fits = fitting_mask(scored, profile)
        figures[name] = group_figures(converted[fits], months, base_rate, total, keys[fits])
    return figures


# --- the checks ------------------------------------------------------------------------------


def check(required: Any, actual: Any, passed: bool, why: str, explanation: str = "") -> GateCheck:
    return GateCheck(
        required=required, actual=actual, passed=bool(passed), why=why, explanation=explanation
    )


def odds(rate: float) -> float:
    """Converted : not converted (rate / (1 - rate))."""
    return rate / (1 - rate)


def conversion_for_odds_ratio(base_rate: float, ratio: float) -> float:
    """The conversion whose odds are `ratio` times the odds of `base_rate`."""
    target = ratio * odds(base_rate)
    return target / (1 + target)


def odds_ratio_check(a_conversion: float | None, base_rate: float, required: float) -> GateCheck:
    """A leads must convert at odds `required` times the base rate's: reachable at any base rate."""
    if a_conversion is None:
        return check(required, None, False, ODDS_RATIO_WHY, NO_A_LEADS)
    if not 0 < base_rate < 1:
        return check(
            required,
            None,
            False,
            ODDS_RATIO_WHY,
            "Not assessable: the test period has only one outcome.",
        )
    needed = conversion_for_odds_ratio(base_rate, required)
    ratio = odds(a_conversion) / odds(base_rate) if a_conversion < 1 else None
    explanation = (
        f"The odds that an A lead converts (converted : not converted) must be at least "
        f"{required:g} times the odds of the average test lead. At this base rate of "
        f"{base_rate:.1%} that means A leads must convert at {needed:.1%} or more; they "
        f"converted at {a_conversion:.1%}"
        + (f" (odds ratio {ratio:.2f})" if ratio is not None else "")
        + ". Unlike a lift (A conversion / base rate), which can never exceed 1 / base rate "
        f"(here {1 / base_rate:.2f}), this bar can be met at any base rate; when conversions "
        "are rare it reads almost as a lift."
    )
    return GateCheck(
        required=required,
        actual=ratio,
        passed=bool(a_conversion >= needed - 1e-12),
        why=ODDS_RATIO_WHY,
        explanation=explanation,
        required_a_conversion=needed,
    )


def lift_check(a_conversion: float | None, base_rate: float, required: float) -> GateCheck:
    """The optional plain-lift rule, saying so when the base rate puts it out of reach."""
    if a_conversion is None:
        return check(required, None, False, "A-grade conversion / base rate", NO_A_LEADS)
    lift = a_conversion / base_rate if base_rate else 0.0
    explanation = (
        f"A leads must convert at {required:g} times the base rate: {required * base_rate:.1%}."
    )
    if base_rate and required > 1 / base_rate:
        explanation += (
            f" This cannot be reached at a base rate of {base_rate:.1%}: the largest possible "
            f"lift is 1 / base rate = {1 / base_rate:.2f}. Use min_odds_ratio_over_base_rate."
        )
    return check(required, lift, lift >= required, "A-grade conversion / base rate", explanation)


def review_check(review: dict) -> GateCheck:
    """No input the leakage review put under review may lack the contract's sign-off."""
    waiting = awaiting_sign_off(review["fields"])
    explanation = (
        "Every input the leakage review put under review must be signed off in "
        "contract.allowed_fields (known at the moment of scoring, with a reason) or excluded "
        "in contract.excluded_fields."
    )
    if waiting:
        explanation += " Waiting: " + ", ".join(waiting) + "."
    return check(
        [],
        waiting,
        not waiting,
        "inputs under leakage review without the contract's sign-off",
        explanation,
    )


def agreement_check(agreement: Agreement) -> GateCheck:
    """The promises bind only when both owners approved exactly this contract."""
    explanation = agreement.headline()
    if agreement.problems:
        explanation += " Refused: " + "; ".join(agreement.problems) + "."
    return check(
        "agreed by both owners",
        "agreed" if agreement.agreed else "not agreed",
        agreement.agreed,
        "the contract the model was graded under is agreed by both owners",
        "" if agreement.agreed else explanation,
    )


def auc_gate_low(metrics: dict) -> float | None:
    """The AUC figure the gate judges: the lower end of the widest 95 % interval over the served
    model and its refits (`roc_auc_gate_low`); the served interval's when no spread was made."""
    return metrics.get("roc_auc_gate_low", metrics.get("roc_auc_ci_low"))


def data_checks(metrics: dict, base_rate: float, gate: PublishGate) -> dict[str, GateCheck]:
    """Enough converted and unconverted test leads, and the AUC interval's lower end."""
    positives = int(round(metrics.get("base_rate", base_rate) * metrics.get("leads", 0)))
    negatives = int(metrics.get("leads", 0)) - positives
    auc_low = auc_gate_low(metrics)
    return {
        "min_positives": check(
            gate.min_positives, positives, positives >= gate.min_positives, "converted test leads"
        ),
        "min_negatives": check(
            gate.min_negatives, negatives, negatives >= gate.min_negatives, "unconverted test leads"
        ),
        "auc_lower_bound": check(
            gate.min_auc_lower_bound,
            auc_low,
            auc_low is not None and auc_low >= gate.min_auc_lower_bound,
            "lower end of the 95 % interval of the test AUC, the worst over seeds "
            "(0.5 = no signal)",
        ),
    }


def publish_gate(
    a_conversion: float | None,
    profiles: dict[str, dict],
    metrics: dict,
    base_rate: float,
    gate: PublishGate,
    review: dict | None = None,
    agreement: Agreement | None = None,
) -> GateResult:
    """May this model be served? Every check of the contract's gate, with its numbers.

    `a_conversion`: the A grade's test conversion (None: no lead was graded A). `profiles`: the
    rule profiles' figures (`profile_figures`). `metrics`: the evaluate stage's. `review`: the
    leakage review completed with the model's importance; without it the sign-off check is left
    out. `agreement`: the owners' approvals of the contract the model was graded under; a model
    graded under a proposal fails the gate.
    """
    best_name = max(profiles, key=lambda name: profiles[name]["conversion"] or 0.0)
    best_conversion = profiles[best_name]["conversion"] or 0.0
    checks = data_checks(metrics, base_rate, gate)
    checks["odds_ratio_over_base_rate"] = odds_ratio_check(
        a_conversion, base_rate, gate.min_odds_ratio_over_base_rate
    )
    if gate.min_lift_over_base_rate is not None:
        checks["lift_over_base_rate"] = lift_check(
            a_conversion, base_rate, gate.min_lift_over_base_rate
        )
    margin = None if a_conversion is None else a_conversion - best_conversion
    checks["margin_over_best_profile"] = check(
        gate.min_margin_over_best_profile,
        margin,
        margin is not None and margin >= gate.min_margin_over_best_profile,
        f"A-grade conversion minus the best rule profile's ({best_name})",
        NO_A_LEADS if margin is None else "",
    )
    if review is not None:
        checks[REVIEW_CHECK] = review_check(review)
    if agreement is not None:
        checks["agreement"] = agreement_check(agreement)
    return GateResult.of(checks)


def graded_agreement(contract: Contract, grading_record: dict) -> Agreement:
    """The owners' approvals of the contract the model was graded under (the grading's)."""
    return sealed_agreement({"contract": contract.model_dump(mode="json"), **grading_record})


def judge_leads(
    scored: pd.DataFrame,
    contract: Contract,
    grading_record: dict,
    metrics: dict,
    months: float | None,
    review: dict | None = None,
) -> GateResult:
    """The gate of a graded model on its graded test leads (`grade`, `converted` columns).

    `months`: the test period's length for an undated export (`undated_months`).
    """
    months = covered_months(scored, months)
    converted = scored[fields.CONVERTED].astype(int)
    base_rate = float(converted.mean())
    in_a = converted[scored["grade"] == "A"]
    a_conversion = int(in_a.sum()) / len(in_a) if len(in_a) else None  # as `group_figures`
    profiles = profile_figures(scored, contract.profiles, months)
    agreement = graded_agreement(contract, grading_record)
    return publish_gate(
        a_conversion, profiles, metrics, base_rate, contract.publish_gate, review, agreement
    )


def model_review(
    evidence: dict[str, dict],
    permutation_drops: dict[str, float] | None,
    model_fields: Iterable[str],
    params: Params,
) -> dict:
    """The ingest stage's leakage review (`evidence`) completed with the trained model's
    permutation importance (AUC drop per field; None when not measured): what the gate's
    sign-off check reads."""
    shares = None if permutation_drops is None else importance_shares(permutation_drops)
    leakage = params.data.leakage
    reviewed = with_importance(
        evidence, shares, model_fields, params.contract.allowed, leakage.max_importance_share
    )
    return {"thresholds": leakage.model_dump(), "fields": reviewed}
