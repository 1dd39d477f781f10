"""The DAG's own docs: the diagram as a picture, links to the console, and the ASL definition.

The definition travels in the DAG's ``doc_md`` because that is what Airflow serializes for the API
server (which never parses DAG files): the console reads it back with :func:`definition_from_doc`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from asl_airflow.airflow.console import URL_PREFIX

DEFINITION_SUMMARY = "<summary>ASL definition</summary>"
_FENCE_OPEN = "```json\n"
_FENCE_CLOSE = "\n```"


def api_base_path() -> str:
    """The path Airflow's UI and API are served under (``[api] base_url``), "" at the root."""
    try:
        from airflow.configuration import conf

        base = conf.get("api", "base_url", fallback="") or ""
    except Exception:  # noqa: BLE001 - docs are best effort; a broken config fails elsewhere, loudly
        base = ""
    return urlsplit(base).path.rstrip("/")


def project_path(source: str) -> str:
    """The definition file as the project names it (``include/asl/x.asl.json``), never the build
    machine's absolute path: relative to the project (the folder holding the DAGs folder) or the
    working directory, else just its file name."""
    path_text, _, fragment = source.partition("#")
    path = Path(path_text)
    if not path.is_absolute():
        return source
    roots = []
    try:
        from airflow.configuration import conf

        roots.append(Path(conf.get("core", "dags_folder")).resolve().parent)
    except Exception:  # noqa: BLE001
        pass
    roots.append(Path(os.getcwd()).resolve())
    resolved = path.resolve()
    for root in roots:
        if resolved.is_relative_to(root):
            text = resolved.relative_to(root).as_posix()
            return text + (f"#{fragment}" if fragment else "")
    return path.name + (f"#{fragment}" if fragment else "")


def doc_md(name: str, dag_id: str, document: dict[str, Any], source: str, extra: str | None = None) -> str:
    """The DAG's Markdown docs: what the DAG is, the diagram (an image the plugin serves: Airflow's
    UI renders no Mermaid and drops ``data:`` images), where the executions are, the definition."""
    base = f"{api_base_path()}{URL_PREFIX}"
    quoted = quote(dag_id, safe="")
    comment = document.get("Comment", "")
    parts = [f"# {name}\n"]
    if extra:
        parts.append(extra.strip() + "\n")
    if comment:
        parts.append(f"{comment}\n")
    parts.append(f"![The state machine {name}]({base}/definitions/{quoted}/diagram.svg)\n")
    parts.append(
        f"Compiled by asl-airflow from `{project_path(source)}`: one task per state; the DAG run's conf is the "
        "execution input.\n\n"
        "**Executions**: open a DAG run and its **ASL execution** tab (the Step Functions console's view: the "
        f"flow coloured by what happened, each state's data, the event history), or "
        f"`{base}/executions/{dag_id}/<run id>`; JSON: `.../history`, `.../describe`.\n"
    )
    parts.append(f"<details>{DEFINITION_SUMMARY}\n\n{_FENCE_OPEN}{json.dumps(document, indent=2)}{_FENCE_CLOSE}\n"
                 "</details>\n")
    return "\n".join(parts)


def definition_from_doc(doc: str | None) -> dict[str, Any] | None:
    """The ASL document :func:`doc_md` wrote into a DAG's docs; None for any other DAG."""
    if not doc or DEFINITION_SUMMARY not in doc:
        return None
    start = doc.find(_FENCE_OPEN, doc.index(DEFINITION_SUMMARY))
    end = doc.find(_FENCE_CLOSE, start + len(_FENCE_OPEN)) if start >= 0 else -1
    if start < 0 or end < 0:
        return None
    try:
        document = json.loads(doc[start + len(_FENCE_OPEN):end])
    except ValueError:
        return None
    if not isinstance(document, dict) or not isinstance(document.get("States"), dict):
        return None
    return document
