"""A campaign's treatment and control lists, as a command asks for them (:class:`CampaignLists`, the
``lists`` of an :class:`~loyalty_cli.app.inputs.InputSpec`) and as :func:`~loyalty_cli.app.inputs.load_inputs`
reads them (:func:`read_lists`): one row per customer of the lists, with its group and arm."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from loyalty_cli.app.messages import Messages
from loyalty_cli.errors import UsageError, setting
from loyalty_cli.words import count

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True)
class CampaignLists:
    """A campaign's lists (``InputSpec.lists``), given one of four ways: the ``treatment`` and ``control``
    files, one list of both with a ``group_col`` column (``groups``; a column of arms when it is ``arm`` or
    ``control_arm`` is given), each test arm's files (``arms``: name and files), or the ``manifest`` written with
    a list (its files, or its arms when it records them, checked against it). ``control_arm``: the arm that is the
    control group (None: ``control``). ``id_col``: the lists' customer id column (None: found); ``by``: their
    segment column (None: found when they have one; ``none``: none). Checked when built."""

    treatment: Sequence[str] = ()
    control: Sequence[str] = ()
    groups: Sequence[str] = ()
    manifest: str | Path | None = None
    arms: Sequence[tuple[str, Sequence[str]]] = ()
    id_col: str | None = None
    group_col: str = "group"
    control_arm: str | None = None
    by: str | None = None

    def __post_init__(self) -> None:
        given = bool(self.treatment or self.control) + bool(self.groups) + (self.manifest is not None)
        if given + bool(self.arms) != 1:
            raise UsageError(
                f"Give the lists as {setting('treatment')} and {setting('control')}, or {setting('groups')}, or "
                f"{setting('manifest')}, or {setting('arm')} per arm (one of them)",
                hint=f"e.g. {setting('treatment')} at_risk.csv {setting('control')} at_risk.control.csv",
            )
        if not self.groups and self.manifest is None and not self.arms:
            _both(self.treatment, self.control)


def _both(treatment: Sequence[str], control: Sequence[str]) -> None:
    if not treatment or not control:
        raise UsageError(
            f"{setting('treatment')} needs {setting('control')} (and the other way round)",
            hint=f"The control list is the one written to NAME.control.csv by {setting('holdout_share')}.",
        )


def read_lists(lists: CampaignLists | None, messages: Messages) -> dict[str, pl.DataFrame]:
    """``lists``: ``customer_id, group`` (+ ``arm`` for test arms, + ``segment``), one row per customer of the
    lists, each in one group and arm (nothing without lists)."""
    from pathlib import Path

    from loyalty_cli.handoff.readback import check_manifest, manifest_arms, manifest_files, read_groups

    if lists is None:
        return {}
    treatment, control = list(lists.treatment), list(lists.control)
    arms, control_arm = list(lists.arms) or None, lists.control_arm
    if lists.manifest is not None:
        treatment, control = manifest_files(Path(lists.manifest))
        messages.note(check_manifest(Path(lists.manifest)))
        _both(treatment, control)
        recorded = manifest_arms(Path(lists.manifest))
        if recorded is not None:
            arms, control_arm = recorded
    rows, repeated = read_groups(
        treatment=treatment,
        control=control,
        groups=list(lists.groups) if lists.groups else None,
        arms=arms,
        id_col=lists.id_col,
        group_col=lists.group_col,
        control_arm=control_arm,
        by=lists.by,
    )
    if repeated:
        messages.note(f"{count(repeated, 'repeated row')} in the lists counted once")
    return {"lists": rows}
