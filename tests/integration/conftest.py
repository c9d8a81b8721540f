"""Fixtures shared by the lab tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import lab_support as lab

PROJECT = "coi-tui-test"


@pytest.fixture
def second_project() -> Iterator[str]:
    lab.require_lab()
    lab.incus("project", "create", PROJECT, "-c", "features.images=false",
              "-c", "features.profiles=false")
    try:
        lab.incus("launch", lab.IMAGE, "coi-lab-elsewhere", "--project", PROJECT, "-q")
        yield "coi-lab-elsewhere"
    finally:
        lab.run("incus", "delete", "--force", "coi-lab-elsewhere", "--project", PROJECT,
                check=False)
        lab.run("incus", "project", "delete", PROJECT, check=False)
