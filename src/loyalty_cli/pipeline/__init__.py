"""Pipelines for ``loyalty run``: a TOML file of inputs, an as-of policy and steps, validated on load.

A pipeline runs the same commands a person types, in one process, with the inputs read once
(:func:`loyalty_cli.stage1.shared_reads`), the as-of date resolved once, and every relative path taken from
the pipeline file's folder, so a cron job can run it from anywhere::

    as_of = "latest"                  # latest (day after the last transaction), today, or 2024-07-01
    output_dir = "out/{as_of}"        # placeholders: {as_of}, {date} (the day of the run), {output_dir}
    on_bad_rows = "skip"              # error (default) or skip (rejected rows go to <step>.rejects.csv)
    memory_limit = "1GB"              # optional, for every step that reads transactions (a step's options win);
                                      # also engine = "spark", spark_master = "yarn", spark_remote = "sc://..."

    [inputs.transactions]             # also surveys, contacts, members and points
    path = "exports/orders/"          # a file, a folder, a glob, or a list of them
    customer_id = "CustomerID"        # optional: column mapping and settings, as in rules/columns.toml

    [[steps]]
    command = "segment"               # segment, cltv, nps, retention, churn, second-purchase, next-order,
                                      # lifecycle, products, plan-test, report, program
    output = "segments.csv"           # in output_dir
    options = { rules = "rfm_grid", bins = 5 }   # the command's options, without the dashes

The package: :mod:`~loyalty_cli.pipeline.config` (what the file may say, and its values),
:mod:`~loyalty_cli.pipeline.load` (the file, loaded and checked), :mod:`~loyalty_cli.pipeline.steps`
(a step's options as its command takes them), :mod:`~loyalty_cli.pipeline.locks` (one run at a time) and
:mod:`~loyalty_cli.pipeline.staging` (staging, then switching the outputs as a unit).
"""

from loyalty_cli.pipeline.config import (
    COMMAND_INPUTS,
    ENGINE_KEYS,
    INPUT_KINDS,
    REQUIRED_EXTRAS,
    RESERVED,
    RULES_OPTIONS,
    STEP_KEYS,
    STEP_NAME,
    TOP_KEYS,
    Input,
    Pipeline,
    PipelineError,
    Step,
    fill,
    from_folder,
    input_paths,
    local_file,
    resolve_as_of,
)
from loyalty_cli.pipeline.load import check_rules, load_pipeline
from loyalty_cli.pipeline.locks import BUSY, LockedError, output_lock_path, pipeline_lock
from loyalty_cli.pipeline.staging import (
    check_publish,
    file_facts,
    fixed_folder,
    last_ok_run,
    new_staging,
    now,
    publish,
    published_runs,
    remove_stale,
    staged_files,
    staged_path,
)
from loyalty_cli.pipeline.steps import engine_values, pipeline_mapping, step_values

__all__ = [
    "BUSY",
    "COMMAND_INPUTS",
    "ENGINE_KEYS",
    "INPUT_KINDS",
    "Input",
    "LockedError",
    "Pipeline",
    "PipelineError",
    "REQUIRED_EXTRAS",
    "RESERVED",
    "RULES_OPTIONS",
    "STEP_KEYS",
    "STEP_NAME",
    "Step",
    "TOP_KEYS",
    "check_publish",
    "check_rules",
    "engine_values",
    "file_facts",
    "fill",
    "from_folder",
    "local_file",
    "fixed_folder",
    "input_paths",
    "last_ok_run",
    "load_pipeline",
    "new_staging",
    "now",
    "output_lock_path",
    "pipeline_lock",
    "pipeline_mapping",
    "publish",
    "published_runs",
    "remove_stale",
    "resolve_as_of",
    "staged_files",
    "staged_path",
    "step_values",
]
