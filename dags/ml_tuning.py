"""ML tuning: AWS's "Tune a machine learning model" state machine, run by Airflow.

Weekly (Sunday 03:00 UTC, after the week's data landed): generate the dataset (Lambda) ->
hyperparameter tuning (SageMaker, .sync) -> save the best training job's model -> batch
transform (.sync). Settings come from the environment like ``ml_training``.
"""

import json
import os
from datetime import timedelta
from pathlib import Path

from asl_airflow import asl_dag

INCLUDE = Path(__file__).resolve().parents[1] / "include"
REGION = os.environ.get("ASL_AWS_REGION", "us-east-1")
ACCOUNT = os.environ.get("ASL_AWS_ACCOUNT", "123456789012")

dag = asl_dag(
    INCLUDE / "asl" / "ml_tuning.asl.json",
    dag_id="ml_tuning",
    substitutions={
        "partition": "aws",
        "DataGenerationJobArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:asl-airflow-generate-dataset",
        "regionalTrainingImage": json.loads((INCLUDE / "sagemaker_images.json").read_text())["xgboost"][REGION],
        "trainmlmodelbucket": os.environ.get("ASL_ML_BUCKET", "asl-airflow-ml"),
        "SagemakerAPIExecutionRole": f"arn:aws:iam::{ACCOUNT}:role/asl-airflow-sagemaker",
    },
    region_name=REGION,
    schedule="0 3 * * 0",
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=30),
    default_args={"owner": "ml-platform"},
    tags=["ml", "sagemaker", "layer:ml", "tuning"],
)
