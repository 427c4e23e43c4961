"""The email hand-off and control group options of the commands whose ``-o`` writes a customer list
(``--target``, ``--holdout-share``, ``--seed``, ``--arms``, ``--arm-shares``, ``--max-file-mb``, ``--columns``,
``--contacts``): declared once,
checked before anything is read, and the one way such a list is written (:mod:`loyalty_cli.handoff` does the
work)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loyalty_cli import words
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.common import (
    check_bad_rows,
    check_output,
    load,
    option_bundle,
    rejects_path,
    show_messages,
    write_rejects,
)
from loyalty_cli.cli.console import Output
from loyalty_cli.errors import UsageError

if TYPE_CHECKING:
    import polars as pl

    from loyalty_cli.handoff.write import ListSpec
    from loyalty_cli.io.columns import MappingFile
    from loyalty_cli.io.rows import Rows


@dataclass(frozen=True)
class ListOptions:
    """The email hand-off options of a list-writing command (``--target``, ``--holdout-share``, ``--seed``,
    ``--arms``, ``--arm-shares``, ``--max-file-mb``, ``--columns``, ``--contacts``), declared once by
    :func:`list_options`."""

    target: str | None = None
    holdout_share: float | None = None
    seed: str | None = None
    arms: str | None = None
    arm_shares: str | None = None
    max_file_mb: float | None = None
    columns: list[str] | None = None
    contacts: Path | None = None

    def spec(self, fmt: str | None, **more: Any) -> ListSpec:
        from loyalty_cli.handoff.arms import parse_arms
        from loyalty_cli.handoff.columns import parse_columns
        from loyalty_cli.handoff.write import ListSpec

        columns, arms = parse_columns(self.columns), parse_arms(self.arms, self.arm_shares)
        return ListSpec(
            self.target, self.holdout_share, self.seed, self.max_file_mb, fmt, columns=columns, arms=arms, **more
        )

    def check(self, output: str | None, fmt: str | None) -> None:
        """Fail on options that cannot work (exit 2) before any data is read (:meth:`write` checks again)."""
        from loyalty_cli.handoff.targets import get_target

        if self.target is not None:
            get_target(self.target)
        if self.contacts is not None and self.target is None:
            raise UsageError("--contacts needs --target", hint="e.g. --target generic --contacts contacts.csv")
        self.spec(fmt).check(output)

    def write(
        self,
        table: pl.DataFrame | Rows,
        output: str,
        *,
        fmt: str | None,
        out: Output,
        mapping: Path | MappingFile | None,
        contact_rows: pl.DataFrame | None = None,
        policy: str = "error",
        rejects: Path | None = None,
        describe: Callable[[int], str] | None = None,
        **how: Any,
    ) -> list[Path]:
        """Write a command's customer list to ``output`` with these options; the files written.

        - none given: the table as it is (``-`` = stdout) and ``Wrote <describe(n)> to FILE``; files of an
          earlier hand-off of the same name (control group, parts, manifest ...) are removed and named;
        - ``--target``: the id, email, tag and template fields (and ``--columns``: :mod:`loyalty_cli.handoff.columns`),
          the tool's headers and date format, consent and email screening, duplicates, formula cleaning (logged),
          size splitting, ``<stem>.dropped.csv``, ``<stem>.changes.csv``;
        - ``--holdout-share/--seed``: the control group in ``<stem>.control<suffix>``;
        - ``--arms/--arm-shares/--seed``: each arm in ``<stem>.<arm><suffix>`` with an ``arm`` column (nothing at
          ``output`` itself), the arm ``control`` held out;
        - either: ``<stem>.manifest.json`` (files, counts, reasons, split).

        ``how``: ``tag`` (the segment/stage/action column, written as the tool's tag), ``tag_value`` (a fixed
        tag for lists without one), ``value`` (the column whose highest value wins among duplicate emails);
        ``describe``: how to word n rows (default ``n customers``). The ``--contacts`` file is read with the
        command's ``mapping`` and ``policy`` (``--on-bad-rows``: under skip its bad rows go beside the command's
        ``rejects``, ``list.rejects.csv`` -> ``list.rejects.contacts.csv``), unless the command read its
        ``contact_rows`` already."""
        from loyalty_cli.handoff.summary import list_summary, plain_summary
        from loyalty_cli.handoff.write import write_list, write_plain_list

        describe = describe or (lambda n: words.count(n, "customer"))
        self.check(output, fmt)
        if self.target is None and self.holdout_share is None and self.arms is None:
            written, removed, notes = write_plain_list(table, output, fmt=fmt)  # Rows: a slice at a time
            show_messages(plain_summary(written, table.height, removed, notes, describe=describe), out)
            return [written] if written else []
        from loyalty_cli.io.rows import Rows

        if isinstance(table, Rows):  # screened, split and formatted whole
            table = table.collect()
        paths: list[Path] = []
        if contact_rows is None and self.contacts is not None:
            from loyalty_cli.app.inputs import InputSpec
            from loyalty_cli.io.readers import ReadOptions

            wanted = InputSpec(contacts=[str(self.contacts)], options=ReadOptions(mapping_file=mapping))
            read = load(replace(wanted, on_bad_rows=policy), out, what="contacts")  # type: ignore[arg-type]
            contact_rows, rejected = read.tables["contacts"], read.rejects["contacts"]
            if policy == "skip" and rejected.height:
                path = rejects_path(rejects, output)
                paths.append(path.with_name(f"{path.stem}.contacts{path.suffix}"))
                write_rejects([rejected], paths[-1], out)
        spec = self.spec(fmt, contacts=contact_rows, **how)
        report = write_list(table, output, spec)
        show_messages(list_summary(report, max_bytes=spec.max_bytes(report.target), describe=describe), out)
        paths += [f.path for f in [*report.treatment, *report.control]]
        return paths + [p for p in (report.dropped_path, report.changes_path, report.manifest) if p is not None]


def list_spec(options: Mapping[str, Any]) -> ListOptions:
    """The list options among a command's flat options (see :func:`loyalty_cli.cli.command.flat`)."""
    return ListOptions(**{f.name: options.get(f.name) for f in fields(ListOptions)})


#: the placeholder default of a command's ``lists`` parameter (replaced by :func:`list_options`)
NO_LIST_OPTIONS = ListOptions()
_LIST_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("target", opt.Target),
    ("holdout_share", opt.HoldoutShare),
    ("seed", opt.HoldoutSeed),
    ("arms", opt.Arms),
    ("arm_shares", opt.ArmShares),
    ("max_file_mb", opt.MaxFileMb),
    ("columns", opt.ListColumns),
    ("contacts", opt.Contacts),  # last: a command with its own --contacts input leaves it out
)
#: ``lists: ListOptions``: the email hand-off options (a command with its own --contacts input leaves that out)
list_options = option_bundle("lists", ListOptions, _LIST_OPTIONS)
list_options_without_contacts = option_bundle("lists", ListOptions, _LIST_OPTIONS[:-1])


def check_list_output(options: Mapping[str, Any], *, example: str) -> None:
    """Before reading anything, for a command whose ``-o`` writes a customer list: ``--on-bad-rows``, the
    output's suffix (or ``--format``) and the email hand-off options."""
    check_bad_rows(options["on_bad_rows"])
    check_output(options["output"], options["fmt"], example=example)
    list_spec(options).check(options["output"], options["fmt"])


def write_list(table: pl.DataFrame | Rows, options: Mapping[str, Any], out: Output, **how: Any) -> list[Path]:
    """Write a command's customer list to its ``-o`` with its hand-off options (see :meth:`ListOptions.write`;
    ``how``: tag, tag_value, value, describe, contact_rows)."""
    return list_spec(options).write(
        table,
        options["output"],
        fmt=options["fmt"],
        out=out,
        mapping=options.get("mapping"),
        policy=options.get("on_bad_rows", "error"),
        rejects=options.get("rejects"),
        **how,
    )
