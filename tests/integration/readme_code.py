"""The README's code, run as written: a test that uses an example proves the example, not a copy."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[2] / "README.md"


def activity_worker() -> dict[str, Any]:
    """The README's activity worker (the first Python block of its Activities section), executed:
    its names (``activity_client``, ``serve_one``) as a namespace."""
    text = README.read_text()
    section = text[text.index("\n### Activities\n"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md#activities", "exec"), namespace)  # noqa: S102 - our own README
    return namespace
