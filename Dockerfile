# Switchyard images: every app from one Dockerfile, one target per image.
#
#   docker build --target gateway         -t switchyard/gateway .
#   docker build --target llm-worker      -t switchyard/llm-worker .
#   docker build --target llm-worker-cuda -t switchyard/llm-worker-cuda .
#   (targets: gateway, llm-worker, llm-worker-cuda, onnx-worker, onnx-worker-cuda, upstream-worker,
#    runner; docker-compose.yml builds each of them)
#
# Why one file, when STYLE.md says "one Dockerfile per app": the apps share one package.json and
# lockfile, so they share one dependency install and one tsc build. Three files used to repeat those
# stages byte for byte (a script kept them in sync); here every target starts from the same cached
# `deps` and `build` stages, and what differs per app is only its final stage: which native
# binaries it keeps, its base image, its port and command. The app is still the deployment unit:
# one target, one image, one entry point.
#
# Debian/Ubuntu (glibc) bases only: node-llama-cpp's prebuilt binaries do not run on musl (alpine).
# Models are never baked in: mount GGUF files and ONNX folders (compose: ./models -> /models:ro) and
# a models file (MODELS_FILE).
#
# Build args:
#   NODE_IMAGE              the Node.js image every stage takes Node from (22 LTS)
#   LLM_CUDA_IMAGE          base of llm-worker-cuda. node-llama-cpp's linux-x64-cuda prebuilt links
#                           libcudart.so.13, libcublas.so.13 (and libcublasLt), so the default is a
#                           CUDA 13 runtime image (host driver R580 or newer; libcuda.so.1 comes from
#                           the host through the NVIDIA container toolkit).
#   LLAMA_CUDA12_FALLBACK   true: also keep @node-llama-cpp/linux-x64-cuda-ext, whose fallback backend
#                           links CUDA 12 (libcudart.so.12, libcublas.so.12; +360 MB). Use it with a
#                           CUDA 12 LLM_CUDA_IMAGE (e.g. nvidia/cuda:12.8.1-runtime-ubuntu24.04) on
#                           hosts whose driver predates CUDA 13.
#   ONNX_CUDA_IMAGE         base of onnx-worker-cuda: onnxruntime-node's CUDA execution provider is
#                           its "cuda12" download (Microsoft.ML.OnnxRuntime.Gpu.Linux), built for
#                           CUDA 12 and cuDNN 9, hence a CUDA 12 + cuDNN runtime image.
#   The CUDA targets fail their build when a library the prebuilt links is missing from the base.
#   onnx-worker-cuda downloads that provider from nuget.org while building (network needed).

ARG NODE_IMAGE=node:22-bookworm-slim
ARG LLM_CUDA_IMAGE=nvidia/cuda:13.0.0-runtime-ubuntu24.04
ARG ONNX_CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

# ---------------------------------------------------------------------------------------------------
# Shared stages: one dependency install and one build for every target.
# ---------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS node

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# Never download or compile llama.cpp during install: the prebuilt optional dependency must be used.
ENV NODE_LLAMA_CPP_SKIP_DOWNLOAD=true \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
# .npmrc carries onnxruntime-node-install=skip (its CUDA download happens in onnx-modules-cuda only).
COPY package.json package-lock.json .npmrc ./
# `npm ci` refuses this lockfile on linux-x64 too: it lacks entries for other platforms' optional
# binaries (@node-llama-cpp/win-x64, mac-arm64-metal, ...), which npm's sync check wants. `npm
# install` takes the same locked versions (the lockfile is already up to date for it) and --no-save
# leaves package.json and the lockfile untouched.
RUN npm install --no-save && npm cache clean --force

FROM deps AS build
COPY . .
RUN npm run build \
 && npm prune --omit=dev \
 && test -f dist/apps/gateway/src/main.js \
 && test -f dist/apps/llm-worker/src/main.js \
 && test -f dist/apps/onnx-worker/src/main.js \
 && test -f dist/apps/upstream-worker/src/main.js \
 && test -f dist/apps/runner/src/main.js \
 && test -f dist/libs/contracts/proto/runner.proto \
 && rm -rf node_modules/onnxruntime-node/bin/napi-v6/darwin node_modules/onnxruntime-node/bin/napi-v6/win32

# ---------------------------------------------------------------------------------------------------
# node_modules per kind of image: each keeps only the native binaries its app loads.
# ---------------------------------------------------------------------------------------------------
# Gateway and upstream worker run no model: no llama.cpp, ONNX Runtime or sherpa-onnx (~1.3 GB).
# Loading the app module proves that nothing the pruning removed is required at start.
FROM build AS api-modules
RUN rm -rf node_modules/node-llama-cpp node_modules/@node-llama-cpp node_modules/onnxruntime-node node_modules/onnxruntime-web \
           node_modules/sherpa-onnx-node node_modules/sherpa-onnx-linux-* node_modules/@huggingface/transformers \
 && node -e "require('./dist/apps/gateway/src/gateway.module.js'); require('./dist/apps/upstream-worker/src/upstream-worker.service.js')"

# llama.cpp on CPU (llm worker, runner): this architecture's CPU prebuilt only.
FROM build AS llama-modules
RUN set -e; \
    arch="$(node -p process.arch)"; \
    test -d "node_modules/@node-llama-cpp/linux-${arch}/bins" \
      || { echo "missing prebuilt node_modules/@node-llama-cpp/linux-${arch}" >&2; exit 1; }; \
    for d in node_modules/@node-llama-cpp/*; do \
      [ "$d" = "node_modules/@node-llama-cpp/linux-${arch}" ] || rm -rf "$d"; \
    done; \
    rm -rf node_modules/onnxruntime-node node_modules/onnxruntime-web node_modules/sherpa-onnx-node \
           node_modules/sherpa-onnx-linux-* node_modules/@huggingface/transformers; \
    ls node_modules/@node-llama-cpp

# llama.cpp on CUDA: the linux-x64-cuda prebuilt, plus the CPU one for LLAMA_GPU=false/auto (and
# linux-x64-cuda-ext's CUDA 12 fallback when asked).
FROM build AS llama-modules-cuda
ARG LLAMA_CUDA12_FALLBACK=false
RUN set -e; \
    test "$(node -p process.arch)" = x64 || { echo "llm-worker-cuda: node-llama-cpp ships CUDA prebuilts for linux-x64 only" >&2; exit 1; }; \
    test -f node_modules/@node-llama-cpp/linux-x64-cuda/bins/linux-x64-cuda/libggml-cuda.so \
      || { echo "missing prebuilt node_modules/@node-llama-cpp/linux-x64-cuda" >&2; exit 1; }; \
    keep="linux-x64 linux-x64-cuda"; \
    if [ "$LLAMA_CUDA12_FALLBACK" = "true" ]; then keep="$keep linux-x64-cuda-ext"; fi; \
    for d in node_modules/@node-llama-cpp/*; do \
      case " $keep " in *" ${d##*/} "*) ;; *) rm -rf "$d" ;; esac; \
    done; \
    rm -rf node_modules/onnxruntime-node node_modules/onnxruntime-web node_modules/sherpa-onnx-node \
           node_modules/sherpa-onnx-linux-* node_modules/@huggingface/transformers; \
    ls node_modules/@node-llama-cpp

# ONNX Runtime (onnx worker): no llama.cpp; onnxruntime-node keeps this platform's binding only.
FROM build AS onnx-modules
RUN set -e; \
    rm -rf node_modules/@node-llama-cpp node_modules/node-llama-cpp; \
    arch="$(node -p process.arch)"; \
    test -f "node_modules/onnxruntime-node/bin/napi-v6/linux/${arch}/onnxruntime_binding.node" \
      || { echo "missing onnxruntime-node binding for linux/${arch}" >&2; exit 1; }

# ONNX Runtime with its CUDA 12 execution provider, fetched by onnxruntime-node's own installer.
FROM onnx-modules AS onnx-modules-cuda
RUN ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node \
 && test -f node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so

# ---------------------------------------------------------------------------------------------------
# Run-time bases.
# ---------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps \
    MODELS_FILE=/etc/switchyard/models.yaml
WORKDIR /app

# ffmpeg decodes every audio upload that is not WAV (mp3, flac, ogg/opus, m4a, webm, ...); without it
# the onnx worker says so at start and answers those formats with a 400.
FROM runtime AS runtime-ffmpeg
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*

# The CUDA images come from NVIDIA (they carry the CUDA runtime libraries, and the labels the
# NVIDIA container toolkit reads); Node 22 is copied in from the official image, which runs on any
# glibc >= 2.28. Ubuntu 24.04 images own uid 1000 as `ubuntu`: that user makes way for `node`, so
# every image runs as the same uid 1000.
FROM ${LLM_CUDA_IMAGE} AS runtime-cuda-llm
COPY --from=node /usr/local/bin/node /usr/local/bin/node
RUN set -e; \
    if id -u ubuntu >/dev/null 2>&1; then userdel ubuntu; rm -rf /home/ubuntu; fi; \
    if getent group ubuntu >/dev/null; then groupdel ubuntu; fi; \
    groupadd --gid 1000 node; \
    useradd --uid 1000 --gid node --create-home --shell /bin/bash node; \
    node --version
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps \
    MODELS_FILE=/etc/switchyard/models.yaml
WORKDIR /app

FROM ${ONNX_CUDA_IMAGE} AS runtime-cuda-onnx
COPY --from=node /usr/local/bin/node /usr/local/bin/node
RUN set -e; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg; \
    rm -rf /var/lib/apt/lists/*; \
    if id -u ubuntu >/dev/null 2>&1; then userdel ubuntu; rm -rf /home/ubuntu; fi; \
    if getent group ubuntu >/dev/null; then groupdel ubuntu; fi; \
    groupadd --gid 1000 node; \
    useradd --uid 1000 --gid node --create-home --shell /bin/bash node; \
    node --version
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps \
    MODELS_FILE=/etc/switchyard/models.yaml
WORKDIR /app

# ---------------------------------------------------------------------------------------------------
# Final targets. Files stay root-owned, read-only for uid 1000. Exec-form CMD, so node itself gets
# SIGTERM and drains (compose adds init: true to reap zombies). Slim images have no curl or wget:
# the health checks use Node's global fetch.
# ---------------------------------------------------------------------------------------------------
FROM runtime AS gateway
ENV HOST=0.0.0.0 \
    PORT=8080
COPY --from=build /app/package.json ./package.json
COPY --from=api-modules /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
# 8080: the OpenAI-compatible API; 50051: the gRPC endpoint remote runners dial (RUNNER_GRPC_PORT).
EXPOSE 8080 50051
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health/ready',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/apps/gateway/src/main.js"]

# Serves the models file's `backend: upstream` entries: JavaScript only, the gateway's modules.
FROM runtime AS upstream-worker
ENV WORKER_HTTP_PORT=9464
COPY --from=build /app/package.json ./package.json
COPY --from=api-modules /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.WORKER_HTTP_PORT+'/health/ready',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/apps/upstream-worker/src/main.js"]

# llama.cpp worker, CPU. LLAMA_GPU=false (the worker's setting) and NODE_LLAMA_CPP_GPU=false (the
# library's) because this image holds the CPU prebuilt only.
FROM runtime AS llm-worker
ENV LLAMA_GPU=false \
    NODE_LLAMA_CPP_GPU=false \
    NODE_LLAMA_CPP_SKIP_DOWNLOAD=true \
    WORKER_HTTP_PORT=9464
COPY --from=build /app/package.json ./package.json
COPY --from=llama-modules /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 9464
# start-period: loading a large GGUF file takes a while before /health/ready turns 200.
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.WORKER_HTTP_PORT+'/health/ready',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/apps/llm-worker/src/main.js"]

# llama.cpp worker, CUDA. Needs a GPU-enabled container runtime (compose: the gpu profile).
FROM runtime-cuda-llm AS llm-worker-cuda
ENV LLAMA_GPU=cuda \
    NODE_LLAMA_CPP_GPU=cuda \
    NODE_LLAMA_CPP_SKIP_DOWNLOAD=true \
    WORKER_HTTP_PORT=9464
COPY --from=build /app/package.json ./package.json
COPY --from=llama-modules-cuda /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Every library the CUDA backend links must be in the image but libcuda.so.1, which the NVIDIA
# container toolkit mounts from the host driver at run time. With the CUDA 12 fallback kept, either
# backend resolving is enough (node-llama-cpp tries the main one first).
RUN set -e; \
    bins=node_modules/@node-llama-cpp/linux-x64-cuda/bins/linux-x64-cuda; \
    unresolved() { LD_LIBRARY_PATH="$bins" ldd "$1" | grep 'not found' | grep -v 'libcuda\.so\.1' || true; }; \
    missing="$(unresolved "$bins/libggml-cuda.so")"; \
    fallback=node_modules/@node-llama-cpp/linux-x64-cuda-ext/bins/linux-x64-cuda/fallback/libggml-cuda.so; \
    if [ -n "$missing" ] && [ -f "$fallback" ]; then missing="$(unresolved "$fallback")"; fi; \
    if [ -n "$missing" ]; then \
      echo "llm-worker-cuda: LLM_CUDA_IMAGE lacks libraries node-llama-cpp's CUDA backend links:" >&2; echo "$missing" >&2; exit 1; \
    fi
USER node
EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.WORKER_HTTP_PORT+'/health/ready',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/apps/llm-worker/src/main.js"]

# ONNX Runtime worker, CPU: embeddings, classifiers, rerankers, speech, images.
FROM runtime-ffmpeg AS onnx-worker
ENV ONNX_DEVICE=cpu \
    WORKER_HTTP_PORT=9464
COPY --from=build /app/package.json ./package.json
COPY --from=onnx-modules /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.WORKER_HTTP_PORT+'/health/ready',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/apps/onnx-worker/src/main.js"]

# ONNX Runtime worker, CUDA execution provider.
FROM runtime-cuda-onnx AS onnx-worker-cuda
ENV ONNX_DEVICE=cuda \
    WORKER_HTTP_PORT=9464
COPY --from=build /app/package.json ./package.json
COPY --from=onnx-modules-cuda /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# As for llm-worker-cuda: the provider's CUDA and cuDNN libraries must resolve in this base.
RUN set -e; \
    bin=node_modules/onnxruntime-node/bin/napi-v6/linux/x64; \
    missing="$(LD_LIBRARY_PATH="$bin" ldd "$bin/libonnxruntime_providers_cuda.so" | grep 'not found' | grep -v 'libcuda\.so\.1' || true)"; \
    if [ -n "$missing" ]; then echo "onnx-worker-cuda: ONNX_CUDA_IMAGE lacks libraries the CUDA provider links:" >&2; echo "$missing" >&2; exit 1; fi
USER node
EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.WORKER_HTTP_PORT+'/health/ready',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/apps/onnx-worker/src/main.js"]

# Remote runner: dials a gateway's runner endpoint (RUNNER_GATEWAY, token in RUNNER_TOKEN) and serves
# GGUF models on CPU, or a local OpenAI-compatible server, named by RUNNER_MODELS_FILE or by flags:
#   docker run -e RUNNER_TOKEN=... -e RUNNER_GATEWAY=gw.example.com:50051 -v ./models:/models:ro \
#     switchyard/runner node dist/apps/runner/src/main.js --gguf /models/x.gguf --model x
FROM runtime AS runner
ENV LLAMA_GPU=false \
    NODE_LLAMA_CPP_GPU=false \
    NODE_LLAMA_CPP_SKIP_DOWNLOAD=true
COPY --from=build /app/package.json ./package.json
COPY --from=llama-modules /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
# The runner listens on no port, so there is no /health/ready to probe: it counts as healthy while
# its container holds an established TCP connection to the gateway's port (the gRPC stream it keeps
# open), read from /proc/net/tcp{,6} of its own network namespace.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "const p=Number(String(process.env.RUNNER_GATEWAY||'127.0.0.1:50051').split(':').pop()).toString(16).toUpperCase().padStart(4,'0');const fs=require('fs');const up=['/proc/net/tcp','/proc/net/tcp6'].some(f=>{try{return fs.readFileSync(f,'utf8').split('\\n').slice(1).some(l=>{const c=l.trim().split(/\\s+/);return c[3]==='01'&&String(c[2]).endsWith(':'+p)})}catch{return false}});process.exit(up?0:1)"]
CMD ["node", "dist/apps/runner/src/main.js"]
