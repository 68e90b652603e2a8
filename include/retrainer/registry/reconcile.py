"""What a registration leaves behind besides its version: the alias its model takes. Run by every call of
`register`, so a rerun after a crash (or a concurrent registration of the same run) finishes the job.

A newly registered model becomes `champion` if there is none, else `challenger`, once: a version that any
alias ever moved to is left alone, and so is one older than the champion or challenger of the moment (a
newer model got there first; an alias never moves back to an older model by itself).
"""

from __future__ import annotations

from retrainer.registry.aliases import CHALLENGER, CHAMPION
from retrainer.registry.store import AliasMoved, Registry, RegistryError

FIRST_REASON = "first model to pass every gate"
CHALLENGER_REASON = "passed every gate; awaiting promotion"
ATTEMPTS = 200  # each lost race means another process moved the alias: progress, so this never runs out


def settle_aliases(registry: Registry, version: int, actor: str = "retrain") -> str | None:
    """Give `version` its first alias if it is due one; returns the alias moved now, or None."""
    for _ in range(ATTEMPTS):
        if any(
            e["version"] == version for name in (CHAMPION, CHALLENGER) for e in registry.alias_history(name)
        ):
            return None
        champion, challenger = registry.alias(CHAMPION), registry.alias(CHALLENGER)
        if max((a["version"] for a in (champion, challenger) if a), default=0) > version:
            return None
        try:
            if champion is None:
                registry.set_alias(CHAMPION, version, actor, FIRST_REASON, expected=None)
                return CHAMPION
            registry.set_alias(
                CHALLENGER, version, actor, CHALLENGER_REASON, expected=challenger and challenger["version"]
            )
            return CHALLENGER
        except AliasMoved:
            continue
    raise RegistryError(f"{registry.model} v{version}: aliases kept moving under {ATTEMPTS} attempts")
