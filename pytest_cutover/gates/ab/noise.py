"""Is a field's difference real, or the noise legacy makes against itself?

Each request is asked twice of legacy (or of two legacy instances) and once of new. For one
field, the requests where only new differed (b) and those where only the second legacy answer
differed (c) are the discordant pairs of McNemar's test: if new were no worse than noise, each
discordant request would fall either way with probability 1/2. The exact binomial tail stays
correct at small counts, where Diffy's fixed percentages are either blind or trigger-happy; a
field that never differs between legacy answers is real at any count, however rare.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb


@dataclass(frozen=True)
class FieldCounts:
    """Per field of one endpoint: how often new differed, how often legacy differed from itself,
    and the discordant counts of the two."""

    new_differs: int = 0
    legacy_differs: int = 0
    only_new: int = 0
    only_legacy: int = 0


@dataclass(frozen=True)
class NoiseVerdict:
    real: bool
    p_value: float | None
    explanation: str


def one_sided_p(only_new: int, only_legacy: int) -> float:
    """P(X >= only_new) for X ~ Binomial(only_new + only_legacy, 1/2), exactly."""
    trials = only_new + only_legacy
    if trials == 0:
        return 1.0
    tail = sum(comb(trials, k) for k in range(only_new, trials + 1))
    return float(tail / 2**trials)


def judge_field(counts: FieldCounts, sampled_noise: bool, alpha: float) -> NoiseVerdict:
    """`alpha` is already shared out across the fields tested (the caller's Bonferroni step)."""
    if not sampled_noise:
        return NoiseVerdict(True, None, "no noise sampling: every difference counts")
    if counts.legacy_differs == 0:
        return NoiseVerdict(True, None, "never differs between two legacy answers")
    p_value = one_sided_p(counts.only_new, counts.only_legacy)
    described = (
        f"new differs in {counts.new_differs}, legacy against itself in "
        f"{counts.legacy_differs} (only new: {counts.only_new}, only legacy: "
        f"{counts.only_legacy}; p = {p_value:.2g})"
    )
    if p_value < alpha:
        return NoiseVerdict(True, p_value, f"more often than noise explains: {described}")
    return NoiseVerdict(False, p_value, f"noise: {described}")
