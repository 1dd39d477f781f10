"""Local stack seed for ``batch_layer``: DMS (endpoints, instance, full-load task), Glue (database,
crawler, ETL job and its script), Batch (compute environment, queue, job definition), and the data
the layer's steps would write.

moto runs none of the work: DMS loads nothing, the crawler creates no tables, the Glue script never
runs. So the seed writes the customers table where DMS's S3 target puts it, registers the catalog
tables the crawler would create, and writes the curated orders ``include/glue/curate_orders.py``
computes (``_lake.curate``, the same rules). The task was started and stopped once here, as a
deployment's first full load does, so each run can ``reload-target``.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

INCLUDE = Path(__file__).resolve().parents[1]
DATABASE = "asl_airflow_lake"
CRAWLER = "asl-airflow-raw-crawler"
GLUE_JOB = "asl-airflow-curate-orders"
DMS_TASK = "asl-airflow-customers-full-load"
JOB_QUEUE = "asl-airflow-features"
JOB_DEFINITION = "asl-airflow-build-features"


def _lake() -> Any:
    spec = importlib.util.spec_from_file_location("asl_seed_lake", Path(__file__).with_name("_lake.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _csv_table(glue: Any, name: str, location: str, columns: list[tuple[str, str]]) -> None:
    glue.create_table(DatabaseName=DATABASE, TableInput={
        "Name": name, "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "csv", "skip.header.line.count": "1"},
        "StorageDescriptor": {
            "Columns": [{"Name": n, "Type": t} for n, t in columns], "Location": location,
            "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                          "Parameters": {"field.delim": ","}},
        },
    })


def _dms(aws: Any, endpoint: str, lake: Any, dms_role: str) -> str:
    dms = aws.client("dms", endpoint_url=endpoint)
    source = dms.create_endpoint(
        EndpointIdentifier="asl-airflow-crm-postgres", EndpointType="source", EngineName="postgres",
        ServerName="crm.cluster-abc.us-east-1.rds.amazonaws.com", Port=5432, DatabaseName="crm",
        Username="dms_reader", Password="local-stack-only",
    )["Endpoint"]["EndpointArn"]
    target = dms.create_endpoint(
        EndpointIdentifier="asl-airflow-lake-raw", EndpointType="target", EngineName="s3",
        S3Settings={"BucketName": lake.LAKE, "BucketFolder": "raw/customers", "ServiceAccessRoleArn": dms_role,
                    "AddColumnName": True, "DataFormat": "csv"},
    )["Endpoint"]["EndpointArn"]
    instance = dms.create_replication_instance(
        ReplicationInstanceIdentifier="asl-airflow-dms", ReplicationInstanceClass="dms.t3.medium",
        AllocatedStorage=50,
    )["ReplicationInstance"]["ReplicationInstanceArn"]
    mappings = {"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "customers",
                           "object-locator": {"schema-name": "public", "table-name": "customers"},
                           "rule-action": "include"}]}
    task = dms.create_replication_task(
        ReplicationTaskIdentifier=DMS_TASK, SourceEndpointArn=source, TargetEndpointArn=target,
        ReplicationInstanceArn=instance, MigrationType="full-load", TableMappings=json.dumps(mappings),
    )["ReplicationTask"]["ReplicationTaskArn"]
    dms.start_replication_task(ReplicationTaskArn=task, StartReplicationTaskType="start-replication")
    dms.stop_replication_task(ReplicationTaskArn=task)
    return task


def _batch(aws: Any, endpoint: str, lake: Any, iam: Any) -> None:
    batch = aws.client("batch", endpoint_url=endpoint)
    service_role = lake.ensure_role(iam, "asl-airflow-batch-service", ["batch.amazonaws.com"])
    job_role = lake.ensure_role(iam, "asl-airflow-batch-job", ["ecs-tasks.amazonaws.com"])
    env = batch.create_compute_environment(
        computeEnvironmentName="asl-airflow-features", type="UNMANAGED", state="ENABLED", serviceRole=service_role,
    )["computeEnvironmentArn"]
    batch.create_job_queue(jobQueueName=JOB_QUEUE, state="ENABLED", priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env}])
    batch.register_job_definition(
        jobDefinitionName=JOB_DEFINITION, type="container",
        containerProperties={
            "image": f"{lake.ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/asl-airflow/features:latest",
            "command": ["python", "-m", "features.build", "--curated", "Ref::curated", "--out", "Ref::features"],
            "jobRoleArn": job_role,
            "resourceRequirements": [{"type": "VCPU", "value": "2"}, {"type": "MEMORY", "value": "4096"}],
        },
        retryStrategy={"attempts": 2}, timeout={"attemptDurationSeconds": 3600},
    )


def seed(endpoint: str, region: str) -> dict[str, str]:
    lake = _lake()
    aws = lake.session(region)
    s3 = aws.client("s3", endpoint_url=endpoint)
    iam = aws.client("iam", endpoint_url=endpoint)
    glue = aws.client("glue", endpoint_url=endpoint)
    lake.ensure_bucket(s3, lake.LAKE, region)
    glue_role = lake.ensure_role(iam, "asl-airflow-glue", ["glue.amazonaws.com"])
    dms_role = lake.ensure_role(iam, "asl-airflow-dms-s3", ["dms.amazonaws.com"])

    script = "scripts/glue/curate_orders.py"
    s3.put_object(Bucket=lake.LAKE, Key=script, Body=(INCLUDE / "glue" / "curate_orders.py").read_bytes())
    glue.create_database(DatabaseInput={"Name": DATABASE, "Description": "The lake's raw and curated zones"})
    glue.create_crawler(
        Name=CRAWLER, Role=glue_role, DatabaseName=DATABASE, TablePrefix="raw_",
        Targets={"S3Targets": [{"Path": f"s3://{lake.LAKE}/raw/orders/"},
                               {"Path": f"s3://{lake.LAKE}/raw/customers/public/customers/"}]},
        SchemaChangePolicy={"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "LOG"},
    )
    glue.create_job(
        Name=GLUE_JOB, Role=glue_role, GlueVersion="4.0", WorkerType="G.1X", NumberOfWorkers=2, MaxRetries=0,
        Command={"Name": "glueetl", "ScriptLocation": f"s3://{lake.LAKE}/{script}", "PythonVersion": "3"},
        DefaultArguments={"--job-bookmark-option": "job-bookmark-disable", "--enable-metrics": "true"},
    )
    task = _dms(aws, endpoint, lake, dms_role)
    _batch(aws, endpoint, lake, iam)

    # what DMS, the crawler and the Glue job would have written
    customers = lake.customers()
    s3.put_object(Bucket=lake.LAKE, Key="raw/customers/public/customers/LOAD00000001.csv",
                  Body=lake.to_csv(customers, lake.CUSTOMER_COLUMNS), ContentType="text/csv")
    s3.put_object(Bucket=lake.LAKE, Key="curated/orders/part-00000.csv",
                  Body=lake.to_csv(lake.curate(lake.orders(), customers), lake.CURATED_COLUMNS),
                  ContentType="text/csv")
    _csv_table(glue, "raw_orders", f"s3://{lake.LAKE}/raw/orders/",
               [("order_id", "bigint"), ("customer_id", "bigint"), ("order_date", "date"), ("amount", "double"),
                ("currency", "string"), ("status", "string")])
    _csv_table(glue, "raw_customers", f"s3://{lake.LAKE}/raw/customers/public/customers/",
               [("customer_id", "bigint"), ("name", "string"), ("segment", "string"), ("country", "string")])
    _csv_table(glue, "curated_orders", f"s3://{lake.LAKE}/curated/orders/",
               [("order_id", "bigint"), ("customer_id", "bigint"), ("customer_segment", "string"),
                ("country", "string"), ("order_date", "date"), ("amount_eur", "double"), ("status", "string")])
    return {"ASL_DMS_TASK_ARN": task, "ASL_BATCH_JOB_QUEUE": JOB_QUEUE, "ASL_BATCH_JOB_DEFINITION": JOB_DEFINITION}
