"""Rules files: loading, checking and compiling the TOML files users edit, with the built-in ones shipped here
(``rfm_*.toml``, ``churn.toml``, ``lifecycle.toml``, ``columns.toml``; the top-level ``rules/`` folder holds the
same files for users, a test keeps them equal).

- :mod:`.files`: a built-in name or the user's file, its keys and tables checked, every error naming the file
  and the key;
- :mod:`.grammar` and :mod:`.conditions`: the one condition language (allow-listed, never SQL) and its
  compiler to a Polars expression, with the coverage and reachability checks on a grid of customers;
- :mod:`.segments`, :mod:`.churn`, :mod:`.lifecycle`: each kind of rules file.

Rules sit below the metrics that apply them (:mod:`loyalty_cli.metrics`) and never import them.
"""
