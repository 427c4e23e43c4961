"""The list hand-off: customer lists written for email tools, and read back to measure a campaign.

One module per job (import each thing from its module; this package re-exports nothing):

- :mod:`~loyalty_cli.handoff.targets`: the email tools a list can be written for (the target setting), what each
  importer wants (headers, date formats, size limit).
- :mod:`~loyalty_cli.handoff.screening`: rows left out before a list goes anywhere: consent, unusable emails,
  duplicate emails, ids that start like a formula; the reasons the ``.dropped.csv`` file gives.
- :mod:`~loyalty_cli.handoff.columns`: the columns a list for a tool carries: id, email, tag, the fields a template
  uses (by kind of list), and those asked for.
- :mod:`~loyalty_cli.handoff.formatting`: a screened list as a tool's importer takes it: header names, dates,
  the tag column, formula-like text cleaned and logged.
- :mod:`~loyalty_cli.handoff.control`: the deterministic treatment/control split (the documented hash).
- :mod:`~loyalty_cli.handoff.sets`: the files of a list's set, and which of them an earlier run wrote (what a new
  set may remove).
- :mod:`~loyalty_cli.handoff.arms`: test arms: a list split into named arms by shares with the control group's hash,
  the arm ``control`` held out.
- :mod:`~loyalty_cli.handoff.write`: writing a list (``write_list``: screen, split off the control group, format,
  split by size, manifest) or a plain one (``write_plain_list``), as one set of files.
- :mod:`~loyalty_cli.handoff.readback`: lists and manifests read back for ``loyalty uplift``: treatment and
  control groups, the manifest checked against the files.

The modules import in that order (none imports a later one); they use :mod:`loyalty_cli.io` (parsing, atomic
writes), never the metrics, models, report or CLI.
"""
