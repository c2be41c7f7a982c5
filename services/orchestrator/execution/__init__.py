"""The orchestrator's execution engine: runs a spec's waves through the codegen service.

Modules: `runner` (waves and workers, resume), `service` (the RPCs' domain operations),
`worker` (one task: retries, history, completion), `codegen` (the client), `store` (SQL),
`files` (accepted code), `agents` (assignment), `metrics`. Leases are in
services/orchestrator/leases.py, the review queue in services/orchestrator/review.py.
Nothing is imported here, so leases and review can use the leaf modules without cycles.
"""
