"""A step's options as its command takes them: inputs, the options the pipeline sets, the step's own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from loyalty_cli.io.columns import MappingFile, mapping_from_tables
from loyalty_cli.pipeline.config import (
    COMMAND_INPUTS,
    EXTRA_WHEN,
    Pipeline,
    Step,
    fill,
    input_paths,
    listed,
    local_file,
)
from loyalty_cli.pipeline.staging import staged_path


def pipeline_mapping(pipeline: Pipeline) -> MappingFile:
    """The column mappings and settings of the pipeline's inputs, as a ``rules/columns.toml`` would give them
    (errors name the pipeline file)."""
    return mapping_from_tables({kind: dict(spec.mapping) for kind, spec in pipeline.inputs.items()}, pipeline.file)


def step_values(
    pipeline: Pipeline, step: Step, *, as_of: date | None, output_dir: Path, values: dict[str, str]
) -> dict[str, object]:
    """A step's option values by option name (as in the pipeline file: underscores for dashes): ``inputs`` (the
    command's positional input) and its other inputs, the options the pipeline sets, then the step's own, with
    placeholders filled and relative paths taken from the pipeline's folder (a step never depends on the
    working directory)."""
    positional, extra = COMMAND_INPUTS[step.command]
    if "target" in step.options and "contacts" not in step.options and "contacts" in pipeline.inputs:
        # a hand-off step takes the pipeline's contacts (emails and consent) unless it names its own: without
        # them its list would not be screened for consent
        extra = (*extra, "contacts")
    found: dict[str, object] = {"inputs": input_paths(pipeline, positional)} if positional else {}
    for kind in dict.fromkeys(extra):
        option, wanted = EXTRA_WHEN.get((step.command, kind), (None, None))
        if option is not None and step.options.get(option) != wanted:
            continue  # e.g. the members for a retention split by membership only
        if kind in pipeline.inputs:
            found[kind] = input_paths(pipeline, kind)
    if step.output:
        found["output"] = str(staged_path(output_dir, fill(step.output, values)))
    if as_of is not None:
        found["as_of"] = as_of.isoformat()
    found.update(quiet=True, on_bad_rows=pipeline.on_bad_rows)
    if pipeline.on_bad_rows == "skip":
        found["rejects"] = str(output_dir / f"{step.name}.rejects.csv")
    found.update(engine_values(pipeline, step))
    for key, value in step.options.items():
        items = [_step_value(pipeline, item, values) for item in listed(value)]
        found[key] = items if isinstance(value, list) else items[0]
    return found


def engine_values(pipeline: Pipeline, step: Step) -> dict[str, str]:
    """The pipeline's engine settings a step takes: every one for a step that reads transactions, less those
    its own options set; its own engine, when it differs, drops the pipeline's Spark master and remote, and its
    own master or remote drops both of the pipeline's (they would conflict)."""
    main, extras = COMMAND_INPUTS[step.command]
    if "transactions" not in (main, *extras):  # nps reads them too: for its segments and stages
        return {}
    own = {key.replace("-", "_"): value for key, value in step.options.items()}
    taken = {key: value for key, value in pipeline.engine_options.items() if key not in own}
    if own.keys() & {"spark_master", "spark_remote"} or own.get("engine", pipeline.engine) != pipeline.engine:
        taken.pop("spark_master", None)
        taken.pop("spark_remote", None)
    return taken


def _step_value(pipeline: Pipeline, item: object, values: dict[str, str]) -> object:
    """One option value: placeholders filled (a path in {output_dir} checked to stay there); a relative path
    that names a file in the pipeline's folder taken from that folder (a file that is not there is named as
    written: the error says so)."""
    if not isinstance(item, str):
        return item
    text = fill(item, values)
    if "{output_dir}" in item:
        staged_path(Path(values["output_dir"]), os.path.relpath(text, values["output_dir"]))
        return text
    return local_file(pipeline, text)


#: the output folder as a dry run's plan names it
PLAN_OUTPUT_DIR = Path("<output_dir>")


def plan(pipeline: Pipeline) -> Iterator[tuple[Step, dict[str, object]]]:
    """Each step with its option values as a dry run shows them (see :func:`step_values`): the as-of date the
    file fixes (none for latest and today), the outputs in a folder named ``<output_dir>`` (:data:`PLAN_OUTPUT_DIR`)."""
    out_dir = PLAN_OUTPUT_DIR
    values = {"as_of": pipeline.as_of, "date": date.today().isoformat(), "output_dir": str(out_dir)}
    for step in pipeline.steps:
        yield step, step_values(pipeline, step, as_of=pipeline.fixed_as_of, output_dir=out_dir, values=values)
