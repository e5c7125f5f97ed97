"""The ``--inputs`` option of ``byzlab sim`` and ``byzlab matrix``: what each node starts with.

The kinds are ``byzlab.seeds.INPUT_KINDS``, as a scenario's ``run.inputs`` names them. A former
name ("zeros" meant all -1, "ones" all +1) is refused in one line naming the new one, as the
scenario field refuses it: an old script fails loudly rather than running something else.
"""

from __future__ import annotations

from typing import Any

import click

from byzlab.seeds import INPUT_KINDS, renamed_input_kind

__all__ = ["inputs_option"]


class _InputKind(click.Choice):  # type: ignore[type-arg]
    """A choice of ``INPUT_KINDS`` whose refusal of a renamed kind names its new name."""

    def __init__(self) -> None:
        super().__init__(INPUT_KINDS)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        renamed = renamed_input_kind(str(value))
        if renamed:
            self.fail(renamed, param, ctx)
        return super().convert(value, param, ctx)


inputs_option = click.option(
    "--inputs",
    type=_InputKind(),
    default="split",
    show_default=True,
    help="Every node's input: split alternates +1/-1; all-minus = all -1; all-plus = all +1; "
    "random draws each from the seed.",
)
