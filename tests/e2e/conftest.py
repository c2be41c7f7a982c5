"""Fixtures of the e2e modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.mesh_support import Mesh, running_mesh


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    """One `devmatrix up` per module that asks for it (startup takes 20-30 s: the patterns
    service loads an embedding model). A module may stop it in its last test."""
    with running_mesh(tmp_path_factory.mktemp("mesh")) as running:
        yield running
