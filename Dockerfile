# syntax=docker/dockerfile:1
# One image recipe, two builds, both installed from requirements/lock.txt (every package pinned
# and hash-checked, the same versions the tests run on):
#   docker build --build-arg TORCH=cpu  -t stratlog:cpu  .   # the sink, the dashboard, CPU training
#   docker build --build-arg TORCH=cuda -t stratlog:cuda .   # GPU training (CUDA 12.8 torch wheel)
# The lock pins torch's CPU build; the CUDA build replaces that one entry with the same torch
# version from PyTorch's CUDA index (its nvidia-* runtime wheels come with it, unpinned: they are
# the CUDA build's own dependencies) and installs everything else from the lock unchanged.
ARG TORCH=cpu

FROM python:3.11-slim AS base
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements/lock.txt requirements/lock.txt
# the lock without its torch entry (a requirement line and its --hash continuation lines)
RUN awk '/^torch==/ {skip = 1; next} skip && /^ / {next} {skip = 0; print}' requirements/lock.txt \
      > requirements/lock-without-torch.txt

FROM base AS torch-cpu
RUN pip install --require-hashes --no-deps --extra-index-url https://download.pytorch.org/whl/cpu \
      -r requirements/lock.txt

FROM base AS torch-cuda
ARG TORCH_CUDA_INDEX=https://download.pytorch.org/whl/cu128
RUN TORCH_VERSION="$(sed -n 's/^torch==\([0-9.]*\).*/\1/p' requirements/lock.txt)" \
    && pip install --index-url "$TORCH_CUDA_INDEX" "torch==$TORCH_VERSION" \
    && pip install --require-hashes --no-deps -r requirements/lock-without-torch.txt

FROM torch-${TORCH}
COPY pyproject.toml README.md ./
COPY protocol protocol
COPY trainer trainer
COPY sink sink
COPY tui tui
COPY stratlog stratlog
# the dependencies are all in place: install only the project (its build backend is in the lock too)
RUN pip install --no-deps --no-build-isolation .
ENTRYPOINT ["stratlog"]
