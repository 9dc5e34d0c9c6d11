# syntax=docker/dockerfile:1
# The RunPod serverless worker: the official SGLang image plus this worker, optionally with a
# model baked in. README.md ("Deploying on RunPod") has the full story; in short:
#
#   docker build -t you/sglang-worker:dev .                         # model chosen at run time
#   docker build -t you/sglang-worker:qwen2.5-vl-7b \
#       --build-arg MODEL_NAME=Qwen/Qwen2.5-VL-7B-Instruct \
#       --secret id=HF_TOKEN,env=HF_TOKEN .                         # model baked in
#
# Host requirements: an NVIDIA GPU of compute capability 8.0 or newer (Ampere, Ada, Hopper,
# Blackwell; sglang-kernel is compiled for sm_80, sm_89, sm_90a, sm_100a, sm_103a and sm_120a, so
# Turing (7.5) and Volta are out) and a driver that supports CUDA 13.0, i.e. 580.65.06 or newer.
# On RunPod, allow CUDA 13.0 and newer for the endpoint: the list is exact, not a minimum, so
# .runpod/hub.json names each 13.x version. An older driver fails before the worker runs, so no
# log line of the worker can explain it.
#
# The SGLang version is builder/SGLANG_VERSION, the same file the CPU test environment installs
# from; tests/unit/test_dockerfile.py fails if the default below says anything else. For a
# reproducible build pin the base image by digest as well (README: "Building the image"):
#   --build-arg SGLANG_IMAGE=lmsysorg/sglang:v0.5.23-cu130@sha256:<digest>
ARG SGLANG_VERSION=0.5.23
ARG SGLANG_IMAGE=lmsysorg/sglang:v${SGLANG_VERSION}-cu130

# A model directory on the build machine, for baking a local model: empty unless the build names
# one, `--build-context model-source=/path/to/model --build-arg MODEL_NAME=/model-source`. It is
# bind-mounted for the bake step only, so it never enters the build context or a layer of its own.
FROM scratch AS model-source

FROM ${SGLANG_IMAGE}

# Where RunPod mounts a network volume. Without a baked model the worker keeps the Hugging Face
# cache there (BASE_PATH/huggingface-cache). Nothing in the image may live under it: a mounted
# volume hides whatever is below its mount point.
ARG BASE_PATH=/runpod-volume
ENV BASE_PATH=${BASE_PATH} \
    PYTHONPATH=/worker/src \
    PYTHONUNBUFFERED=1

WORKDIR /worker

# 1. An optional baked model: its files go to /models (outside BASE_PATH) with a manifest that
#    the worker reads at start; it then serves that model with Hugging Face offline. The token
#    is a BuildKit secret: it is read from /run/secrets during this step only and is in no layer,
#    no ENV and no build argument. First of the worker's layers, so neither a requirements change
#    nor a code change downloads the weights again (the base image provides huggingface_hub).
ARG MODEL_NAME=""
ARG MODEL_REVISION=""
# A tokenizer repository name, not a secret ("TOKEN" in the name is what DL3064 flags).
# hadolint ignore=DL3064
ARG TOKENIZER_NAME=""
ARG QUANTIZATION=""
COPY builder/download_model.py builder/
RUN --mount=type=secret,id=HF_TOKEN,required=false \
    --mount=type=bind,from=model-source,target=/model-source \
    if [ -n "$MODEL_NAME" ]; then python3 builder/download_model.py; fi

# 2. The worker's dependencies. Every package the image already has is pinned first, so pip can
#    only add packages: a requirement that would move torch, sglang, transformers or any other
#    base package fails the build instead of quietly changing the engine. The --check confirms it.
COPY builder/requirements.txt builder/base_constraints.py builder/
RUN python3 builder/base_constraints.py > /tmp/base-constraints.txt \
    && PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore python3 -m pip install \
        --no-cache-dir -r builder/requirements.txt -c /tmp/base-constraints.txt \
    && python3 builder/base_constraints.py --check /tmp/base-constraints.txt \
    && rm /tmp/base-constraints.txt

# 3. The worker itself, and a check at build time that it and the RunPod SDK import: a missing
#    dependency fails here, not in a GPU container at start.
COPY handler.py test_input.json test_input_with_base64_images.json test_input_with_images.json \
     test_input_with_video.json ./
COPY src/ src/
RUN python3 handler.py --help > /dev/null && python3 -c "import runpod.serverless, av"

# No wrapper script: the worker is the container's process, so RunPod's SIGTERM reaches it and
# it drains its jobs and stops SGLang (the base image's entrypoint is reset for that reason).
ENTRYPOINT []
CMD ["python3", "handler.py"]
