"""Exit 0 when a gRPC server reports SERVING over grpc.health.v1 (a grpc_health_probe stand-in).

Usage: python scripts/grpc_health_check.py HOST:PORT [SERVICE]
SERVICE defaults to "" (the whole server). Exit 1 on NOT_SERVING, unknown service or no answer
within GRPC_HEALTH_TIMEOUT seconds (default 3); exit 2 on bad usage.
"""

import os
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print(__doc__, file=sys.stderr)
        return 2
    target, service = argv[0], argv[1] if len(argv) == 2 else ""
    timeout = float(os.environ.get("GRPC_HEALTH_TIMEOUT", "3"))
    request = health_pb2.HealthCheckRequest(service=service)
    try:
        with grpc.insecure_channel(target) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(request, timeout=timeout)
    except grpc.RpcError as err:
        print(f"{target} {service!r}: {err.code().name} {err.details()}", file=sys.stderr)
        return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    print(f"{target} {service!r}: {status}")
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
