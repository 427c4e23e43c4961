"""The application layer: one function per command, between the front ends and the metrics.

Each command is one function in a module of this package (``app/segment.py`` holds :func:`segment` ...). It
takes the loaded inputs (:class:`loyalty_cli.app.inputs.Inputs`, from the one entrance
:func:`loyalty_cli.app.inputs.load_inputs`) and a plain, typed config object, and returns a result object: the
tables, the notes and warnings as data (:class:`loyalty_cli.app.messages.Message`) and what there is to write.
Nothing here prints, parses a command line or names a flag: a config error names its setting
(:class:`loyalty_cli.errors.ConfigError`, :func:`loyalty_cli.errors.setting`) and each front end (the CLI,
``loyalty run``) words it its own way. The front ends (``cli/``), the report and ``loyalty run`` call these
functions; these functions call ``metrics/``, ``models/``, ``rules/`` and ``stage1/``.
"""
