"""What every route shares: request ids to the services' logs, problem bodies, the body
limit, CORS, RED metrics, health, a service down, and an OpenAPI document that matches."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator

import httpx
import structlog
from structlog.testing import capture_logs

from devmatrix.cli.mesh import free_port
from devmatrix.runtime.config import SERVICE_NAMES
from gateway.app import create_app
from tests.gateway.conftest import CORS_ORIGIN, MAX_BODY, SMALL_PLAN, Gateway, assert_problem, create_plan

# Every route of the API, as the OpenAPI document must list it.
ROUTES = {
    ("post", "/api/specs"),
    ("get", "/api/specs"),
    ("get", "/api/specs/{spec_id}"),
    ("get", "/api/specs/{spec_id}/tasks"),
    ("post", "/api/specs/{spec_id}/run"),
    ("get", "/api/specs/{spec_id}/events"),
    ("get", "/api/executions/{execution_id}"),
    ("post", "/api/executions/{execution_id}/cancel"),
    ("get", "/api/tasks/{task_id}"),
    ("get", "/api/tasks/{task_id}/status"),
    ("post", "/api/tasks/{task_id}/execute"),
    ("get", "/api/tasks/{task_id}/context"),
    ("get", "/api/waves/current"),
    ("post", "/api/orchestration/analyze"),
    ("get", "/api/progress/{spec_id}"),
    ("get", "/api/patterns/similar"),
    ("get", "/api/skills"),
    ("post", "/api/skills/check"),
    ("get", "/api/review-queue"),
    ("post", "/api/review-queue/{task_id}/approve"),
    ("post", "/api/review-queue/{task_id}/regenerate"),
    ("post", "/api/review-queue/{task_id}/edit"),
    ("get", "/"),
    ("get", "/health/live"),
    ("get", "/health/ready"),
    ("get", "/metrics"),
}


async def test_the_request_id_is_echoed_and_reaches_the_services_logs(http: httpx.AsyncClient) -> None:
    request_id = f"gw-{uuid.uuid4().hex[:12]}"
    missing = str(uuid.uuid4())
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        reply = await http.get(f"/api/tasks/{missing}/status", headers={"X-Request-Id": request_id})
    assert_problem(reply, 404, "NOT_FOUND", request_id=request_id)
    assert reply.headers["x-request-id"] == request_id
    # The orchestrator logged the refused call under the gateway's request id.
    refused = [e for e in logs if e.get("event") == "rpc_failed" and e.get("request_id") == request_id]
    assert refused and refused[0]["rpc"] == "devmatrix.v1.OrchestratorService/GetTask", logs
    access = [e for e in logs if e.get("event") == "http_request" and e.get("request_id") == request_id]
    assert access and access[0]["status"] == 404 and access[0]["route"] == "/api/tasks/{task_id}/status"

    made = await http.get("/health/live", headers={"X-Request-Id": "not valid\x7f" * 20})
    assert made.status_code == 200 and len(made.headers["x-request-id"]) == 32
    fresh = await http.get("/health/live")
    assert fresh.headers["x-request-id"] != made.headers["x-request-id"]


async def test_unknown_routes_and_methods_are_problems(http: httpx.AsyncClient) -> None:
    assert_problem(await http.get("/api/nothing-here"), 404, "NOT_FOUND")
    assert_problem(await http.delete("/api/specs"), 405, "METHOD_NOT_ALLOWED")


async def test_an_oversized_body_is_413(http: httpx.AsyncClient) -> None:
    big = {"markdown": "# Big\n\n" + "x" * (MAX_BODY + 10)}
    declared = await http.post("/api/specs", json=big, headers={"X-Request-Id": "too-big"})
    assert_problem(declared, 413, "PAYLOAD_TOO_LARGE", request_id="too-big")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"markdown": "# Big\\n\\n'
        for _ in range(MAX_BODY // 8192 + 2):
            yield b"x" * 8192
        yield b'"}'

    streamed = await http.post("/api/specs", content=chunks(), headers={"content-type": "application/json"})
    assert_problem(streamed, 413, "PAYLOAD_TOO_LARGE")
    # Under the limit it goes through.
    assert (await http.post("/api/specs", json={"plan": SMALL_PLAN})).status_code == 201


async def test_cors_when_configured(http: httpx.AsyncClient) -> None:
    preflight = await http.options(
        "/api/specs",
        headers={
            "Origin": CORS_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-request-id",
        },
    )
    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["access-control-allow-origin"] == CORS_ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "x-request-id" in preflight.headers["access-control-allow-headers"].lower()

    simple = await http.get("/api/skills", headers={"Origin": CORS_ORIGIN})
    assert simple.headers["access-control-allow-origin"] == CORS_ORIGIN
    assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()

    other = await http.options(
        "/api/specs", headers={"Origin": "http://elsewhere.test", "Access-Control-Request-Method": "POST"}
    )
    assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
    foreign = await http.get("/api/skills", headers={"Origin": "http://elsewhere.test"})
    assert "access-control-allow-origin" not in foreign.headers


async def test_red_metrics_by_route_template(http: httpx.AsyncClient) -> None:
    spec = (await create_plan(http))["spec"]
    assert (await http.get(f"/api/specs/{spec['id']}")).status_code == 200
    await http.get(f"/api/specs/{uuid.uuid4()}")
    text = (await http.get("/metrics")).text
    assert 'devmatrix_http_requests_total{method="GET",route="/api/specs/{spec_id}",status="200"}' in text
    assert 'devmatrix_http_requests_total{method="GET",route="/api/specs/{spec_id}",status="404"}' in text
    assert 'devmatrix_http_requests_total{method="POST",route="/api/specs",status="201"}' in text
    assert (
        'devmatrix_http_request_seconds_bucket{le="0.005",method="GET",route="/api/specs/{spec_id}"}' in text
    )
    assert "devmatrix_http_requests_in_flight" in text
    assert spec["id"] not in text  # ids never become labels
    await http.get(f"/api/no/{uuid.uuid4()}")
    assert 'route="<unmatched>",status="404"' in (await http.get("/metrics")).text


async def test_health(http: httpx.AsyncClient) -> None:
    assert (await http.get("/health/live")).json()["status"] == "ok"
    ready = await http.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {
        "status": "ready",
        "services": {
            "orchestrator": "SERVING",
            "context": "SERVING",
            "patterns": "SERVING",
            "skills": "SERVING",
        },
    }


async def test_a_service_down_is_503_and_cors_is_off_by_default(gateway: Gateway) -> None:
    nowhere = {name: f"127.0.0.1:{free_port()}" for name in SERVICE_NAMES}
    settings = dataclasses.replace(gateway.settings, addrs=nowhere, gateway_cors_origins=())
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test") as client,
    ):
        down = await client.get(f"/api/progress/{uuid.uuid4()}", headers={"Origin": CORS_ORIGIN})
        body = assert_problem(down, 503, "UNAVAILABLE")
        assert body["service"] == "orchestrator" and "orchestrator" in body["detail"]
        assert "access-control-allow-origin" not in down.headers
        skills = assert_problem(await client.get("/api/skills"), 503, "UNAVAILABLE")
        assert skills["service"] == "skills"
        not_ready = await client.get("/health/ready")
        assert not_ready.status_code == 503 and not_ready.json()["services"]["orchestrator"] == "UNREACHABLE"
        preflight = await client.options(
            "/api/specs", headers={"Origin": CORS_ORIGIN, "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in preflight.headers


async def test_the_openapi_document_matches_the_server(http: httpx.AsyncClient) -> None:
    doc = (await http.get("/openapi.json")).json()
    listed = {(method, path) for path, item in doc["paths"].items() for method in item}
    assert listed == ROUTES
    for (method, path), operation in ((k, doc["paths"][k[1]][k[0]]) for k in sorted(listed)):
        responses = operation["responses"]
        assert "422" not in responses, (method, path)
        for code, response in responses.items():
            if int(code) >= 400 and path.startswith("/api"):
                assert list(response["content"]) == ["application/problem+json"], (method, path, code)
                assert response["content"]["application/problem+json"]["schema"]["$ref"].endswith("/Problem")
        if path.startswith("/api"):
            assert {"400", "503"} <= set(responses), (method, path)
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    problem = doc["components"]["schemas"]["Problem"]
    assert {"status", "code", "detail", "request_id", "field_violations"} <= set(problem["properties"])
    execute = doc["paths"]["/api/tasks/{task_id}/execute"]["post"]
    assert "ExecuteWave" in execute["description"] and "409" in execute["responses"]
    events = doc["paths"]["/api/specs/{spec_id}/events"]["get"]["responses"]["200"]["content"]
    assert list(events) == ["text/event-stream"]
    tasks = doc["paths"]["/api/specs/{spec_id}/tasks"]["get"]
    params = {p["name"]: p for p in tasks["parameters"]}
    assert set(params) == {"spec_id", "page_size", "page_token", "status", "type", "wave"}
    created = doc["paths"]["/api/specs"]["post"]["responses"]
    assert {"200", "201", "413"} <= set(created)
    assert created["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/SpecCreated")
