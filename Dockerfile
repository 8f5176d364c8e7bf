# One image for both services: the sink (no GPU needed) and the trainer (torchrun).
# On a GPU host, install the CUDA build of torch instead: build with
#   --build-arg TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
FROM python:3.11-slim
ARG TORCH_SPEC="torch==2.13.0"
WORKDIR /app
COPY pyproject.toml README.md ./
COPY protocol protocol
COPY trainer trainer
COPY sink sink
COPY tui tui
COPY stratlog stratlog
RUN pip install --no-cache-dir $TORCH_SPEC && pip install --no-cache-dir .
ENTRYPOINT ["stratlog"]
