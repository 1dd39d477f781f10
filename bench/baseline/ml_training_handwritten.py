"""Baseline for bench/parse.py: the ML training pipeline written by hand with the provider's operators."""

from airflow.providers.amazon.aws.operators.lambda_function import LambdaInvokeFunctionOperator
from airflow.providers.amazon.aws.operators.sagemaker import (
    SageMakerModelOperator,
    SageMakerTrainingOperator,
    SageMakerTransformOperator,
)
from airflow.sdk import DAG

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/asl-airflow-sagemaker"
BUCKET = "asl-airflow-ml"

with DAG("ml_training_handwritten", schedule=None, catchup=False, tags=["ml"]) as dag:
    generate = LambdaInvokeFunctionOperator(task_id="generate_dataset", function_name="asl-airflow-generate-dataset",
                                            payload="{}", retries=3)
    train = SageMakerTrainingOperator(task_id="train_model", deferrable=True, retries=3, config={
        "TrainingJobName": "{{ run_id }}",
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/models"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30},
        "RoleArn": ROLE,
        "InputDataConfig": [{"DataSource": {"S3DataSource": {"S3DataDistributionType": "ShardedByS3Key",
                             "S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/csv/train.csv"}},
                             "ChannelName": "train", "ContentType": "text/csv"}],
        "HyperParameters": {"objective": "reg:logistic", "eval_metric": "rmse", "num_round": "5"},
    })
    save = SageMakerModelOperator(task_id="save_model", retries=3, config={
        "PrimaryContainer": {"Image": IMAGE, "Environment": {},
                             "ModelDataUrl": "{{ ti.xcom_pull('train_model')['Training']"
                                             "['ModelArtifacts']['S3ModelArtifacts'] }}"},
        "ExecutionRoleArn": ROLE, "ModelName": "{{ run_id }}",
    })
    transform = SageMakerTransformOperator(task_id="batch_transform", deferrable=True, retries=3, config={
        "ModelName": "{{ run_id }}", "TransformJobName": "{{ run_id }}",
        "TransformInput": {"CompressionType": "None", "ContentType": "text/csv",
                           "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/csv/test.csv"}}},
        "TransformOutput": {"S3OutputPath": f"s3://{BUCKET}/output"},
        "TransformResources": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge"},
    })
    generate >> train >> save >> transform
