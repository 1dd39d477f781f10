"""The local stack: AWS on moto's server, Airflow on SQLite, no AWS account needed.

``start()`` launches ``python -m moto.server`` on a free 127.0.0.1 port, switches on what the
pipelines need (Lambda and Batch without Docker, Step Functions that really execute), runs every
seed in ``include/seeds/`` (buckets, roles, Lambda functions, sample data), and returns the
environment that points Airflow's ``aws_default`` connection at it. ``stop()`` ends the server
by its PID. Where moto lacks a behaviour the pipelines need, the fix lives here or in a seed,
never in the operators.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT = Path(os.environ.get("ASL_PROJECT_DIR", Path(__file__).resolve().parents[2]))
REGION = os.environ.get("ASL_AWS_REGION", "us-east-1")


@dataclass
class LocalStack:
    pid: int
    port: int
    log_path: Path
    #: what the seeds created that the DAGs are configured with (task ARNs, application ids), as
    #: environment variables: the local counterpart of a deployment's stack outputs
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, service: str, region: str = REGION) -> Any:
        """A boto3 client for this endpoint (the keys :meth:`env` gives Airflow)."""
        import boto3

        return boto3.session.Session(region_name=region).client(
            service, endpoint_url=self.endpoint, aws_access_key_id="testing", aws_secret_access_key="testing")

    def env(self, region: str = REGION) -> dict[str, str]:
        """Environment for Airflow and boto3 processes that should talk to this endpoint only."""
        conn = {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": self.endpoint, "region_name": region},
        }
        return {
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(conn),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": region,
            "AWS_ENDPOINT_URL": self.endpoint,
            "ASL_AWS_REGION": region,
            "ASL_MOTO_PID": str(self.pid),
            # the platform DAGs' Wait/Choice polling loops: seconds between two polls (60 on AWS)
            "ASL_POLL_SECONDS": "1",
            # the streaming layers: Firehose's buffer interval (60 s on AWS; the local stack delivers
            # at once) and how often the Kinesis watcher polls
            "ASL_FIREHOSE_BUFFER_SECONDS": "1",
            "ASL_KINESIS_POLL_SECONDS": "1",
            **self.outputs,
        }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post(url: str, body: dict[str, Any]) -> None:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


def start(log_dir: Path | None = None, extra_env: dict[str, str] | None = None, seed: bool = True) -> LocalStack:
    """Start and configure moto's server; raise with its log if it does not come up."""
    log_dir = log_dir or PROJECT / ".local"
    log_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = log_dir / f"moto-{port}.log"
    env = {**os.environ, **(extra_env or {})}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "asl_airflow.devstack", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
    stack = LocalStack(proc.pid, port, log_path)
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{stack.endpoint}/moto-api/", timeout=1).read()
            break
        except OSError as exc:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(stack.pid)
                tail = log_path.read_text()[-2000:]
                raise RuntimeError(f"moto server did not start; see {log_path}:\n{tail}") from exc
            time.sleep(0.2)
    configure(stack)
    if seed:
        run_seeds(stack)
    return stack


def configure(stack: LocalStack) -> None:
    """moto switches, set before any Lambda function or state machine exists (separate stores)."""
    _post(f"{stack.endpoint}/moto-api/config", {
        "lambda": {"use_docker": False},
        "batch": {"use_docker": False},
        "stepfunctions": {"execute_state_machine": True},
    })
    # a Glue crawl finishes (RUNNING -> COMPLETED) two seconds after it starts; by default moto's
    # crawler stays RUNNING forever
    _post(f"{stack.endpoint}/moto-api/state-manager/set-transition", {
        "model_name": "glue::crawl", "transition": {"progression": "time", "seconds": 2},
    })


def run_seeds(stack: LocalStack, seeds_dir: Path | None = None) -> list[str]:
    """Run ``seed(endpoint, region)`` of every ``include/seeds/*.py``; returns their names."""
    seeds_dir = seeds_dir or PROJECT / "include" / "seeds"
    done = []
    saved = {k: os.environ.get(k) for k in stack.env()}
    os.environ.update(stack.env())
    try:
        for path in sorted(seeds_dir.glob("*.py")):
            if path.name.startswith("_"):
                continue
            spec = importlib.util.spec_from_file_location(f"asl_seed_{path.stem}", path)
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            outputs = module.seed(stack.endpoint, REGION)
            if isinstance(outputs, dict):
                stack.outputs.update({key: str(value) for key, value in outputs.items()})
            done.append(path.stem)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return done


def sample_input(dag_id: str) -> Path | None:
    """``include/samples/<dag_id>.json``: the execution input ``make run`` gives a DAG that events start
    (a batch as its watcher's trigger event carries it), when no ``CONF`` is given."""
    path = PROJECT / "include" / "samples" / f"{dag_id}.json"
    return path if path.is_file() else None


def stop(pid: int) -> None:
    """Stop the server (and anything it spawned) by its PID."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(50):
        try:
            os.kill(pid, 0)
            os.waitpid(pid, os.WNOHANG)
        except (ProcessLookupError, ChildProcessError):
            return
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def airflow_env(home: Path | None = None, logging_level: str = "INFO") -> dict[str, str]:
    """A project-local Airflow on SQLite, reading this project's dags/ and plugins/.

    ``logging_level`` is Airflow's, task logs included: at INFO a task's log shows what it did
    (its service call, a caught error); WARNING, which ``dag.test()`` runs use to keep their
    console short, leaves the task logs of ``make up`` empty. ``AIRFLOW__LOGGING__LOGGING_LEVEL``
    in the environment wins.
    """
    home = home or PROJECT / ".airflow"
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT / "dags"),
        # the package is installed (entry points), so the plugin must not be found a second time
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", logging_level),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT), os.environ.get("PYTHONPATH")])),
        # `airflow standalone` starts its components as `airflow ...` commands: use this venv's
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }


# -- what moto lacks, added inside the server process only -------------------------------------------


def _extend_moto() -> None:
    """Behaviours the pipelines need that moto 5.2 does not model; patched into the server process.

    - DMS: a full-load task stops by itself when the load is done (AWS: ``stopped`` with
      ``StopReason`` FULL_LOAD_ONLY_FINISHED); moto keeps every started task ``running`` forever.
      Here it reports ``running`` on the first DescribeReplicationTasks after a start, ``stopped``
      on the next.
    - Redshift Data API: a statement finishes; moto keeps every statement ``STARTED`` forever. Here
      it reports ``STARTED`` on the first DescribeStatement and ``FINISHED`` on the next.
    Both advance per describe call, the way moto's DataSync executions do, so runs are deterministic.
    - DataSync: an execution finishes by itself, as AWS's does. moto advances one only when it is
      described and frees its task only when a describe shows SUCCESS, so an execution nobody
      polled to the end (the run that started it failed or was stopped) kept its task RUNNING and
      every later StartTaskExecution failed with InvalidRequestException until a restart. Here an
      execution also moves one status on every ``ASL_DATASYNC_STATUS_SECONDS`` (default 5 s, far
      slower than a poll loop, so polled runs still see every status), and the task is free again
      once its execution has ended.
    """
    from moto.core.utils import utcnow
    from moto.dms.models import FakeReplicationTask
    from moto.redshiftdata.models import RedshiftDataAPIServiceBackend

    start, to_dict = FakeReplicationTask.start, FakeReplicationTask.to_dict

    def start_task(self: Any) -> Any:
        self.stop_date, self._asl_describes = None, 0
        return start(self)

    def task_dict(self: Any) -> dict[str, Any]:
        if self.status == "running" and self.migration_type == "full-load":
            self._asl_describes = getattr(self, "_asl_describes", 0) + 1
            if self._asl_describes > 2:  # the StartReplicationTask response, then one describe
                self.status, self.stop_date = "stopped", utcnow()
        data = to_dict(self)
        if self.status == "stopped" and self.migration_type == "full-load":
            data["StopReason"] = "Stop Reason FULL_LOAD_ONLY_FINISHED"
        return data

    FakeReplicationTask.start, FakeReplicationTask.to_dict = start_task, task_dict

    describe = RedshiftDataAPIServiceBackend.describe_statement

    def describe_statement(self: Any, statement_id: str) -> Any:
        statement = describe(self, statement_id)
        if statement.status == "STARTED":
            statement._asl_describes = getattr(statement, "_asl_describes", 0) + 1
            if statement._asl_describes > 1:
                statement.status, statement.duration = "FINISHED", 1_000_000_000
        return statement

    RedshiftDataAPIServiceBackend.describe_statement = describe_statement
    _datasync_executions_finish()
    _bedrock()
    _ecs()


def _datasync_executions_finish() -> None:
    from moto.datasync.models import DataSyncBackend, TaskExecution

    step = float(os.environ.get("ASL_DATASYNC_STATUS_SECONDS", "5"))
    order = [*TaskExecution.TASK_EXECUTION_INTERMEDIATE_STATES, *TaskExecution.TASK_EXECUTION_SUCCESS_STATES]
    init = TaskExecution.__init__

    def execution_init(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self._asl_started = time.monotonic()

    def settle(backend: Any, execution: Any) -> None:
        """The status time alone has brought the execution to; its task is free once it ended."""
        if execution.status in order[:-1]:
            due = min(int((time.monotonic() - getattr(execution, "_asl_started", time.monotonic())) / step),
                      len(order) - 1)
            if order.index(execution.status) < due:
                execution.status = order[due]
        task = backend.tasks.get(execution.task_arn)
        if task is not None and task.current_task_execution_arn == execution.arn and \
                execution.status not in order[:-1]:
            task.status, task.current_task_execution_arn = "AVAILABLE", None

    get_execution, start_execution = DataSyncBackend._get_task_execution, DataSyncBackend.start_task_execution

    def get_task_execution(self: Any, task_execution_arn: str) -> Any:
        execution = get_execution(self, task_execution_arn)
        settle(self, execution)
        return execution

    def start_task_execution(self: Any, task_arn: str) -> str:
        task = self.tasks.get(task_arn)
        if task is not None and task.current_task_execution_arn in self.task_executions:
            settle(self, self.task_executions[task.current_task_execution_arn])
        return start_execution(self, task_arn)

    TaskExecution.__init__ = execution_init
    DataSyncBackend._get_task_execution = get_task_execution
    DataSyncBackend.start_task_execution = start_task_execution
    _idempotency_tokens()
    _firehose_format_conversion()
    _sagemaker_runtime_scores()


def _idempotency_tokens() -> None:
    """Client tokens as AWS documents them; moto ignores them and starts a second job.

    - Athena StartQueryExecution: a repeated ``ClientRequestToken`` returns the first query's id
      and starts no other query.
    - EMR Serverless StartJobRun: a repeated ``clientToken`` on the same application returns the
      first job run.
    The Task integrations rely on these tokens to start a job at most once per ASL attempt when a
    worker dies between the call and its record (``integrations.base.submit_once``).
    """
    import json

    from moto.athena.responses import AthenaResponse
    from moto.emrserverless.models import EMRServerlessBackend

    start_query = AthenaResponse.start_query_execution

    def start_query_execution(self: Any) -> Any:
        token = self._get_param("ClientRequestToken")
        seen = self.athena_backend.__dict__.setdefault("_asl_tokens", {})
        if token and token in seen:
            return json.dumps({"QueryExecutionId": seen[token]})
        answer = start_query(self)
        if token and isinstance(answer, str):
            seen[token] = json.loads(answer)["QueryExecutionId"]
        return answer

    AthenaResponse.start_query_execution = start_query_execution

    start_job_run = EMRServerlessBackend.start_job_run

    def start_job_run_once(self: Any, application_id: str, client_token: str, *args: Any, **kwargs: Any) -> Any:
        for job_run in self.job_runs.get(application_id, []):
            if client_token and job_run.client_token == client_token:
                return job_run
        return start_job_run(self, application_id, client_token, *args, **kwargs)

    EMRServerlessBackend.start_job_run = start_job_run_once


#: Glue column types -> Arrow types, for Firehose's record format conversion
_GLUE_ARROW = {"string": "string", "varchar": "string", "char": "string", "bigint": "int64", "int": "int32",
               "integer": "int32", "smallint": "int16", "tinyint": "int8", "double": "float64",
               "float": "float32", "boolean": "bool_", "date": "date32"}


def firehose_to_parquet(records: list[bytes], columns: list[dict[str, str]]) -> tuple[bytes, list[bytes]]:
    """What Firehose's record format conversion does with a buffer of JSON records (OpenX JSON SerDe
    in, Parquet SerDe out): one Parquet file whose columns are the Glue table's, fields the table does
    not have dropped, missing ones null. Records that are not a JSON object, or whose values do not
    fit the column types, are returned apart (Firehose writes them under the error output prefix)."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    fields = [pa.field(c["Name"], getattr(pa, _GLUE_ARROW.get(c["Type"].split("(")[0].lower(), "string"))())
              for c in columns]
    schema = pa.schema(fields)
    rows, failed = [], []
    for data in records:
        try:
            value = json.loads(data)
            if not isinstance(value, dict):
                raise ValueError("not a JSON object")
            row = {f.name: value.get(f.name) for f in fields}
            pa.Table.from_pylist([row], schema=schema)  # the types fit
            rows.append(row)
        except (ValueError, TypeError, pa.ArrowException):
            failed.append(data)
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), buffer, compression="snappy")
    return buffer.getvalue(), failed


def _firehose_format_conversion() -> None:
    """Firehose record format conversion (JSON -> Parquet with a Glue table's schema), which moto
    does not do: it writes the raw records whatever the delivery stream says. Here a delivery stream
    whose ExtendedS3 destination has ``DataFormatConversionConfiguration`` enabled with a
    ``ParquetSerDe`` writes Parquet (columns from the Glue table in ``SchemaConfiguration``, read from
    moto's Glue), adds ``FileExtension``, and puts records that do not convert under
    ``ErrorOutputPrefix`` + ``format-conversion-failed/``, as Firehose does. Other streams are untouched.
    """
    from moto.firehose.models import FirehoseBackend
    from moto.glue.models import glue_backends
    from moto.s3.models import s3_backends

    put = FirehoseBackend.put_s3_records

    def put_s3_records(self: Any, name: str, version_id: str, destination: dict[str, Any],
                       records: list[dict[str, bytes]]) -> Any:
        conversion = destination.get("DataFormatConversionConfiguration") or {}
        serializer = (conversion.get("OutputFormatConfiguration") or {}).get("Serializer") or {}
        if not conversion.get("Enabled", True) or "ParquetSerDe" not in serializer:
            return put(self, name, version_id, destination, records)
        schema = conversion.get("SchemaConfiguration") or {}
        glue = glue_backends[self.account_id][schema.get("Region") or self.region_name]
        table = glue.get_table(schema["DatabaseName"], schema["TableName"])
        columns = table.as_dict()["StorageDescriptor"]["Columns"]
        body, failed = firehose_to_parquet([r["Data"] for r in records], columns)
        bucket = destination["BucketARN"].split(":")[-1]
        s3 = s3_backends[self.account_id][self.partition]
        path = self._format_s3_object_path(name, version_id, destination.get("Prefix", ""))
        if len(failed) < len(records):
            s3.put_object(bucket, path + destination.get("FileExtension", ""), body)
        if failed:
            errors = self._format_s3_object_path(
                name, version_id, destination.get("ErrorOutputPrefix", "") + "format-conversion-failed/")
            s3.put_object(bucket, errors, b"\n".join(failed))
        return [{"RecordId": str(uuid.uuid4())} for _ in records]

    FirehoseBackend.put_s3_records = put_s3_records


def _sagemaker_runtime_scores() -> None:
    """An endpoint's answer in the shape the real-time layer's model gives: moto's InvokeEndpoint
    returns a fixed body (``"body"``) whatever is sent. Here an endpoint called with ``text/csv``
    answers one score per input line (``0.5`` each: a placeholder, not a model's prediction), the
    way SageMaker's XGBoost container answers a CSV batch. Results queued through moto's own
    ``/moto-api/static/sagemaker/endpoint-results`` still take precedence."""
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    respond = SageMakerRuntimeResponse.invoke_endpoint

    def invoke_endpoint(self: Any) -> Any:
        backend = self.sagemakerruntime_backend
        csv = (self.headers.get("Content-Type") or "").startswith("text/csv")
        if backend.results_queue or not csv:
            return respond(self)
        body = self.body.decode(errors="replace") if isinstance(self.body, bytes) else str(self.body or "")
        scores = "\n".join("0.5" for line in body.splitlines() if line.strip())
        return 200, {"Content-Type": "text/csv", "x-Amzn-Invoked-Production-Variant": "AllTraffic"}, scores

    SageMakerRuntimeResponse.invoke_endpoint = invoke_endpoint


def _s3_object_exists(account_id: str, region: str, uri: str) -> bool:
    """Whether ``s3://bucket/key`` is an object in this server's S3."""
    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        return s3_backends[account_id][get_partition(region)].get_object(bucket, key) is not None
    except Exception:  # no such bucket
        return False


def _bedrock() -> None:
    """Bedrock as the Step Functions integration needs it; moto's models neither run nor finish.

    - A model customization job ends: moto keeps every job ``InProgress`` forever. Here it ends at its
      first GetModelCustomizationJob, ``Completed`` when its training (and validation) data objects
      are in this server's S3, ``Failed`` with a failureMessage naming the missing object otherwise,
      as Bedrock fails a job whose data it cannot read (moto also reports the failureMessage
      ``Failure Message`` on every job; a completed one has none).
    - InvokeModel of a body that is not JSON although its content type says JSON is refused with
      ``ValidationException`` (Bedrock: "Malformed input request"); moto answers HTTP 500. Any other
      body gets moto's answer, ``{}`` (no model runs).
    """
    import json
    from datetime import datetime

    from moto.bedrock.exceptions import BedrockClientError
    from moto.bedrock.models import BedrockBackend
    from moto.bedrockruntime.responses import BedrockRuntimeResponse

    get_job = BedrockBackend.get_model_customization_job

    def get_model_customization_job(self: Any, job_identifier: str) -> Any:
        job = get_job(self, job_identifier)
        if job.status == "InProgress":
            data = [job.training_data_config.get("s3Uri", "")] + [
                v.get("s3Uri", "") for v in (job.validation_data_config or {}).get("validators", [])]
            missing = [uri for uri in data if not _s3_object_exists(self.account_id, self.region_name, uri)]
            job.status = "Failed" if missing else "Completed"
            job.failure_message = f"The data object {missing[0]} does not exist." if missing else None
            job.end_time = job.last_modified_time = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        return job

    BedrockBackend.get_model_customization_job = get_model_customization_job

    invoke = BedrockRuntimeResponse.invoke_model

    def invoke_model(self: Any) -> Any:
        content_type = self._get_param("contentType", "application/json")
        if "json" in str(content_type).lower():
            try:
                json.loads(self._get_param("body") or "")
            except (TypeError, ValueError) as exc:
                raise BedrockClientError("ValidationException", f"Malformed input request: {exc}, please reformat "
                                         "your input and try again.") from None
        return invoke(self)

    BedrockRuntimeResponse.invoke_model = invoke_model


#: an image of an ECR registry: account, region, repository, tag, digest
_ECR_IMAGE = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([^:@]+)(?::([^@]+))?(?:@(.+))?$")


def _unpullable(image: str | None) -> bool:
    """Whether ``image`` names an image of this server's ECR that it does not hold."""
    from moto.ecr.models import ecr_backends

    match = _ECR_IMAGE.match(image or "")
    if not match:
        return False  # another registry (Docker Hub, public ECR): taken as pullable
    account, region, name, tag, digest = match.groups()
    repository = ecr_backends[account][region].repositories.get(name)
    if repository is None:
        return True
    try:
        repository._get_image(tag or ("latest" if not digest else None), digest)
    except Exception:
        return True
    return False


def _ecs() -> None:
    """ECS tasks as the Step Functions integration needs them; moto runs no container.

    - RunTask honours ``clientToken``: a repeated token returns the first call's tasks and starts
      none, as ECS's idempotency does (moto starts new tasks every time). The ``ecs:runTask.sync``
      entry relies on it to start a task at most once per ASL attempt.
    - A task ends: moto walks a started task through DEACTIVATING, STOPPING and DEPROVISIONING, one
      DescribeTasks at a time, and leaves its containers PENDING with exit code 0. Here a task is
      STOPPED at its first DescribeTasks, as if its containers had run: containers STOPPED with exit
      code 0, ``stopCode`` EssentialContainerExited. Unless an image cannot be pulled: an image of an
      ECR registry whose repository or tag is not in this server's ECR stops the task as ECS does,
      ``stopCode`` TaskFailedToStart, the container's ``reason`` CannotPullContainerError and no exit
      code. Images of other registries are taken as pullable. A task stopped with StopTask ends
      ``UserInitiated``, its containers without an exit code.
    """
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.ecs.models import EC2ContainerServiceBackend, Task
    from moto.ecs.responses import EC2ContainerServiceResponse

    init = Task.__init__

    def task_init(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self._transitions = [("RUNNING", "STOPPED")]  # moto's own default: one step per DescribeTasks

    def end(task: Any) -> None:
        stopped_by_user = task.desired_status == "STOPPED"  # StopTask: its containers were killed
        task._asl_ended, task.desired_status = True, "STOPPED"
        task.stopped_at = task.execution_stopped_at = utcnow()
        unpullable = next((c.image for c in task.containers if _unpullable(c.image)), None)
        if stopped_by_user:
            task.stop_code = "UserInitiated"
        elif unpullable:
            task.stop_code = "TaskFailedToStart"
            task.stopped_reason = f"CannotPullContainerError: failed to resolve ref {unpullable}: not found"
        else:
            task.stop_code = "EssentialContainerExited"
            task.stopped_reason = task.stopped_reason or "Essential container in task exited"
        for container in task.containers:
            container.last_status = "STOPPED"
            if unpullable or stopped_by_user:  # no exit code: the container never ran to its end
                container.exitCode, container.reason = None, task.stopped_reason

    describe = EC2ContainerServiceBackend.describe_tasks

    def describe_tasks(self: Any, cluster_str: str, tasks: list[str]) -> Any:
        found = describe(self, cluster_str, tasks)
        for task in found:
            if task.last_status == "STOPPED" and not getattr(task, "_asl_ended", False):
                end(task)
        return found

    run = EC2ContainerServiceResponse.run_task

    def run_task(self: Any) -> Any:
        token = self._get_param("clientToken")
        seen = self.ecs_backend.__dict__.setdefault("_asl_tokens", {})
        if token and token in seen:
            return ActionResult({"tasks": seen[token], "failures": []})
        answer = run(self)
        if token:
            seen[token] = answer.result["tasks"]
        return answer

    Task.__init__ = task_init
    EC2ContainerServiceBackend.describe_tasks = describe_tasks
    EC2ContainerServiceResponse.run_task = run_task


if __name__ == "__main__":  # the local stack's server: ``python -m asl_airflow.devstack -H HOST -p PORT``
    _extend_moto()
    from moto.server import main

    main(sys.argv[1:])
