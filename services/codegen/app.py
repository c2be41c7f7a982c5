"""The codegen service: contract only so far; every RPC answers UNIMPLEMENTED."""

from devmatrix.runtime.placeholder import unimplemented_app
from devmatrix.v1 import codegen_pb2_grpc

build = unimplemented_app(
    "codegen",
    "devmatrix.v1.CodegenService",
    codegen_pb2_grpc.add_CodegenServiceServicer_to_server,
    codegen_pb2_grpc.CodegenServiceServicer,
)
