"""EMR Serverless Spark job: customer lifetime value from the curated orders.

``spark-submit customer_ltv.py <curated orders path> <output path>``: per customer, the number of
orders, revenue in EUR, first and last order dates; written as Parquet for the dashboard's dataset.
"""

import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

curated_path, output_path = sys.argv[1], sys.argv[2]
spark = SparkSession.builder.appName("customer-ltv").getOrCreate()
orders = spark.read.option("header", True).option("inferSchema", True).csv(curated_path)
ltv = orders.filter(F.col("status") != "returned").groupBy("customer_id", "customer_segment", "country").agg(
    F.count("order_id").alias("orders"),
    F.round(F.sum("amount_eur"), 2).alias("revenue_eur"),
    F.min("order_date").alias("first_order"),
    F.max("order_date").alias("last_order"),
)
ltv.write.mode("overwrite").parquet(output_path)
spark.stop()
