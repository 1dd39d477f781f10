"""ML training: AWS's "Train a machine learning model" state machine, run by Airflow.

Generate a dataset (Lambda) -> train XGBoost (SageMaker, .sync) -> save the model -> batch
transform (.sync). Settings come from the environment so the same file runs on the local stack
and on real AWS (see README, "Point it at real AWS").
"""

import json
import os
from pathlib import Path

from asl_airflow import asl_dag

INCLUDE = Path(__file__).resolve().parents[1] / "include"
REGION = os.environ.get("ASL_AWS_REGION", "us-east-1")
ACCOUNT = os.environ.get("ASL_AWS_ACCOUNT", "123456789012")

dag = asl_dag(
    INCLUDE / "asl" / "ml_training.asl.json",
    dag_id="ml_training",
    substitutions={
        "partition": "aws",
        "DataGenerationJobArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:asl-airflow-generate-dataset",
        "regionalTrainingImage": json.loads((INCLUDE / "sagemaker_images.json").read_text())["xgboost"][REGION],
        "trainmlmodelbucket": os.environ.get("ASL_ML_BUCKET", "asl-airflow-ml"),
        "SagemakerAPIExecutionRole": f"arn:aws:iam::{ACCOUNT}:role/asl-airflow-sagemaker",
    },
    region_name=REGION,
    tags=["ml", "sagemaker", "layer:ml"],
)
