"""A small project for the owners' page: the project's own contract.yaml, owner keys made for
the test, its first version agreed, a proposal with one change, and the reports the page reads.

The proposal raises A's capacity from 700 to 900 leads a month. The reports carry the figures of
a run on the built-in data (test period 2026-06-01 to 2026-08-03), and the preview what
re-grading does with the larger A grade: 406 more A leads, taken from the top of B, so B falls
below its 25 % promise. Intervals are Wilson's, as the pipeline's.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from leadscore.core import keys
from leadscore.core.agreement import meaning_hash, sign_approval
from leadscore.core.agreement_files import AgreementFiles
from leadscore.core.contract import Contract
from leadscore.core.stats import wilson_interval

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CHANGE = {"grades": {"A": {"max_leads_per_month": 900}}}
CHANGED_KEY = "contract.grades.A.max_leads_per_month"
NOTE = "sales hired two reps: raise A capacity"
MONTHS = 2.1
AVERAGE_DEAL = 56_950.0
# (leads, conversions, threshold) per grade, agreed and proposed
AGREED_GRADES = {"A": (1384, 949, 0.496), "B": (3556, 895, 0.138), "C": (1065, 104, 0.104),
                 "D": (16496, 458, None)}  # fmt: skip
PROPOSED_GRADES = {**AGREED_GRADES, "A": (1790, 1144, 0.410), "B": (3150, 700, 0.138)}
# follow-up: (grade, within business hours, share kept) for the agreed and proposed grading
AGREED_FOLLOW_UP = [("A", 24.0, 0.724), ("A", 45.0, 0.828), ("B", 45.0, 0.783)]
PROPOSED_FOLLOW_UP = [("A", 24.0, 0.680), ("A", 45.0, 0.795), ("B", 45.0, 0.790)]


@dataclass(frozen=True)
class OwnersProject:
    root: Path
    files: AgreementFiles
    private_keys: dict[str, Ed25519PrivateKey]

    def private_pem(self, role: str) -> str:
        return keys.private_pem(self.private_keys[role]).decode()

    def agreed(self) -> Contract:
        return self.files.agreed_contract()

    def proposed(self) -> Contract:
        return self.files.proposed_contract()


def make_owners_project(root: Path, reports: bool = True) -> OwnersProject:
    """The project at `root`: contract 2026.11-1 agreed by both owners, the proposal open."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_ROOT / "contract.yaml", root / "contract.yaml")
    files = AgreementFiles(root)
    private_keys = {role: keys.new_private_key() for role in ("sales", "marketing")}
    for role, key in private_keys.items():
        files.keys_dir.mkdir(parents=True, exist_ok=True)
        (files.keys_dir / f"{role}.pub").write_bytes(keys.public_pem(key.public_key()))
    agreed = files.agreed_contract()
    for role, stamp in (("sales", "2026-11-02T09:12:00Z"), ("marketing", "2026-11-02T11:40:00Z")):
        files.add_approval(sign_approval(agreed, role, private_keys[role], stamp))
    files.record_version(agreed, files.check(agreed))
    files.start_proposal(CHANGE, NOTE)
    project = OwnersProject(root, files, private_keys)
    if reports:
        write_reports(project)
    return project


def write_json(path: Path, value: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=1))


def write_reports(project: OwnersProject) -> None:
    agreed, proposed = project.agreed(), project.proposed()
    reports = project.root / "reports"
    write_json(reports / "contract.json", contract_report(agreed))
    write_json(reports / "follow_up.json", follow_up_report(agreed))
    write_json(reports / "proposal.json", proposal_report(agreed, proposed))


def grade_figures(contract: Contract, grades: dict) -> dict:
    total = sum(conversions for _, conversions, _ in grades.values())
    table = {}
    for grade, (leads, conversions, threshold) in grades.items():
        low, high = wilson_interval(conversions, leads)
        figures = {
            "leads": leads,
            "leads_per_month": leads / MONTHS,
            "conversions": conversions,
            "conversion": conversions / leads,
            "conversion_ci_low": low,
            "conversion_ci_high": high,
            "share_of_conversions": conversions / total,
            "revenue": conversions * AVERAGE_DEAL,
            "threshold": threshold,
        }
        promise = getattr(contract.grades, grade, None)
        verdicts = {}
        if promise is not None:
            kept = figures["conversion"] >= promise.min_conversion
            verdicts["conversion"] = "kept" if kept else "not kept"
            if promise.max_leads_per_month is not None:
                within = figures["leads_per_month"] <= promise.max_leads_per_month
                verdicts["capacity"] = "kept" if within else "not kept"
        figures["promise"] = promise.model_dump() if promise is not None else None
        figures["verdicts"] = verdicts
        table[grade] = figures
    return table


def contract_report(contract: Contract) -> dict:
    return {
        "contract_version": contract.version,
        "agreement": {"contract_hash": meaning_hash(contract)},
        "test_period": {"from": "2026-06-01", "to": "2026-08-03", "months": MONTHS},
        "grades": grade_figures(contract, AGREED_GRADES),
    }


def follow_up_entries(contract: Contract, shares: list) -> dict:
    entries: dict[str, list] = {}
    for (grade, _within, share), promise in zip(
        shares, [p for g in ("A", "B") for p in contract.follow_up.promises[g]], strict=True
    ):
        leads = dict(AGREED_GRADES)[grade][0]
        hits = round(share * leads)
        low, high = wilson_interval(hits, leads)
        entries.setdefault(grade, []).append(
            {
                "promise": promise.model_dump(),
                "label": promise.says,
                "leads": leads,
                "hits": hits,
                "share": hits / leads,
                "share_ci_low": low,
                "share_ci_high": high,
                "verdict": "kept" if hits / leads >= promise.min_share else "not kept",
            }
        )
    return entries


def follow_up_report(contract: Contract) -> dict:
    return {"promises": follow_up_entries(contract, AGREED_FOLLOW_UP)}


def side(contract: Contract, grades: dict, follow_up: list) -> dict:
    table = grade_figures(contract, grades)
    promises = []
    for grade in ("A", "B", "C"):
        row, promise = table[grade], getattr(contract.grades, grade)
        promises.append(
            {
                "owner": "marketing",
                "grade": grade,
                "promise": f"{grade} leads convert at {promise.min_conversion:.0%} or more",
                "actual": f"{row['conversion']:.1%} (95 % interval "
                f"{row['conversion_ci_low']:.1%}-{row['conversion_ci_high']:.1%})",
                "verdict": row["verdicts"]["conversion"],
            }
        )
        if promise.max_leads_per_month is not None:
            promises.append(
                {
                    "owner": "marketing",
                    "grade": grade,
                    "promise": f"at most {promise.max_leads_per_month} {grade} leads a month",
                    "actual": f"{row['leads_per_month']:.0f} a month",
                    "verdict": row["verdicts"]["capacity"],
                }
            )
    for grade, items in follow_up_entries(contract, follow_up).items():
        for item in items:
            promises.append(
                {
                    "owner": "sales",
                    "grade": grade,
                    "promise": item["label"],
                    "actual": f"{item['share']:.1%} within "
                    f"{item['promise']['within_business_hours']:g} business hours",
                    "verdict": item["verdict"],
                }
            )
    return {
        "grades": table,
        "capacity_holds": table["A"]["verdicts"]["capacity"] == "kept",
        "revenue": sum(c for _, c, _ in grades.values()) * AVERAGE_DEAL,
        "promises": promises,
        "publishable": True,
    }


def proposal_report(agreed: Contract, proposed: Contract) -> dict:
    files_agreement = {"contract_hash": meaning_hash(proposed), "approved_by": []}
    return {
        "open": True,
        "agreed": {
            "version": agreed.version,
            "contract_hash": meaning_hash(agreed),
            "agreed_on": "2026-11-02",
            "approved_by": agreed.owners.model_dump(),
        },  # fmt: skip
        "proposal": {
            "contract_hash": meaning_hash(proposed),
            "based_on": agreed.version,
            "note": NOTE,
            "changes": [{"key": CHANGED_KEY, "from": 700, "to": 900}],
            "agreement": files_agreement,
        },
        "needs_retrain": [],
        "test_period": {"from": "2026-06-01", "to": "2026-08-03", "months": MONTHS},
        "sides": {
            "agreed": side(agreed, AGREED_GRADES, AGREED_FOLLOW_UP),
            "proposal": side(proposed, PROPOSED_GRADES, PROPOSED_FOLLOW_UP),
        },
        "headline": "A capacity of 900 a month gives sales 406 more A leads (195 more A "
        "conversions), but B then converts at 22.2 %, below its 25 % promise.",
    }
