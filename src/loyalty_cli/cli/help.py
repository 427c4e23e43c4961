"""Help as written: the root command's group (:class:`HelpGroup`) makes every command's help plain text with
metavars a person can read (:func:`plain_help`). Everything else the CLI shows is in :mod:`loyalty_cli.cli.console`."""

from __future__ import annotations

from collections.abc import Sequence

from rich.markup import escape
from typer._click import Command, Context
from typer.core import TyperArgument, TyperGroup

# typer renders help text as rich markup, so "[surveys]" in a help text would vanish as an unknown tag, and it
# shows each option's Python type ("<list[str]>", "<bool>", "<%Y-%m-%d>"). The root command's group class walks
# every command once, when typer builds them: help texts are escaped (they are plain text, never markup), a flag
# shows nothing after its name, an option shows its declared metavar (what a person types: NAME, FILE ...) or
# one derived from its type, and an argument shows its metavar alone.


class _Argument(TyperArgument):
    """An argument shown by its metavar alone (``FILE...``), without typer's Python type."""

    def display_type_rich(self, ctx: object) -> str | None:  # noqa: ARG002
        return None

    def _usage_display_name(self) -> str:
        return self.display_name_raw if self.required else f"[{self.display_name_raw}]"


def _typed(param: object) -> str:
    """What a person types for a parameter declared without a metavar, from its type."""
    from typing import get_args

    desc = getattr(param, "type_descriptor", None)
    if desc is None:
        return "TEXT"
    if desc.is_datetime:
        return "YYYY-MM-DD" if desc.parameter_info.formats == ["%Y-%m-%d"] else "DATE"
    if desc.is_path:
        return "FILE"
    kind = get_args(desc.annotation)[0] if desc.is_list else desc.annotation
    return {int: "N", float: "NUMBER"}.get(kind, "TEXT")


def _flowing(text: str) -> str:
    """A docstring's paragraphs as flowing text: typer keeps a docstring's line breaks inside a paragraph in
    rich mode, so a terminal showed them as ragged lines."""
    import inspect
    import re

    paragraphs = re.split(r"\n\s*\n", inspect.cleandoc(text))
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split("\n")) for p in paragraphs)


def plain_help(command: Command, help_names: Sequence[str]) -> None:
    """Help as written and metavars a person can read, on ``command`` and every command under it
    (``help_names``: the names of the help option, which click adds to each command when it is first asked)."""
    if getattr(command, "_plain_help", False):
        return
    command._plain_help = True  # type: ignore[attr-defined]
    if command.help:
        command.help = _flowing(command.help)
    for field in ("help", "epilog", "short_help"):
        if getattr(command, field, None):
            setattr(command, field, escape(getattr(command, field)))
    help_option = command.get_help_option(Context(command, help_option_names=list(help_names)))
    for param in [*command.params, *([help_option] if help_option else [])]:
        if getattr(param, "help", None):
            param.help = escape(param.help)
        if getattr(param, "is_flag", False):
            param.metavar = ""
        elif param.metavar is None:
            param.metavar = _typed(param) + ("..." if isinstance(param, TyperArgument) and param.nargs != 1 else "")
        if type(param) is TyperArgument:
            param.__class__ = _Argument
    for sub in getattr(command, "commands", {}).values():
        plain_help(sub, help_names)


class HelpGroup(TyperGroup):
    """The root command: :func:`plain_help` on everything under it once typer has built it."""

    def __init__(self, **attrs: object) -> None:
        super().__init__(**attrs)  # type: ignore[arg-type]
        plain_help(self, (self.context_settings or {}).get("help_option_names", ["--help"]))
