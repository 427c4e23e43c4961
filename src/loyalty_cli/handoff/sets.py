"""The files of a list's set, and which of them an earlier run wrote.

A list goes out as a set of files beside ``<stem><suffix>``: its parts ``<stem>.partNN<suffix>``, the control
group ``<stem>.control<suffix>`` (or its parts), ``<stem>.dropped.csv``, ``<stem>.changes.csv`` and
``<stem>.manifest.json`` (:func:`sibling` names them). A new set removes the files of an earlier set of the same
name that it does not write again, but only those the earlier manifest lists (:func:`set_members`); files only
named like them are left, with a note (:meth:`SetMembers.left_note`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


def sibling(path: Path, tag: str, suffix: str | None = None) -> Path:
    """``at_risk.csv`` -> ``at_risk.<tag><suffix>``."""
    return path.with_name(f"{path.stem}.{tag}{path.suffix if suffix is None else suffix}")


@dataclass(frozen=True)
class SetMembers:
    """The files in a list's folder named like its set (:func:`set_members`): ``ours``, written by an earlier run
    (its manifest lists them), which a new set may remove, and ``others``, only named like them, left alone."""

    path: Path  # the list
    ours: list[Path]
    others: list[Path]
    manifest: Path
    manifest_state: Literal["ours", "other", "missing"]  # the earlier manifest: ours for this list, not, or none

    def left_note(self, keep: Collection[Path] = ()) -> str | None:
        """A note naming the ``others`` (less ``keep``, the files the new set writes), or None."""
        left = [p for p in self.others if p not in keep]
        if not left:
            return None
        one = len(left) == 1
        them = "it" if one else "them"
        reason = {
            "ours": f"the earlier run's manifest ({self.manifest}) does not list {them}",
            "other": f"{self.manifest} was not written by loyalty for {self.path.name}",
            "missing": f"no manifest of an earlier run ({self.manifest}) lists {them}",
        }[self.manifest_state]
        return (
            f"Left {', '.join(str(p) for p in left)} as {'it is' if one else 'they are'}: named like "
            f"{'a file' if one else 'files'} of this list's set, but {reason}. Delete {them} if an earlier run left "
            f"{them}: {'it' if one else 'they'} would not belong to this list."
        )


def _manifest_listing(manifest: Path, path: Path) -> set[str] | None:
    """The names of the files that ``manifest`` lists in ``path``'s folder, when it is a manifest we wrote for the
    list ``path`` (:func:`loyalty_cli.handoff.write._manifest_text`: its ``output`` is the list's name, its files a
    treatment and a control list of entries with a path, the dropped and changes files a path or null, counts as
    numbers); else None."""
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        files = data["files"]
        entries = [entry["path"] for group in ("treatment", "control") for entry in files[group]]
        singles = [files["dropped"], files["changes"]]
        ours = (
            data["output"] == path.name
            and isinstance(data["rows_in"], int)
            and isinstance(data["rows_written"], int)
            and all(isinstance(p, str) for p in entries)
            and all(p is None or isinstance(p, str) for p in singles)
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if not ours:
        return None
    folder = os.path.abspath(path.parent)
    listed = {os.path.normpath(os.path.join(folder, p)) for p in [*entries, *singles] if p is not None}
    return {os.path.basename(p) for p in listed if os.path.dirname(p) == folder} | {manifest.name}


def _arm_names(manifest: Path) -> list[str]:
    """The arms an earlier manifest records (``arms.arms[].name``: :mod:`loyalty_cli.handoff.arms`), those named
    as arms are (letters, digits, ``_`` and ``-``); none when it records none or cannot be read."""
    try:
        arms = json.loads(manifest.read_text(encoding="utf-8")).get("arms") or {}
        names = [entry["name"] for entry in arms["arms"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []
    return [n for n in names if isinstance(n, str) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", n)]


def set_members(path: Path) -> SetMembers:
    """The files in the folder of the list ``path`` named like its set: the list or its parts
    (``<stem>.partNN<suffix>``), the control group or its parts, the arms the earlier manifest records
    (``<stem>.<arm><suffix>`` or their parts), ``<stem>.dropped.csv``, ``<stem>.changes.csv`` and
    ``<stem>.manifest.json``; split into those an earlier run wrote and the others.

    A new set removes those of an earlier run that it does not write again: left behind, a stale part would be
    uploaded, and a stale control group or manifest read by ``uplift`` as belonging to the new list. Only files
    that the earlier ``<stem>.manifest.json`` lists are an earlier run's (when it is a manifest we wrote for this
    list), and ``path`` itself (the output: a run replaces it); a file of the user's that is only named like one
    (``vip.part7.csv``, ``vip.changes.csv``) is never removed."""
    stem, suffix = re.escape(path.stem), re.escape(path.suffix)
    manifest = sibling(path, "manifest", ".json")
    groups = "|".join(["control", *(re.escape(name) for name in _arm_names(manifest))])
    pattern = re.compile(
        rf"^{stem}(?:\.(?:{groups}))?(?:\.part\d+)?{suffix}$|^{stem}\.(?:dropped\.csv|changes\.csv|manifest\.json)$"
    )
    listed = _manifest_listing(manifest, path)
    state: Literal["ours", "other", "missing"] = (
        "ours" if listed is not None else "other" if os.path.lexists(manifest) else "missing"
    )
    try:
        names = sorted(e.name for e in os.scandir(path.parent) if pattern.match(e.name) and not e.is_dir())
    except OSError:
        names = []
    ours = {path.name, *(listed or ())}
    return SetMembers(
        path=path,
        ours=[path.parent / name for name in names if name in ours],
        others=[path.parent / name for name in names if name not in ours],
        manifest=manifest,
        manifest_state=state,
    )
