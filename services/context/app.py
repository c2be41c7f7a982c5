"""The context service: contract only so far; every RPC answers UNIMPLEMENTED."""

from devmatrix.runtime.placeholder import unimplemented_app
from devmatrix.v1 import context_pb2_grpc

build = unimplemented_app(
    "context",
    "devmatrix.v1.ContextService",
    context_pb2_grpc.add_ContextServiceServicer_to_server,
    context_pb2_grpc.ContextServiceServicer,
)
