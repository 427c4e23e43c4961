"""The library's references to settings (:func:`loyalty_cli.errors.setting`) worded as this CLI's options.

The library names a setting by its config field (``as_of``); on the command line that is ``--as-of``. Every
message the CLI shows passes through :func:`render`; a name with an option of another spelling is listed in
:data:`FLAGS`."""

from __future__ import annotations

import re

from loyalty_cli.errors import SETTING_CLOSE, SETTING_OPEN, LoyaltyError

#: settings whose option is not ``--`` + the name with dashes
FLAGS: dict[str, str] = {
    "stages": "--stage",  # lifecycle
    "fmt": "--format",  # every command that writes a table
}

_REFERENCE = re.compile(f"{SETTING_OPEN}([a-z][a-z0-9_]*){SETTING_CLOSE}")


def flag(name: str) -> str:
    """The option of a setting: ``on_bad_rows`` -> ``--on-bad-rows``."""
    return FLAGS.get(name, "--" + name.replace("_", "-"))


def option(key: str) -> str:
    """A command's option as a pipeline file names it, as its flag: ``cut_points`` -> ``--cut-points``. The key is
    the option's own name, not a setting's: :data:`FLAGS` does not apply."""
    return "--" + key.replace("_", "-")


def render(text: str) -> str:
    """``Check ⟨as_of⟩`` -> ``Check --as-of``."""
    return _REFERENCE.sub(lambda m: flag(m[1]), text) if SETTING_OPEN in text else text


def rendered(exc: LoyaltyError) -> LoyaltyError:
    """The error with its message and hint worded for the command line (the same object when nothing changes)."""
    message, hint = render(exc.message), render(exc.hint) if exc.hint else exc.hint
    if message == exc.message and hint == exc.hint:
        return exc
    shown = type(exc).__new__(type(exc))  # not copy.copy: subclasses take other arguments than ``args``
    shown.__dict__.update(vars(exc), message=message, hint=hint)
    shown.args = (message,)
    return shown
