"""Pattern search and the standards over HTTP (PatternsService, SkillsService)."""

from __future__ import annotations

import httpx

from tests.gateway.conftest import assert_problem

GOOD_PY = 'def add(a: int, b: int) -> int:\n    """Add."""\n    return a + b\n'
BAD_PY = "def f(x):\n    try:\n        return 1 / x\n    except:\n        pass\n"


async def test_similar_patterns(http: httpx.AsyncClient) -> None:
    reply = await http.get("/api/patterns/similar", params={"q": "user login with JWT tokens", "top_k": 3})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["query"] == "user login with JWT tokens"
    matches = body["matches"]
    assert 1 <= len(matches) <= 3
    assert set(matches[0]) == {"pattern", "similarity", "metadata_score", "hybrid_score"}
    assert matches[0]["pattern"]["code"] and matches[0]["pattern"]["category"]
    scores = [m["hybrid_score"] for m in matches]
    assert scores == sorted(scores, reverse=True)

    in_category = await http.get(
        "/api/patterns/similar", params={"q": "database model", "category": "database"}
    )
    assert in_category.status_code == 200, in_category.text
    assert {m["pattern"]["category"] for m in in_category.json()["matches"]} <= {"database"}

    assert_problem(await http.get("/api/patterns/similar"), 400, "INVALID_ARGUMENT", "q")
    assert_problem(
        await http.get("/api/patterns/similar", params={"q": "x", "top_k": 0}),
        400,
        "INVALID_ARGUMENT",
        "top_k",
    )


async def test_skills_and_checks(http: httpx.AsyncClient) -> None:
    reply = await http.get("/api/skills")
    assert reply.status_code == 200, reply.text
    skills = reply.json()["skills"]
    assert len(skills) == 17
    assert set(skills[0]) == {"name", "domain", "description", "guidelines", "threshold", "languages"}
    backend = (await http.get("/api/skills", params={"domain": "backend"})).json()["skills"]
    assert backend and {s["domain"] for s in backend} == {"backend"}

    good = await http.post("/api/skills/check", json={"files": [{"path": "app/calc.py", "content": GOOD_PY}]})
    assert good.status_code == 200, good.text
    body = good.json()
    assert set(body) == {"passed", "overall_score", "results", "skipped"}
    assert body["results"] and 0.0 <= body["overall_score"] <= 1.0

    bad = await http.post(
        "/api/skills/check",
        json={"files": [{"path": "app/calc.py", "content": BAD_PY, "language": "python"}], "skills": []},
    )
    findings = [f for r in bad.json()["results"] for f in r["findings"]]
    assert findings and {"skill", "rule", "path", "line", "message", "severity", "fixable"} == set(
        findings[0]
    )
    assert any(f["path"] == "app/calc.py" and f["severity"] in ("ERROR", "WARNING") for f in findings)

    outside = await http.post(
        "/api/skills/check", json={"files": [{"path": "../etc/passwd", "content": "x"}]}
    )
    body = assert_problem(outside, 400, "INVALID_ARGUMENT")
    assert body["service"] == "skills" and body["field_violations"], body
    unknown = await http.post(
        "/api/skills/check",
        json={"files": [{"path": "a.py", "content": "x = 1\n"}], "skills": ["no-such-skill"]},
    )
    assert_problem(unknown, 400, "INVALID_ARGUMENT")
    assert_problem(await http.post("/api/skills/check", json={"files": []}), 400, "INVALID_ARGUMENT", "files")
