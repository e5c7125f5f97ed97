"""The coin planner: the corrupted writers' shared plan for the last word on an even board.

HPZ §2.2 and Lemma 6; the strategies that follow the plan are in coins.py (mirror-mimic,
coin-interval), the scheduler that delivers it is adversary/schedulers/coins.py (coin-aware).

A corrupted node may be as slow as it likes, so it can leave its column of the even board
BB_2t empty until every honest column is out, and then write its cells knowing all the
honest coins. Under the acknowledged-writes blackboard (node/blackboard.py, HPZ Theorem
1.2) that is all the lateness buys: every cell after its first needs n - f Acks covering
the previous one, so the coin-aware scheduler must keep the honest nodes from completing
the board while the corrupted columns are written (it holds the last rows of the honest
writers outside a set X whose Acks, with the corrupted ones, make the n - f), and every
cell that is followed by another is in every honest view. What stays open is the last cell
of each corrupted column: the corrupted node never sends its Done, so that *swing cell* is
in the views of the honest nodes that validate it before their fixing quorum of Completes
(the plan's `plus` nodes) and in no other. That is one cell per corrupted writer, f cells
in all, exactly what Theorem 1.2 allows.

The plan (made once, by whichever corrupted node first sees every honest column out)
fixes each corrupted column's full sum X_b and its swing sign s, so the board's total is
`final` for the plus nodes and `final - sum_b w_b (clip(X_b) - clip(X_b - s))` for the
others. The coin splits only if these have different signs, which needs the total within
about sum_b w_b of 0: the corrupted columns must counteract bias + Sigma_G (Lemma 4,
Lemma 6.3), and blacklisting shrinks w_b. The rule that picks the sums is the attack's:
coin-interval prefers any split and otherwise the total nearest 0 (HPZ's forced strategy);
mirror-mimic sets Sigma_B = -Sigma_G or +Sigma_G by §2.2's rule and splits only when that
happens to land in the window. The plus nodes are chosen so that the values going into
the next iteration are as balanced as possible; a corrupted node's own view holds every
swing cell, so it carries the plus side's coin.

What is gone with the old blackboard (views fixed on n - f full columns): showing honest
nodes different prefixes of a corrupted column (a swing of up to m cells per writer),
holding the last honest coin row while the corrupted columns land, and writing the odd
column late to choose the bias (a late odd cell gets no honest Acks: honest nodes ack only
their first uncompleted board, so at most one cell could land, and the corrupted node
would then be stuck behind a Done nobody can acknowledge).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

from byzlab.adversary.view import AdversaryView, CoinPlan
from byzlab.node.blacklist import WEIGHT_ONE
from byzlab.node.coin import clip, sgn

__all__ = ["MAX_PLAN_COMBOS", "RuleOfSums", "plan_last_word"]

RuleOfSums = Callable[[int], str]

MAX_PLAN_COMBOS = 50_000


def _column_cells(total: int, swing: int) -> list[int]:
    """A column whose cells sum to `total` and whose last cell is `swing`: the shortest."""
    rest = total - swing
    return [sgn(rest)] * abs(rest) + [swing]


def plan_last_word(
    view: AdversaryView,
    iteration: int,
    weights: Sequence[int],
    writers: Sequence[int],
    mode_for: RuleOfSums,
    now: float,
) -> CoinPlan:
    """The corrupted writers' plan for BB_{2 iteration}, once every honest column is out.

    Totals are in the fixed point of node/coin.py (bias * WEIGHT_ONE + sum_j w_j X_j), so the
    expected coins are the ones the nodes will compute. `mode_for(honest_sum)` names the rule
    for the corrupted sums: "interval" (a split if any, else the total nearest 0), "mirror"
    (Sigma_B nearest -Sigma_G) or "mimic" (Sigma_B nearest +Sigma_G); mirror and mimic still
    take a split among the sums that are equally near their target."""
    params = view.params
    board = 2 * iteration
    m, xmax = params.rows(board), params.xmax
    writers = sorted(writers)
    honest_sum = sum(weights[j] * clip(view.column_sum(board, j), xmax) for j in view.honest)
    others = sum(
        weights[j] * clip(view.column_sum(board, j), xmax)
        for j in view.byzantine
        if j not in writers
    )
    base = view.bias(iteration) * WEIGHT_ONE + honest_sum + others
    stage1 = view.votes.get((iteration, 4), {})
    keepers = {p: v for p, v in stage1.items() if v and p in view.honest}
    mode = mode_for(honest_sum)
    target = -honest_sum if mode == "mirror" else honest_sum
    top = min(m, xmax + 1)  # beyond xmax + 1 a column only adds clipped cells
    sums = sorted(range(-top, top + 1), key=lambda x: (abs(x), x))
    contrib = [{x: weights[b] * clip(x, xmax) for x in range(-top - 1, top + 2)} for b in writers]
    best: tuple[tuple[float, ...], tuple[int, ...], int, int, int] | None = None
    for combo in itertools.islice(itertools.product(sums, repeat=len(writers)), MAX_PLAN_COMBOS):
        corrupted = sum(c[x] for c, x in zip(contrib, combo, strict=True))
        final = base + corrupted
        for swing in (1, -1):
            if any(abs(x - swing) > m - 1 for x in combo):
                continue
            without = base + sum(c[x - swing] for c, x in zip(contrib, combo, strict=True))
            split = sgn(without) != sgn(final)
            if mode == "interval":
                key: tuple[float, ...] = (not split, abs(final))
            else:
                key = (abs(corrupted - target), not split, abs(final))
            if best is None or key < best[0]:
                best = (key, combo, swing, final, without)
    assert best is not None
    _, combo, swing, final, without = best
    cells = {b: _column_cells(x, swing) for b, x in zip(writers, combo, strict=True)}
    # Columns of one length go in lockstep: a corrupted node that has written its swing cell
    # acks nothing the honest nodes can validate before they see that cell, so a shorter
    # column would leave the longer ones short of Acks. Pad with pairs that sum to 0.
    longest = max((len(c) for c in cells.values()), default=0)
    for b, c in cells.items():
        pairs = (longest - len(c)) // 2
        cells[b] = c[:-1] + [1, -1] * pairs + c[-1:]
    coins: dict[int, int] = dict(keepers)
    plus: frozenset[int] = frozenset()
    flexible = sorted(p for p in view.honest if p not in keepers)
    up, down = sgn(final), sgn(without)
    coins.update(dict.fromkeys(view.byzantine, up))
    if up != down and flexible:
        fixed = list(keepers.values()) + [up] * len(view.byzantine)
        best_p: tuple[int, int] | None = None
        for p in range(len(flexible) + 1):
            values = fixed + [up] * p + [down] * (len(flexible) - p)
            honest_values = list(keepers.values()) + [up] * p + [down] * (len(flexible) - p)
            if len(set(honest_values)) < 2:
                continue
            imbalance = abs(sum(values))
            if best_p is None or (imbalance, p) < best_p:
                best_p = (imbalance, p)
        if best_p is not None:
            plus = frozenset(flexible[len(flexible) - best_p[1] :]) if best_p[1] else frozenset()
    for p in flexible:
        coins[p] = up if p in plus else down
    honest_coins = {coins[p] for p in view.honest}
    return CoinPlan(
        iteration=iteration,
        cells=cells,
        plus=plus,
        coins=coins,
        split=len(honest_coins) > 1,
        keepers=frozenset(keepers),
        final_total=final / WEIGHT_ONE,
        honest_sum=honest_sum / WEIGHT_ONE,
        corrupted_sum=(final - base) / WEIGHT_ONE,
        mode=mode,
        made_at=now,
    )
