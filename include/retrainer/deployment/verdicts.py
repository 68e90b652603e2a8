"""The daily verdict on a running challenger, from the monitoring reports of its scored days: roll it back
as soon as a figure leaves its bounds, ramp a canary after enough good days at its step, or hold.

Pure functions over the report dicts (`scoring.report.day_report`) and `params.yaml` `deployment`.
"""

from __future__ import annotations

from dataclasses import dataclass

from retrainer.deployment.state import CANARY, SHADOW

ROLLBACK, RAMP, HOLD = "rollback", "ramp", "hold"


@dataclass(frozen=True)
class Verdict:
    action: str  # rollback | ramp | hold
    reasons: list[str]

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


def breaches(report: dict, bounds: dict) -> list[str]:
    """Every figure of the challenger's day that is out of bounds, each named with its value and bound."""
    day, version = report["day"], report.get("challenger")
    out = []
    errors = report.get("challenger_error_rate")
    if errors is not None and errors > bounds["max_error_rate"]:
        problem = f" ({report['challenger_problem']})" if report.get("challenger_problem") else ""
        out.append(
            f"error rate {errors:.2%} of v{version} on {day} above {bounds['max_error_rate']:.2%}{problem}"
        )
    low, high = bounds["alert_rate_ratio"]
    ratio = report.get("alert_rate_ratio")
    if ratio is not None and not low <= ratio <= high:
        out.append(
            f"alert rate of v{version} on {day} {report['challenger_alert_rate']:.2%} is {ratio:.2f}x the "
            f"champion's {report['champion_alert_rate']:.2%} (allowed {low}x-{high}x)"
        )
    shift = report.get("challenger_psi")
    if shift is not None and shift > bounds["max_psi"]:
        out.append(
            f"score distribution of v{version} on {day} moved from its holdout scores: PSI {shift:.3f} "
            f"above {bounds['max_psi']}"
        )
    performance = report.get("performance") or {}
    if performance.get("judged"):
        mine, theirs = performance["challenger_pr_auc"], performance["champion_pr_auc"]
        if mine is not None and theirs is not None and mine < theirs - bounds["pr_auc_tolerance"]:
            out.append(
                f"PR-AUC of v{version} on {performance['rows']} matured rows "
                f"({performance['positives']} positives) "
                f"{mine:.4f} below the champion's {theirs:.4f} by more than {bounds['pr_auc_tolerance']}"
            )
    return out


def verdict(state: dict, reports: list[dict], params: dict) -> Verdict:
    """What to do with the running challenger after its latest scored day (`reports`: oldest first, the
    last one the day just scored).

    Only reports scored under the current deployment revision count: a day scored before the last move
    judged another state. Shadow never ramps: it ends by a promotion, a canary start or a rollback.
    """
    settings = params["deployment"]
    if state["mode"] not in (SHADOW, CANARY):
        return Verdict(HOLD, [f"{state['mode']} mode: no challenger runs"])
    current = [r for r in reports if r.get("deployment_revision") == state["revision"]]
    if not current:
        return Verdict(HOLD, [f"no day scored under deployment revision {state['revision']} yet"])
    latest = current[-1]
    if found := breaches(latest, settings["rollback"]):
        return Verdict(ROLLBACK, found)
    if state["mode"] == SHADOW:
        return Verdict(HOLD, [f"shadow v{state['challenger']} within bounds on {latest['day']}"])
    days, needed = len(current), settings["canary"]["min_days_per_step"]
    if days < needed:
        return Verdict(HOLD, [f"canary at {state['share']}% for {days} of {needed} days, within bounds"])
    return Verdict(RAMP, [f"canary at {state['share']}% within bounds for {days} scored days (>= {needed})"])
