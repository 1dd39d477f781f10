"""Glue ETL job ``asl-airflow-curate-orders``: raw orders + DMS-replicated customers -> curated orders.

Runs on AWS Glue 4.0 (Spark 3.3). Arguments: ``--raw_path`` (the raw zone: ``orders/`` from DataSync,
``customers/public/customers/`` from DMS), ``--curated_path`` (output), ``--database`` (the Data
Catalog database the crawler maintains), ``--run_id`` (the Step Functions execution name, kept as
a column-free job bookmark note). Cancelled orders are dropped, amounts converted to EUR at the
``--fx_rates`` reference rates, each order joined to its customer's segment and country; orders
whose customer is unknown are dropped (the curated_orders suite then checks nothing slipped through).
The local stack's seed writes the output this job produces (moto runs no Glue code).
"""

import json
import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext
from pyspark.sql import functions as F

DEFAULT_FX = {"EUR": 1.0, "USD": 0.92, "GBP": 1.17}

args = getResolvedOptions(sys.argv, ["JOB_NAME", "raw_path", "curated_path", "database", "run_id"])
fx_rates = DEFAULT_FX
if "--fx_rates" in sys.argv:
    fx_rates = json.loads(getResolvedOptions(sys.argv, ["fx_rates"])["fx_rates"])

glue_context = GlueContext(SparkContext.getOrCreate())
spark = glue_context.spark_session
job = Job(glue_context)
job.init(args["JOB_NAME"], args)

raw = args["raw_path"].rstrip("/")
orders = spark.read.option("header", True).option("inferSchema", True).csv(f"{raw}/orders/")
customers = spark.read.option("header", True).option("inferSchema", True).csv(f"{raw}/customers/public/customers/")
rates = spark.createDataFrame([(k, float(v)) for k, v in fx_rates.items()], ["currency", "rate"])

curated = (
    orders.filter(F.col("status") != "cancelled")
    .join(rates, "currency")
    .join(customers.select("customer_id", F.col("segment").alias("customer_segment"), "country"), "customer_id")
    .select(
        "order_id",
        "customer_id",
        "customer_segment",
        "country",
        F.date_format("order_date", "yyyy-MM-dd").alias("order_date"),
        F.round(F.col("amount") * F.col("rate"), 2).alias("amount_eur"),
        "status",
    )
    .dropDuplicates(["order_id"])
)

curated.coalesce(1).write.mode("overwrite").option("header", True).csv(args["curated_path"])
job.commit()
