"""Stage 1 on Apache Spark (the engine setting ``spark``): the only package that imports pyspark.

:func:`load_transactions_spark` gives the same :class:`~loyalty_cli.stage1.Loaded` as
:func:`~loyalty_cli.stage1.load_transactions` for the same inputs, on ``local[*]``, a cluster master or a Spark
Connect server (:class:`SparkSettings`). Stage 1 stays written once, in Polars: the driver plans the reading
as the Polars engine does, the executors run the same Polars plans on the rows Spark reads and the same Polars
summary on buckets of customers, and only customer-sized tables come back (:mod:`loyalty_cli.spark.jobs`).

Importing this package does not import pyspark: a missing pyspark (or Java) is a clear error when a session is
first asked for (:func:`get_session`).
"""

from loyalty_cli.spark.load import load_transactions_spark
from loyalty_cli.spark.session import SparkSettings, get_session
from loyalty_cli.spark.summary import PerCustomer, per_customer

__all__ = ["PerCustomer", "SparkSettings", "get_session", "load_transactions_spark", "per_customer"]
