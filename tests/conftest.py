from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stacklens.testing import in_process_hub


@pytest.fixture
def hub_and_client(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    with in_process_hub(tmp_path / "data") as pair:
        yield pair


@pytest.fixture
def client(hub_and_client: tuple[Any, Any]) -> Any:
    return hub_and_client[1]


@pytest.fixture
def hub(hub_and_client: tuple[Any, Any]) -> Any:
    return hub_and_client[0]
