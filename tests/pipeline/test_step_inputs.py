"""The inputs a step is given: its command's positional input and the extra inputs it reads, some only when an
option asks for them (a retention step reads the members for a split by membership only)."""

from __future__ import annotations

from pathlib import Path

from loyalty_cli.cli.steps import pipeline_commands
from loyalty_cli.pipeline import load_pipeline, step_values

SAMPLE = Path(__file__).parent.parent.parent / "sample_data"

PIPELINE = f"""
as_of = "2025-01-01"
output_dir = "out"

[inputs.transactions]
path = "{SAMPLE / "transactions.csv"}"

[inputs.members]
path = "{SAMPLE / "members.csv"}"

[[steps]]
name = "plain"
command = "retention"
output = "retention.csv"

[[steps]]
name = "by-channel"
command = "retention"
output = "by_channel.csv"
options = {{ by = "first_channel" }}

[[steps]]
name = "by-member"
command = "retention"
output = "by_member.csv"
options = {{ by = "member" }}

[[steps]]
command = "program"
output = "program.csv"
"""


def test_the_members_go_to_a_retention_split_by_membership_only(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.toml"
    path.write_text(PIPELINE)
    pipeline = load_pipeline(path, pipeline_commands())
    given = {
        step.name: step_values(pipeline, step, as_of=None, output_dir=tmp_path, values={"output_dir": str(tmp_path)})
        for step in pipeline.steps
    }
    members = [str(SAMPLE / "members.csv")]
    assert "members" not in given["plain"] and "members" not in given["by-channel"]
    assert given["by-member"]["members"] == members
    assert given["program"]["members"] == members  # other commands as before
