"""Why one image is kept, deleted, archived or untagged: the plan's decision, then what each rule says
of the image on its own — whether it selects it, the groups it ranks it in and where, and whether its
conditions hold. Pure: the images in, text out (`ecr-cleanup explain`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from .plan import Decision, Image, RepositoryPlan, plan_repository, rule_ranks, rule_verdict
from .policy import Policy, Rule

__all__ = ["ExplainError", "explain"]


class ExplainError(LookupError):
    """The image to explain is not in the images given, or more than one image answers to it."""


def explain(
    policy: Policy, repository: str, images: Sequence[Image], now: datetime, image: Image
) -> list[str]:
    """The lines that say why `image` of `repository` goes or stays under `policy` at `now`."""
    inventory = list(images)
    plan = plan_repository(policy, repository, inventory, now)
    decision = _decision_of(plan, image.digest)
    tags = ", ".join(image.tags) or "untagged"
    days = (now - image.pushed_at).days
    lines = [
        f"{repository} {image.digest} ({tags}), pushed {image.pushed_at:%Y-%m-%d} ({days} days before now)",
        f"  decision: {decision.action.value}: {decision.reason}",
    ]
    if decision.removed:
        lines.append(f"  removes: {', '.join(decision.removed)}")
    for rule in policy.rules:
        lines += _rule_lines(rule, repository, inventory, now, image)
    lines.append(
        "  (offline: images in use and the children of image indexes are not seen; `plan` reads them)"
    )
    return lines


def _rule_lines(rule: Rule, repository: str, images: list[Image], now: datetime, image: Image) -> list[str]:
    if not rule.repositories.matches(repository):
        return [f"  {rule.label}: does not apply to {repository}"]
    matches, said = rule_verdict(rule, images, now, image.digest)
    if matches:
        verdict = f"matches ({rule.action.value}){': ' + said if said else ''}"
    elif not said:
        verdict = "does not select it"
    else:
        verdict = f"spares it: {said.removeprefix(rule.label + ': ')}"
    lines = [f"  {rule.label}: {verdict}"]
    ranks = rule_ranks(rule, images).get(image.digest)
    if ranks:
        shown = "; ".join(f"{group} {rank} of {size}" for group, rank, size in ranks)
        lines.append(f"    ranked (keep_latest {rule.keep_latest}): {shown}")
    return lines


def _decision_of(plan: RepositoryPlan, digest: str) -> Decision:
    for decisions in (plan.delete, plan.archive, plan.untag, plan.keep, plan.deferred):
        for decision in decisions:
            if decision.image.digest == digest:
                return decision
    raise ExplainError(f"{digest}: not in the plan")
