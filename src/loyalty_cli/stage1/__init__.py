"""Stage 1: transaction lines -> orders -> one row per customer (and the customer x day activity table).

- :mod:`loyalty_cli.stage1.customers`: the tables as lazy Polars plans (``customer_summary``,
  ``customer_activity``, ``btyd_summary`` ...), pure functions of the lines;
- :mod:`loyalty_cli.stage1.load`: reading the files once and collecting those plans with the rejected rows
  (:func:`load_transactions`, :class:`Loaded`, :func:`shared_reads`).

Everything after stage 1 works on customer-sized tables. Commands reach stage 1 through
:func:`loyalty_cli.app.inputs.load_inputs`, the one place where the compute engine is chosen.
"""

from loyalty_cli.stage1.load import Loaded, load_transactions, no_purchase_note, shared_reads

__all__ = ["Loaded", "load_transactions", "no_purchase_note", "shared_reads"]
