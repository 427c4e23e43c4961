"""``run_summary.json``: what a run did, written beside its outputs at every change of state."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from loyalty_cli.pipeline.config import Pipeline, input_paths


class RunSummary:
    """``run_summary.json`` in the output folder, rewritten at every change of state: ``running`` from the
    moment the folder is known (so a run killed with ``kill -9`` never leaves one that says ``ok``), then
    ``ok``, ``failed`` or ``interrupted``. ``last_ok_run`` names the run of this pipeline whose outputs the
    folder holds when that is not this one; ``other_pipelines`` the same for each other pipeline that
    publishes into the folder, so that no run removes their files. From the moment the folder is known the run
    holds its lock (``locks``): runs of pipelines that share it take turns. A run that fails before its folder
    is known writes its summary to the fixed part of ``output_dir`` (:func:`fixed_folder`)."""

    def __init__(self, pipeline: Pipeline, locks: ExitStack) -> None:
        from loyalty_cli import __version__
        from loyalty_cli.pipeline.staging import now

        self.pipeline, self.locks = pipeline, locks
        self.path: Path | None = None
        self.data: dict[str, Any] = {
            "loyalty_version": __version__,
            "pipeline": str(pipeline.file),
            "status": "running",
            "started_at": now(),
            "ended_at": None,
            "as_of": None,
            "inputs": None,
            "steps": [],
            "error": None,
            "last_ok_run": None,
            "other_pipelines": {},
        }

    def place(self, output_dir: Path, as_of: str | None) -> None:
        """The output folder is known: lock it, take over what the summary there says about its outputs (of
        this pipeline and of the others), and write."""
        from loyalty_cli.errors import DataError
        from loyalty_cli.pipeline.locks import output_lock_path, pipeline_lock
        from loyalty_cli.pipeline.staging import fixed_folder, published_runs

        if self.path is None:
            try:
                output_dir.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DataError(
                    f"Could not create the folder {output_dir.parent}: {exc.strerror or exc}",
                    hint="Set output_dir to a folder that the user who runs the pipeline can write to.",
                ) from None
            busy = (
                f"Another run is writing to {output_dir}",
                "Wait for it to finish, or give each pipeline its own output_dir.",
            )
            self.locks.enter_context(pipeline_lock(output_lock_path(output_dir), busy))
            self.path = output_dir / "run_summary.json"
            published = published_runs(self._read(self.path))
            self.data["last_ok_run"] = published.pop(self.data["pipeline"], None)
            self.data["other_pipelines"] = published
            early = fixed_folder(self.pipeline) / "run_summary.json"  # of a run that failed before its folder
            stale = self._read(early) if early != self.path else None
            if isinstance(stale, dict) and stale.get("pipeline") == self.data["pipeline"]:
                early.unlink(missing_ok=True)
        self.data["as_of"] = as_of
        self.write()

    @staticmethod
    def _read(path: Path) -> Any:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def replaces(self) -> list[str]:
        """Before this run's outputs are published: the files of this pipeline's last run to remove when this
        one did not write them (none that another pipeline published), which from now on are no longer
        another pipeline's either when this run writes them. The folder holds no whole run's outputs now."""
        mine = {o for step in self.data["steps"] for o in step.get("outputs") or []}
        others = self.data["other_pipelines"]
        theirs = {o for run in others.values() for o in run["outputs"]}
        for run in others.values():
            run["outputs"] = [o for o in run["outputs"] if o not in mine]
        replaced = [o for o in (self.data["last_ok_run"] or {}).get("outputs") or [] if o not in theirs]
        self.data["last_ok_run"] = None
        self.write()
        return replaced

    def inputs(self) -> None:
        """Size and SHA-256 of every input file (not when one cannot be listed: the error says why)."""
        from loyalty_cli.errors import LoyaltyError
        from loyalty_cli.pipeline.staging import file_facts

        try:
            self.data["inputs"] = {
                kind: [file_facts(p) for p in _input_files(self.pipeline, kind)] for kind in self.pipeline.inputs
            }
        except (LoyaltyError, OSError):
            self.data["inputs"] = None

    def finish(self, status: str, error: str | None = None) -> None:
        from loyalty_cli.pipeline.staging import fixed_folder, now

        if self.path is None:  # the run ends before its folder is known
            self.path = fixed_folder(self.pipeline) / "run_summary.json"
        self.data.update(status=status, ended_at=now(), error=error)
        self.write()

    def write(self) -> None:
        from loyalty_cli.io.writers import write_text

        if self.path is not None:
            write_text(json.dumps(self.data, indent=2) + "\n", self.path)


def _input_files(pipeline: Pipeline, kind: str) -> list[Path]:
    from loyalty_cli.io.sources import expand_inputs

    return sorted(p.resolve() for p in expand_inputs(input_paths(pipeline, kind)))
