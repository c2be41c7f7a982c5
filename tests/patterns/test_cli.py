"""`devmatrix patterns search` as a user runs it: the patterns service started in process on
the golden library, real embeddings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def devmatrix(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_ADDR")}
    env |= {"DEVMATRIX_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "devmatrix.cli.main", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_search_ranks_auth_patterns_first_and_refuses_an_empty_query(tmp_path: Path) -> None:
    found = devmatrix(
        "patterns", "search", "user login with JWT", "--top-k", "5", "--json", data_dir=tmp_path
    )
    assert found.returncode == 0, found.stderr
    matches = json.loads(found.stdout)["matches"]
    assert len(matches) == 5
    assert matches[0]["pattern"]["category"] in {"security", "api", "services"}
    assert "jwt" in matches[0]["pattern"]["name"] or "auth" in matches[0]["pattern"]["name"]
    scores = [m["hybridScore"] for m in matches]
    assert scores == sorted(scores, reverse=True)
    assert all(m["pattern"]["category"] != "docker" for m in matches[:3])

    refused = devmatrix("patterns", "search", "", data_dir=tmp_path)
    assert refused.returncode == 1
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "INVALID_ARGUMENT" in lines[0] and "query" in lines[0]
