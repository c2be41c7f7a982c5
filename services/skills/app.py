"""The skills service: contract only so far; every RPC answers UNIMPLEMENTED."""

from devmatrix.runtime.placeholder import unimplemented_app
from devmatrix.v1 import skills_pb2_grpc

build = unimplemented_app(
    "skills",
    "devmatrix.v1.SkillsService",
    skills_pb2_grpc.add_SkillsServiceServicer_to_server,
    skills_pb2_grpc.SkillsServiceServicer,
)
