# One image for the five DevMatrix gRPC services and the HTTP gateway; pick one with the command,
# e.g. `python -m services.context` or `python -m gateway` (docker-compose.yml and k8s/ set it).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DEVMATRIX_DATA_DIR=/data \
    HF_HUB_OFFLINE=1

WORKDIR /app

# Dependencies first so the layer is reused while only the code changes.
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .
# Python stubs are generated from protos/, never copied from a work tree (.dockerignore drops them).
RUN PYTHON=python bash scripts/gen_protos.sh \
    && groupadd --system --gid 10001 devmatrix \
    && useradd --system --uid 10001 --gid devmatrix --home-dir /data --no-create-home devmatrix \
    && mkdir -p /data \
    && chown devmatrix:devmatrix /data

USER 10001:10001
VOLUME ["/data"]
# gRPC: orchestrator, context, codegen, patterns, skills; then their /metrics ports; the gateway.
EXPOSE 50051 50052 50053 50054 50055 9101 9102 9103 9104 9105 8080

CMD ["python", "-m", "services.orchestrator"]
