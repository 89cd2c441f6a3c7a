"""Shared paths and helpers of the SDK's tests."""

from __future__ import annotations

import json
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

VECTORS = Path(__file__).resolve().parents[2] / "vectors"


def read_vectors(name: str) -> Any:
    """A file of ``sdk/vectors`` (written by the Rust reference code), parsed."""
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """A failed test that used a node gets the end of the node's log in its report."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    funcargs = getattr(item, "funcargs", {})
    node = funcargs.get("node")
    log_tail = getattr(node, "log_tail", None)
    if callable(log_tail):
        report.sections.append(("node log (last lines)", str(log_tail())))
