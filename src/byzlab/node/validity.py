"""Validity, the property (with agreement) by which a run of Byzantine agreement is judged.

A decision is valid if, when every honest node had the same input, it is that input (the
problem's validity condition, HPZ §1), and in any case some node's input (with inputs in
{-1, +1} this only rules out a decision that is no input at all, such as bottom). It is a
property of a whole run, checked from outside the protocol: by the simulator as decisions
happen and in the results of every backend. It is not validation (validation.py), which is
whether one node accepts another node's item.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def valid_decision(value: int, inputs: Sequence[int], honest: Iterable[int]) -> bool:
    """Is `value` a valid decision of a run whose nodes had `inputs`, node i having
    `inputs[i]`, and whose honest nodes are `honest`?"""
    honest_inputs = {inputs[i] for i in honest}
    return value in inputs and (len(honest_inputs) > 1 or value in honest_inputs)
