"""Phase 6.5: the project the database holds checked against the skills; under the target,
each task whose files have findings is repaired (the standards applied by the skills
service, then, if still failing, a regeneration with the findings fed back) and the better
files replace the task's own (RepairTaskFiles, audited)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import grpc

from devmatrix.pipeline.clients import Clients
from devmatrix.v1 import codegen_pb2, common_pb2, skills_pb2
from devmatrix.v1 import orchestrator_pb2 as pb


@dataclass
class Compliance:
    before: float
    after: float
    validation: skills_pb2.ValidateResponse
    repaired: list[str]


async def validate(
    clients: Clients, files: Sequence[common_pb2.GeneratedFile]
) -> skills_pb2.ValidateResponse:
    return await clients.skills.Validate(skills_pb2.ValidateRequest(files=list(files)))


def tasks_with_findings(
    listing: Sequence[pb.TaskFile], validation: skills_pb2.ValidateResponse
) -> dict[str, list[common_pb2.Finding]]:
    """Task id -> the findings in its files (each lowers compliance, failing skill or not)."""
    owner = {f.file.path: f.task_id for f in listing}
    found: dict[str, list[common_pb2.Finding]] = defaultdict(list)
    for result in validation.results:
        for finding in result.findings:
            if finding.path in owner:
                found[owner[finding.path]].append(finding)
    return dict(found)


async def _better(
    clients: Clients, task_id: str, files: list[common_pb2.GeneratedFile], findings: list[common_pb2.Finding]
) -> tuple[list[common_pb2.GeneratedFile], float, float] | None:
    """(files, score before, score after) of the best repair, or None if none improves."""
    before = (await validate(clients, files)).overall_score
    best: tuple[list[common_pb2.GeneratedFile], float] | None = None
    fixed = await clients.skills.ApplyStandards(skills_pb2.ApplyStandardsRequest(files=files))
    score = (await validate(clients, fixed.files)).overall_score
    if score > before:
        best = (list(fixed.files), score)
    if best is None or best[1] < 1.0:
        try:
            regenerated = await clients.codegen.GenerateCode(
                codegen_pb2.GenerateCodeRequest(task_id=task_id, attempt=2, feedback=findings[:40]),
                timeout=clients.generation_deadline,
            )
        except grpc.aio.AioRpcError:
            regenerated = None  # the task cannot be regenerated (e.g. no generator for it)
        if regenerated is not None and regenerated.files:
            score = (await validate(clients, regenerated.files)).overall_score
            if score > (best[1] if best else before):
                best = (list(regenerated.files), score)
    return (best[0], before, best[1]) if best else None


async def check_and_repair(
    clients: Clients, spec_id: str, target: float, progress: Callable[[int, int], None]
) -> Compliance:
    listing = (await clients.orchestrator.ListTaskFiles(pb.ListTaskFilesRequest(spec_id=spec_id))).files
    validation = await validate(clients, [f.file for f in listing])
    before = validation.overall_score
    repaired: list[str] = []
    if before < target:
        failing = tasks_with_findings(listing, validation)
        for n, (task_id, findings) in enumerate(sorted(failing.items()), 1):
            files = [f.file for f in listing if f.task_id == task_id]
            better = await _better(clients, task_id, files, findings)
            if better is not None:
                new_files, score_before, score_after = better
                await clients.orchestrator.RepairTaskFiles(
                    pb.RepairTaskFilesRequest(
                        request_id=f"compliance:{task_id}:{score_before:.4f}",
                        task_id=task_id,
                        files=new_files,
                        reason=f"compliance {before:.3f} under {target:.2f}: {len(findings)} findings",
                        score_before=score_before,
                        score_after=score_after,
                    )
                )
                repaired.append(task_id)
            progress(n, len(failing))
        if repaired:
            listing = (
                await clients.orchestrator.ListTaskFiles(pb.ListTaskFilesRequest(spec_id=spec_id))
            ).files
            validation = await validate(clients, [f.file for f in listing])
    return Compliance(before, validation.overall_score, validation, repaired)
