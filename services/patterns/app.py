"""The patterns service: contract only so far; every RPC answers UNIMPLEMENTED."""

from devmatrix.runtime.placeholder import unimplemented_app
from devmatrix.v1 import patterns_pb2_grpc

build = unimplemented_app(
    "patterns",
    "devmatrix.v1.PatternsService",
    patterns_pb2_grpc.add_PatternsServiceServicer_to_server,
    patterns_pb2_grpc.PatternsServiceServicer,
)
