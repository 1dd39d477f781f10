"""Real Airflow deployments for tests and benchmarks: no ``dag.test()``, every component a process.

A :class:`Deployment` is what a user runs in production, on this machine: ``airflow scheduler``,
``airflow dag-processor``, ``airflow triggerer`` and ``airflow api-server`` as separate processes
(plus ``airflow celery worker`` for the CeleryExecutor, Redis as its broker and PostgreSQL as its
result backend) on a PostgreSQL metadata DB of its own, with AIRFLOW_HOME in a temporary folder.
Runs are triggered and watched through the REST API with a JWT from ``POST /auth/token`` (simple
auth manager), and read back with :func:`asl_airflow.airflow.results.execution_result` in a
probe process; the local engine's result for the same machine and input is the reference.

Every process is started in its own process group and stopped by its PID; the database is created
fresh (``CREATE DATABASE ... TEMPLATE`` of one migrated per session) and dropped at the end.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[2]
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", int(os.environ.get("ASL_DEPLOY_PG_PORT", "5432")), "postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", int(os.environ.get("ASL_DEPLOY_REDIS_PORT", "6379"))
#: a Redis database of our own (0 is everybody's default); flushed before each Celery deployment
REDIS_DB = int(os.environ.get("ASL_DEPLOY_REDIS_DB", "13"))
ADMIN_PASSWORD = "deploy-admin"


# -- services -----------------------------------------------------------------------------------------


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def postgres_missing() -> str | None:
    """Why the PostgreSQL deployment cannot run here, or None."""
    try:
        import asyncpg  # noqa: F401 - the API server's async engine
        import psycopg2
    except ImportError as exc:
        return f"the postgres extra is not installed ({exc}); `uv sync` installs it with the dev group"
    if not _reachable(PG_HOST, PG_PORT):
        return f"PostgreSQL is not reachable on {PG_HOST}:{PG_PORT}"
    try:
        psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=3).close()
    except psycopg2.Error as exc:
        return f"cannot log in to PostgreSQL on {PG_HOST}:{PG_PORT} as {PG_USER}: {exc}".strip()
    return None


def redis_missing() -> str | None:
    """Why the Celery deployment cannot run here, or None."""
    try:
        import airflow.providers.celery  # noqa: F401
        import redis
    except ImportError as exc:
        return f"the celery extra is not installed ({exc}); `uv sync` installs it with the dev group"
    if not _reachable(REDIS_HOST, REDIS_PORT):
        return f"Redis is not reachable on {REDIS_HOST}:{REDIS_PORT}"
    try:
        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, socket_timeout=3).ping()
    except redis.RedisError as exc:
        return f"Redis on {REDIS_HOST}:{REDIS_PORT} does not answer: {exc}"
    return None


def _pg(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=5)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def pg_url(db: str, driver: str = "psycopg2") -> str:
    return f"postgresql+{driver}://{PG_USER}@{PG_HOST}:{PG_PORT}/{db}"


def create_database(name: str, template: str | None = None) -> None:
    _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _pg(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))


def drop_database(name: str) -> None:
    _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def flush_redis() -> None:
    import redis

    redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB).flushdb()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_group(proc: subprocess.Popen, grace: float = 20.0) -> None:
    """SIGTERM the process group the process leads, SIGKILL what is left after ``grace`` seconds."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:  # children of the leader (task processes, gunicorn workers) may outlive it
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


# -- HTTP ---------------------------------------------------------------------------------------------


def http(method: str, url: str, body: Any = None, token: str | None = None, timeout: float = 30) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            return error.code, json.loads(text)
        except ValueError:
            return error.code, text.decode(errors="replace")
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return 0, None


def until(what: str, probe: Callable[[], Any], timeout: float, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


# -- DAG files ----------------------------------------------------------------------------------------

_DAG_FILE = """\
from pathlib import Path

from asl_airflow import asl_dag

dag = asl_dag(Path(__file__).with_name({json_name!r}), dag_id={dag_id!r}, tags=["deployment-test"])
"""


def write_machine_dag(dags: Path, dag_id: str, machine: dict[str, Any]) -> None:
    (dags / f"{dag_id}.asl.json").write_text(json.dumps(machine, indent=1))
    (dags / f"{dag_id}.py").write_text(_DAG_FILE.format(json_name=f"{dag_id}.asl.json", dag_id=dag_id))


def link_platform_dags(dags: Path, names: Iterable[str] | None = None) -> list[str]:
    """The project's DAG files as symlinks: they find ``include/`` from their resolved path."""
    linked = []
    for path in sorted((PROJECT / "dags").glob("*.py")):
        if path.stem.startswith("_") or (names is not None and path.stem not in names):
            continue
        (dags / path.name).symlink_to(path)
        linked.append(path.stem)
    return linked


# -- the deployment -----------------------------------------------------------------------------------


@dataclass
class Run:
    dag_id: str
    run_id: str
    conf: Any = None
    state: str | None = None


@dataclass
class Deployment:
    """One Airflow deployment on PostgreSQL; ``executor`` is ``LocalExecutor`` or ``CeleryExecutor``."""

    executor: str
    workdir: Path
    database: str
    dags: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    port: int = 0
    jwt: str | None = None
    #: the scheduler's and the triggerer's log servers (fixed ports by default: shared machines clash)
    log_ports: tuple[int, int] = (0, 0)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def home(self) -> Path:
        return self.workdir / "home"

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(self.home / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__EXECUTOR": self.executor,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg_url(self.database),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            # secrets every component must share (standalone writes them to airflow.cfg)
            "AIRFLOW__CORE__FERNET_KEY": self._secret("fernet"),
            "AIRFLOW__API_AUTH__JWT_SECRET": self._secret("jwt"),
            "AIRFLOW__API__SECRET_KEY": self._secret("api"),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.log_ports[0]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.log_ports[1]),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__CORE__PARALLELISM": os.environ.get("ASL_DEPLOY_PARALLELISM", "8"),
            # a small machine shared with other work: a busy API server answers late, not never
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
            "AIRFLOW__WORKERS__EXECUTION_API_RETRIES": "10",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT), os.environ.get("PYTHONPATH")])),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        }
        if self.executor == "CeleryExecutor":
            env.update({
                "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}",
                # the driver named: SQLAlchemy's default PostgreSQL driver is psycopg 3, not installed
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + pg_url(self.database),
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": os.environ.get("ASL_DEPLOY_PARALLELISM", "8"),
                "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "21600",
            })
        env.update(self.extra_env)
        return env

    def _secret(self, name: str) -> str:
        path = self.workdir / f".{name}"
        if not path.exists():
            if name == "fernet":
                from cryptography.fernet import Fernet

                path.write_text(Fernet.generate_key().decode())
            else:
                path.write_text(secrets.token_urlsafe(32))
        return path.read_text()

    def airflow(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "airflow", *args], env=self.env(), capture_output=True,
                              text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
        return proc

    def _spawn(self, name: str, *args: str) -> None:
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 - the process owns it
        self.procs[name] = subprocess.Popen([sys.executable, "-m", "airflow", *args], env=self.env(), stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def start(self, timeout: float = 240) -> None:
        """Start every component, wait for the API server, log in. The DB must be migrated."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self.log_ports = (free_port(), free_port())
        (self.home / "passwords.json").write_text(json.dumps({"admin": ADMIN_PASSWORD}))
        if self.executor == "CeleryExecutor":
            flush_redis()
        self._spawn("api-server", "api-server", "--port", str(self.port))
        self._spawn("scheduler", "scheduler")
        self._spawn("dag-processor", "dag-processor")
        self._spawn("triggerer", "triggerer")
        if self.executor == "CeleryExecutor":
            self._spawn("celery-worker", "celery", "worker")

        def up() -> bool:
            dead = [name for name, proc in self.procs.items()
                    if proc.poll() is not None and not name.startswith("probe")]
            if dead:
                raise RuntimeError(f"{', '.join(dead)} exited:\n{self.log_tail(dead[0])}")
            return http("GET", f"{self.base}/api/v2/monitor/health", timeout=5)[0] == 200

        until("the API server", up, timeout)
        status, body = http("POST", f"{self.base}/auth/token", {"username": "admin", "password": ADMIN_PASSWORD})
        if status not in (200, 201):
            raise RuntimeError(f"POST /auth/token: HTTP {status} {body}")
        self.jwt = body["access_token"]

    def stop(self) -> None:
        for name in list(self.procs)[::-1]:
            stop_group(self.procs.pop(name))

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def logs(self) -> str:
        return "".join((self.workdir / f"{name}.log").read_text(errors="replace")
                       for name in ("scheduler", "triggerer", "dag-processor", "api-server", "celery-worker")
                       if (self.workdir / f"{name}.log").exists())

    # -- API -----------------------------------------------------------------------------------------

    def api(self, method: str, path: str, body: Any = None, tries: int = 5) -> tuple[int, Any]:
        """One REST call; a call the busy API server did not answer in time is made again (every
        call made here is idempotent: runs are triggered with their own ``dag_run_id``)."""
        for attempt in range(tries):
            status, answer = http(method, f"{self.base}/api/v2{path}", body, token=self.jwt, timeout=120)
            if status != 0 and status < 500:
                return status, answer
            time.sleep(2 * (attempt + 1))
        return status, answer

    def wait_for_dags(self, dag_ids: Iterable[str], timeout: float = 300) -> None:
        wanted = set(dag_ids)

        def parsed() -> bool:
            status, body = self.api("GET", "/dags?limit=1000")
            have = {d["dag_id"] for d in (body or {}).get("dags", [])} if status == 200 else set()
            return wanted <= have

        try:
            until(f"DAGs {sorted(wanted)} to be parsed", parsed, timeout, every=2)
        except TimeoutError as exc:
            errors = self.api("GET", "/importErrors")[1]
            raise TimeoutError(f"{exc}; import errors: {errors}") from None

    def trigger(self, dag_id: str, conf: Any = None) -> Run:
        run_id = f"deploy__{dag_id}__{secrets.token_hex(6)}"
        status, body = self.api("POST", f"/dags/{dag_id}/dagRuns",
                                {"dag_run_id": run_id, "logical_date": None, "conf": conf or {}})
        if status == 409:  # an earlier try of this call created it, and its answer was lost
            status = 200
        if status != 200:
            raise RuntimeError(f"trigger {dag_id}: HTTP {status} {body}")
        return Run(dag_id, run_id, conf)

    def runs_of(self, dag_id: str) -> list[dict[str, Any]]:
        status, body = self.api("GET", f"/dags/{dag_id}/dagRuns?limit=100")
        return body.get("dag_runs", []) if status == 200 else []

    def wait_for_runs(self, runs: list[Run], timeout: float) -> None:
        """Poll until every run is success or failed (a run still going at the deadline keeps its state)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for run in runs:
                if run.state in ("success", "failed"):
                    continue
                status, body = self.api("GET", f"/dags/{run.dag_id}/dagRuns/{run.run_id}")
                if status == 200:
                    run.state = body["state"]
            if all(run.state in ("success", "failed") for run in runs):
                return
            time.sleep(2)

    # -- reading runs back, the local engine ----------------------------------------------------------

    def probe_start(self, request: dict[str, Any]) -> subprocess.Popen:
        """The probe process (``deployment_probe.py``) on ``request``; :meth:`probe_answer` reads it."""
        stdout = open(self.workdir / f"probe-{request['mode']}.json", "w+")  # noqa: SIM115 - closed in probe_answer
        proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("deployment_probe.py"))],
                                stdin=subprocess.PIPE, stdout=stdout, stderr=subprocess.PIPE, env=self.env(),
                                text=True, start_new_session=True)
        proc.stdin.write(json.dumps(request))
        proc.stdin.close()
        proc.out = stdout  # type: ignore[attr-defined]
        self.procs[f"probe-{request['mode']}-{proc.pid}"] = proc
        return proc

    def probe_answer(self, proc: subprocess.Popen, timeout: float = 600) -> Any:
        try:
            stderr = proc.stderr.read() if proc.stderr else ""
            proc.wait(timeout=timeout)
        finally:
            self.procs = {name: p for name, p in self.procs.items() if p is not proc}
        proc.out.seek(0)  # type: ignore[attr-defined]
        stdout = proc.out.read()  # type: ignore[attr-defined]
        proc.out.close()  # type: ignore[attr-defined]
        if proc.returncode != 0 or not stdout.strip():
            raise RuntimeError(f"probe failed ({proc.returncode}):\n{stderr[-4000:]}")
        return json.loads(stdout.strip().splitlines()[-1])

    def results(self, runs: list[Run]) -> list[dict[str, Any]]:
        return self.probe_answer(self.probe_start({"mode": "results", "runs": [[r.dag_id, r.run_id] for r in runs]}))

    def references(self, cases: list[tuple[str, Any]], serial: Iterable[str] = ()) -> subprocess.Popen:
        """The local engine on each DAG's own (substituted) definition and input, in a probe process:
        the cases run concurrently, except those of the ``serial`` DAGs (they share AWS resources),
        which run one after the other. :meth:`probe_answer` gives the results, in the cases' order."""
        return self.probe_start({"mode": "local", "cases": [[dag_id, conf] for dag_id, conf in cases],
                                 "serial": sorted(serial)})


# -- comparing ----------------------------------------------------------------------------------------


def history_steps(result: dict[str, Any]) -> list[str]:
    """A history as event types + state names (what AWS's console lists)."""
    steps = []
    for event in result.get("history") or []:
        name = None
        for key, value in event.items():
            if key.endswith("EventDetails") and isinstance(value, dict) and "name" in value:
                name = value["name"]
        steps.append(f"{event['type']}:{name}" if name else event["type"])
    return steps


def collapse_repeats(steps: list[str]) -> list[str]:
    """Poll loops that wait for AWS run as many rounds as the job takes: one round per repeated cycle."""
    out = list(steps)
    changed = True
    while changed:
        changed = False
        for size in range(1, len(out) // 2 + 1):
            i = 0
            while i + 2 * size <= len(out):
                if out[i:i + size] == out[i + size:i + 2 * size]:
                    del out[i + size:i + 2 * size]
                    changed = True
                else:
                    i += 1
    return out


_VOLATILE = [
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?"), "<time>"),
    (re.compile(r"\bjr_[0-9a-f]{16,}\b"), "<id>"),  # Glue job runs
    (re.compile(r"\b(exec|jr|job|step|j|app|q)-?[0-9a-zA-Z]{8,}\b"), "<id>"),
    (re.compile(r"\b(?=[0-9a-z]*\d)[0-9a-z]{16,}\b"), "<id>"),  # EMR Serverless job runs and applications
    (re.compile(r"\b[0-9a-f]{16,}\b"), "<hex>"),
    (re.compile(r"\b[0-9A-Z]{16,}\b"), "<ID>"),
    (re.compile(r"\d{2}:\d{2}:\d{2}"), "<clock>"),
]


def normalize(value: Any) -> Any:
    """Job ids, ARNs' random parts, timestamps and durations of AWS resources a run created: each
    run (and each engine) creates its own, so they are compared as placeholders."""
    if isinstance(value, dict):
        return {k: ("<number>" if isinstance(v, int | float) and not isinstance(v, bool) and _volatile_key(k)
                    else normalize(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, str):
        for pattern, placeholder in _VOLATILE:
            value = pattern.sub(placeholder, value)
        return value
    return value


def _volatile_key(key: str) -> bool:
    return bool(re.search(r"(Time|Date|Seconds|Millis|Duration|Epoch|Timestamp|Bytes|Size)", key)) or key in (
        "ExecutionTime", "CompletedOn", "StartedOn", "LastModifiedOn")


_REQUEST_ID = re.compile(r"(Request ID|RequestId|request id)(: ?)[\w=+/-]+")


def _cause(value: Any) -> Any:
    """A service error's Cause names the AWS request, different on every call."""
    return _REQUEST_ID.sub(r"\1\2<id>", value) if isinstance(value, str) else value


def compare(local: dict[str, Any], deployed: dict[str, Any], volatile: bool) -> list[str]:
    """What differs between the local engine's result and the deployment's (empty: they agree)."""
    problems = []
    for key in ("status", "error", "cause"):
        if key == "cause" and _cause(local.get(key)) == _cause(deployed.get(key)):
            continue
        if local.get(key) != deployed.get(key):
            problems.append(f"{key}: local {local.get(key)!r} != deployed {deployed.get(key)!r}")
    lo, de = local.get("output"), deployed.get("output")
    if volatile:
        lo, de = normalize(lo), normalize(de)
    if lo != de:
        problems.append(f"output: local {json.dumps(lo, default=str)[:600]} != deployed "
                        f"{json.dumps(de, default=str)[:600]}")
    hl, hd = history_steps(local), history_steps(deployed)
    if volatile:
        hl, hd = collapse_repeats(hl), collapse_repeats(hd)
    if any(step in ("ParallelStateStarted", "MapStateStarted") for step in hl):
        # branches and iterations run at once: how their events interleave depends on timing (on
        # AWS too), so the events are compared as a multiset, and where the execution starts and ends
        same = sorted(hl) == sorted(hd) and hl[:2] == hd[:2] and hl[-3:] == hd[-3:]
    else:
        same = hl == hd
    if not same:
        problems.append(f"history: local {hl} != deployed {hd}")
    return problems
