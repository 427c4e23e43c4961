"""Which column of an export holds which canonical field: explicit options, a mapping file, or detection.

Order of precedence: the column options (e.g. the customer column), then the mapping file (``rules/columns.toml``), then
auto-detection by header name. Every choice is reported back so the user sees what was picked.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from loyalty_cli.errors import ConfigError, DataError, RulesError, setting
from loyalty_cli.io.overlap import ON_OVERLAP
from loyalty_cli.io.userfiles import read_toml
from loyalty_cli.memory import parse_memory_limit
from loyalty_cli.schema import TABLES, Field, normalise_header
from loyalty_cli.words import did_you_mean

# Keys a mapping file may hold besides column names, per table, with an example of each.
SETTING_EXAMPLES = {
    "date_format": '"%d/%m/%Y %H:%M"',
    "separator": '";" (or "\\t" for tab, "whitespace")',
    "encoding": '"latin-1" (or "utf-8", "cp1252")',
    "decimal_comma": "true (no quotes; for amounts written 12,50)",
    "cancel_prefix": '"C" (or "" for none)',
    "on_overlap": '"keep-first" (or "error")',
}
SETTING_KEYS = set(SETTING_EXAMPLES)
WHITESPACE_WORDS = ("whitespace", "space", "spaces")
# Tables whose columns have no command-line options: they are mapped in the mapping file only.
MAPPING_FILE_ONLY = ("members", "points")
# Keys at the top of a mapping file, before its tables: where stage 1 runs (as in a pipeline file), with an
# example of each.
ENGINE_EXAMPLES = {
    "engine": '"spark" (or "polars", the default)',
    "spark_master": '"yarn" (or "local[*]", "spark://host:7077"), beside engine = "spark"',
    "spark_remote": '"sc://host:15002" (a Spark Connect server), beside engine = "spark"',
    "memory_limit": '"1GB" (or "512MB", "1.5GiB", "none")',
}
ENGINE_KEYS = tuple(ENGINE_EXAMPLES)


@dataclass(frozen=True)
class ColumnChoice:
    """Canonical field -> header in the file, and how each was chosen."""

    columns: dict[str, str]
    how: dict[str, str]  # field -> "option" | "mapping file" | "detected" | "email as id"

    def describe(self) -> list[str]:
        return [f"{name} <- {header!r} ({self.how[name]})" for name, header in self.columns.items()]


@dataclass(frozen=True)
class MappingFile:
    path: Path | None
    columns: dict[str, dict[str, str]] = field(default_factory=dict)  # table -> field -> header
    settings: dict[str, dict[str, object]] = field(default_factory=dict)  # table -> setting -> value
    # where stage 1 runs (keys of ENGINE_KEYS the file sets at its top, the values as written); the command line
    # wins over them
    engine: dict[str, str] = field(default_factory=dict)


def load_mapping_file(path: Path | MappingFile | None) -> MappingFile:
    """Read a ``columns.toml``: one table per input kind, ``field = "Header"`` lines, optional settings (a
    mapping given as data, e.g. a pipeline's inputs, is taken as it is)."""
    if isinstance(path, MappingFile):
        return path
    if path is None:
        return MappingFile(path=None)
    return mapping_from_tables(read_toml(path, what="Mapping"), path)


def mapping_from_tables(data: dict[str, object], path: Path) -> MappingFile:
    """A mapping from its tables as a ``columns.toml`` holds them (``path``: the file they came from, named in
    every error), checked the same way."""
    columns: dict[str, dict[str, str]] = {}
    settings: dict[str, dict[str, object]] = {}
    engine = engine_keys(data, path)
    for table, entries in data.items():
        if table in ENGINE_KEYS:
            continue
        if table not in TABLES:
            tables = ", ".join(f"[{t}]" for t in TABLES)
            if not isinstance(entries, dict):
                raise RulesError(
                    f"{path}: unknown key {table!r}",
                    hint=f"{did_you_mean(table, ENGINE_KEYS)}Keys at the top of the file are "
                    f"{', '.join(ENGINE_KEYS)}; tables are {tables}.",
                )
            raise RulesError(f"{path}: unknown table [{table}]", hint=f"Tables are {tables}.")
        if not isinstance(entries, dict):
            raise RulesError(f'{path}: [{table}] must be a table of field = "Header" lines')
        known = {f.name for f in TABLES[table]}
        for key, value in entries.items():
            if key in ENGINE_KEYS:
                raise RulesError(
                    f"{path}: [{table}] {key}: where stage 1 runs is set at the top of the file, not in a table",
                    hint=f"Move {key} = ... above the first [table] line (TOML puts the keys after a [table] line "
                    "in that table).",
                )
            if key in SETTING_KEYS:
                settings.setdefault(table, {})[key] = check_setting(f"{path}: [{table}] {key}", key, value)
            elif key in known:
                if not isinstance(value, str) or not value:
                    raise RulesError(
                        f"{path}: [{table}] {key} must be a header name in quotes",
                        hint=f"Put the column's header in quotes, e.g. {key} = "
                        f'"{key.replace("_", " ").title().replace(" ", "")}", got {value!r}.',
                    )
                columns.setdefault(table, {})[key] = value
            else:
                raise RulesError(
                    f"{path}: [{table}] has unknown field {key!r}",
                    hint=f"Fields are {', '.join(sorted(known))}; settings are {', '.join(sorted(SETTING_KEYS))}.",
                )
    return MappingFile(path=path, columns=columns, settings=settings, engine=engine)


def engine_keys(data: dict[str, object], path: Path) -> dict[str, str]:
    """The top-level ``engine``, ``spark_master``, ``spark_remote`` and ``memory_limit`` of a mapping file, checked
    as a pipeline file's (a Spark master or remote only beside ``engine = "spark"``, not both), the values as
    written (a size in bytes as its digits); a bad one is a ``RulesError`` naming the file and the key."""
    found: dict[str, str] = {}
    for key in ENGINE_KEYS:
        if key not in data:
            continue
        value, where, hint = data[key], f"{path}: {key}", f"e.g. {key} = {ENGINE_EXAMPLES[key]}."
        if key == "memory_limit":
            found[key] = _memory_limit(value, where, hint)
            continue
        if not (isinstance(value, str) and value.strip()):
            raise RulesError(f"{where} must be text in quotes, got {value!r}", hint=hint)
        if key == "engine" and value not in ("polars", "spark"):
            raise RulesError(f"{where} must be polars or spark, got {value!r}", hint=hint)
        if key == "spark_remote" and not value.startswith("sc://"):
            raise RulesError(f"{where} must be a Spark Connect URL such as sc://host:15002, got {value!r}", hint=hint)
        found[key] = value
    for key in ("spark_master", "spark_remote"):
        if key in found and found.get("engine") != "spark":
            raise RulesError(
                f'{path}: {key} needs engine = "spark" in the same file',
                hint=f'Add engine = "spark" above {key}, or remove {key}.',
            )
    if "spark_master" in found and "spark_remote" in found:
        raise RulesError(
            f"{path}: spark_remote: give a Spark master or a Spark Connect remote, not both",
            hint="Keep spark_master (local[*], yarn, spark://host:7077) or spark_remote (sc://host:15002).",
        )
    return found


def _memory_limit(value: object, where: str, hint: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RulesError(f"{where} must be a size in quotes, got {value!r}", hint=hint)
    try:
        parse_memory_limit(value)
    except ConfigError:
        raise RulesError(f"{where} must be a size such as 1GB or none, got {value!r}", hint=hint) from None
    return str(value)


def check_setting(where: str, key: str, value: object) -> object:
    """A reading setting (:data:`SETTING_KEYS`) with the type the readers need, else a ``RulesError`` starting
    with ``where`` (e.g. ``columns.toml: [transactions] separator``)."""
    hint = f"e.g. {key} = {SETTING_EXAMPLES[key]}."
    if key == "decimal_comma":
        if not isinstance(value, bool):
            raise RulesError(f"{where} must be true or false (without quotes), got {value!r}", hint=hint)
        return value
    if not isinstance(value, str):
        raise RulesError(f"{where} must be text in quotes, got {value!r}", hint=hint)
    if key == "separator" and len(value) != 1 and value.lower() not in WHITESPACE_WORDS:
        raise RulesError(f'{where} must be one character or "whitespace", got {value!r}', hint=hint)
    if key == "encoding":
        try:
            codecs.lookup(value)
        except LookupError:
            raise RulesError(f"{where}: unknown encoding {value!r}", hint=hint) from None
    if key == "on_overlap" and value not in ON_OVERLAP:
        raise RulesError(f"{where} must be error or keep-first, got {value!r}", hint=hint)
    if key == "date_format" and "%" not in value:
        raise RulesError(f"{where} must be a strftime pattern such as %d/%m/%Y, got {value!r}", hint=hint)
    return value


def _match(headers: Sequence[str], wanted: str, *, path: Path, fld: Field, source: str) -> str:
    if wanted in headers:
        return wanted
    by_norm = [h for h in headers if normalise_header(h) == normalise_header(wanted)]
    if len(by_norm) == 1:
        return by_norm[0]
    raise DataError(
        f"Column {wanted!r} (for {fld.name}, from the {source}) is not in {path}",
        hint=f"Columns in the file: {', '.join(repr(h) for h in headers)}.",
    )


def resolve_columns(
    headers: Sequence[str],
    *,
    table: str,
    path: Path,
    options: Mapping[str, str | None],
    mapping_file: MappingFile,
    derived_ok: Mapping[str, Sequence[str]] | None = None,
    required: Sequence[str] = (),
) -> ColumnChoice:
    """Pick the header for every field. ``derived_ok`` lists required fields that other fields can replace
    (amount <- quantity x unit_price); ``required``: optional fields the caller needs all the same (the product
    of ``loyalty products``), missing as a required one is."""
    fields = TABLES[table]
    chosen, how = _named_columns(headers, fields, table, path, options, mapping_file)
    _detect_columns(headers, fields, path, chosen, how)
    if table in ("transactions", "contacts") and "customer_id" not in chosen and "email" in chosen:
        chosen["customer_id"] = chosen["email"]
        how["customer_id"] = "email as id"
    _require_columns(headers, fields, table, path, chosen, derived_ok or {}, required)
    ordered = {f.name: chosen[f.name] for f in fields if f.name in chosen}
    return ColumnChoice(columns=ordered, how={k: how[k] for k in ordered})


def _named_columns(
    headers: Sequence[str],
    fields: Sequence[Field],
    table: str,
    path: Path,
    options: Mapping[str, str | None],
    mapping_file: MappingFile,
) -> tuple[dict[str, str], dict[str, str]]:
    """The headers named for fields by the options, else by the mapping file (field -> header, field -> how)."""
    chosen: dict[str, str] = {}
    how: dict[str, str] = {}
    file_cols = mapping_file.columns.get(table, {})
    for fld in fields:
        if options.get(fld.name):
            chosen[fld.name] = _match(headers, options[fld.name] or "", path=path, fld=fld, source="options")
            how[fld.name] = "option"
        elif fld.name in file_cols:
            chosen[fld.name] = _match(
                headers, file_cols[fld.name], path=path, fld=fld, source=f"mapping file {mapping_file.path}"
            )
            how[fld.name] = "mapping file"
    return chosen, how


def _detect_columns(
    headers: Sequence[str], fields: Sequence[Field], path: Path, chosen: dict[str, str], how: dict[str, str]
) -> None:
    """Add to ``chosen`` the header found by its aliases for each field not named (a header is taken once)."""
    taken = set(chosen.values())
    norm = {h: normalise_header(h) for h in headers}
    for fld in fields:
        if fld.name in chosen:
            continue
        for alias in fld.aliases:
            hits = [h for h in headers if norm[h] == alias and h not in taken]
            if len(hits) > 1:
                raise DataError(
                    f"Ambiguous column for {fld.name} in {path}: {', '.join(repr(h) for h in hits)}",
                    hint=f"Choose one with {setting(option_setting(fld.name))} or in the mapping file.",
                )
            if hits:
                chosen[fld.name] = hits[0]
                how[fld.name] = "detected"
                taken.add(hits[0])
                break


def _require_columns(
    headers: Sequence[str],
    fields: Sequence[Field],
    table: str,
    path: Path,
    chosen: Mapping[str, str],
    derived_ok: Mapping[str, Sequence[str]],
    required: Sequence[str] = (),
) -> None:
    """The error for the first required field (or field of ``required``) without a column (and that other columns
    cannot replace)."""
    for fld in fields:
        if not (fld.required or fld.name in required) or fld.name in chosen:
            continue
        if fld.name in derived_ok and all(f in chosen for f in derived_ok[fld.name]):
            continue
        option = setting(option_setting(fld.name))
        how_to = (
            f"Name it in a [{table}] table of the mapping file ({setting('mapping')}, default "
            f'rules/columns.toml), e.g. {fld.name} = "Header"'
            if table in MAPPING_FILE_ONLY
            else f"Name it with {option} COLUMN or in rules/columns.toml"
        )
        raise DataError(
            f"No {fld.name} column in {path} ({fld.description})",
            hint=f"{how_to}. Columns in the file: {', '.join(repr(h) for h in headers)}.",
        )


def option_stem(field_name: str) -> str:
    """customer_id -> customer, order_date -> date, unit_price -> price: the CLI option names."""
    return {
        "customer_id": "customer",
        "order_date": "date",
        "order_id": "order",
        "unit_price": "price",
        "responded_at": "date",
    }.get(field_name, field_name.replace("_", "-"))


def option_setting(field_name: str) -> str:
    """The setting that names the column of a field: customer_id -> customer_col, email_consent ->
    email_consent_col."""
    return option_stem(field_name).replace("-", "_") + "_col"
