"""Dependency-graph stores: the interface, the embedded (networkx) and the Neo4j backend."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devmatrix.stores.graph.base import GraphStore, GraphTask, WaveAnalysis
from devmatrix.stores.graph.embedded import EmbeddedGraphStore

if TYPE_CHECKING:
    from devmatrix.stores.graph.neo4j_store import Neo4jGraphStore

__all__ = ["EmbeddedGraphStore", "GraphStore", "GraphTask", "Neo4jGraphStore", "WaveAnalysis"]


def __getattr__(name: str) -> Any:
    # The neo4j driver is only imported when the Neo4j backend is actually asked for.
    if name == "Neo4jGraphStore":
        from devmatrix.stores.graph.neo4j_store import Neo4jGraphStore

        return Neo4jGraphStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
