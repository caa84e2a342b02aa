#!/usr/bin/env bash
# Engine-free validation of the container deployment files:
#   docker-compose.yml, apps/gateway/Dockerfile, apps/llm-worker/Dockerfile, apps/onnx-worker/Dockerfile,
#   .dockerignore, models.docker.yaml
#
# Needs a Compose implementation for the schema check, but no running Docker
# engine: `docker compose` (v2 plugin) is preferred, `docker-compose` (v1, e.g.
# Debian's `apt-get install docker-compose`) is accepted. Set COMPOSE="..." to
# force one. Runs hadolint on the Dockerfiles when it is installed.
#
# Exit status: 0 = all checks passed (warnings allowed), 1 = a check failed,
# 2 = no Compose validator installed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

COMPOSE_FILE=docker-compose.yml
MODELS_YAML=models.docker.yaml
# app name -> Dockerfile; entry point is dist/apps/<app>/src/main.js
APPS=(gateway llm-worker onnx-worker)

failures=0
warnings=0
ok()   { printf 'ok    %s\n' "$*"; }
warn() { printf 'WARN  %s\n' "$*"; warnings=$((warnings + 1)); }
fail() { printf 'FAIL  %s\n' "$*"; failures=$((failures + 1)); }

# --- 0. files present -------------------------------------------------------
for f in "$COMPOSE_FILE" .dockerignore "$MODELS_YAML" package.json package-lock.json .npmrc; do
  if [[ -f "$f" ]]; then ok "exists: $f"; else fail "missing file: $f"; fi
done
for app in "${APPS[@]}"; do
  df="apps/$app/Dockerfile"
  if [[ -f "$df" ]]; then ok "exists: $df"; else fail "missing file: $df"; fi
done

# --- 1. compose schema / interpolation check (no engine needed) -------------
compose=()
if [[ -n "${COMPOSE:-}" ]]; then
  read -r -a compose <<<"$COMPOSE"
elif command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
else
  printf '%s\n' \
    'FAIL  no Compose validator found: neither `docker compose` (v2 plugin) nor' \
    '      `docker-compose` is installed, so docker-compose.yml cannot be validated.' \
    '      Install one, e.g. on Debian/Ubuntu: apt-get install -y docker-compose' \
    '      (no Docker engine is needed for `config`), or set COMPOSE=... .' >&2
  exit 2
fi
if [[ -f "$COMPOSE_FILE" ]]; then
  if out="$("${compose[@]}" -f "$COMPOSE_FILE" config -q 2>&1)"; then
    ok "${compose[*]} -f $COMPOSE_FILE config -q"
    [[ -n "$out" ]] && printf '%s\n' "$out" | sed 's/^/      /'
  else
    fail "${compose[*]} -f $COMPOSE_FILE config -q:"
    printf '%s\n' "$out" | sed 's/^/      /' >&2
  fi
  # every Dockerfile the compose file builds must exist
  while read -r df; do
    [[ -z "$df" ]] && continue
    if [[ -f "$df" ]]; then ok "compose builds $df (exists)"; else fail "compose references missing Dockerfile: $df"; fi
  done < <(sed -n 's/^[[:space:]]*dockerfile:[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$COMPOSE_FILE")
  # bind-mount sources (short syntax ./src:dst[:ro])
  while read -r src; do
    [[ -z "$src" ]] && continue
    if [[ -e "$src" ]]; then ok "compose mounts $src (exists)"
    elif [[ "$src" == ./models ]]; then warn "compose mounts $src but it does not exist yet (create it and put GGUF files there; Docker would create it root-owned)"
    else fail "compose mounts missing path: $src"; fi
  done < <(sed -n 's/^[[:space:]]*-[[:space:]]*"\{0,1\}\(\.\/[^:"]*\):.*/\1/p' "$COMPOSE_FILE")
fi

# --- 2. Dockerfiles ---------------------------------------------------------
shared_stages() { # the region between the BEGIN/END shared build stage markers
  sed -n '/^# ---- BEGIN shared build stages/,/^# ---- END shared build stages/p' "$1"
}
# does .dockerignore exclude this exact top-level path? (simple line match)
dockerignored() {
  grep -qxF -e "$1" -e "/$1" -e "$1/" -e "./$1" .dockerignore 2>/dev/null
}

for app in "${APPS[@]}"; do
  df="apps/$app/Dockerfile"
  [[ -f "$df" ]] || continue
  entry="dist/apps/$app/src/main.js"
  src="apps/$app/src/main.ts"

  # entry point in the exec-form CMD
  if grep -Eq "^CMD \[\"node\", *\"$entry\"\]" "$df"; then
    ok "$df: CMD runs node $entry"
  else
    fail "$df: no exec-form CMD [\"node\", \"$entry\"]"
  fi
  # the TypeScript source that tsc compiles to that entry point
  if [[ -f "$src" ]]; then
    ok "$df: entry source $src exists"
  else
    fail "$df: entry point $entry has no source ($src missing)"
  fi
  # if a local build exists, the compiled entry should be there too
  if [[ -d dist ]]; then
    if [[ -f "$entry" ]]; then ok "$df: local build has $entry"
    else warn "$df: dist/ exists but $entry is missing (stale or failed build?)"; fi
  fi

  # COPY sources from the build context (not --from=stage) must exist and not
  # be excluded by .dockerignore
  while read -r -a words; do
    # words: COPY [--flags...] src... dest
    srcs=()
    for w in "${words[@]:1}"; do [[ "$w" == --* ]] || srcs+=("$w"); done
    unset 'srcs[${#srcs[@]}-1]' # drop destination
    for s in "${srcs[@]}"; do
      [[ "$s" == "." ]] && continue
      if [[ ! -e "$s" ]]; then fail "$df: COPY source '$s' does not exist"
      elif dockerignored "$s"; then fail "$df: COPY source '$s' is excluded by .dockerignore"
      else ok "$df: COPY source $s"; fi
    done
  done < <(grep -E '^COPY ' "$df" | grep -v -- '--from=')

  # base image / user
  if grep -Eq '^ARG NODE_IMAGE=node:20-bookworm-slim$' "$df" && ! grep -Eiq '^FROM .*alpine' "$df"; then
    ok "$df: Debian (glibc) node:20-bookworm-slim base"
  else
    fail "$df: base image must be node:20-bookworm-slim (glibc; node-llama-cpp prebuilts do not run on musl/alpine)"
  fi
  if grep -Eq '^USER node$' "$df"; then ok "$df: runs as USER node"; else fail "$df: missing 'USER node'"; fi
done

# all Dockerfiles must share byte-identical build stages (one cached build)
if [[ -f apps/gateway/Dockerfile ]]; then
  a="$(shared_stages apps/gateway/Dockerfile)"
  for app in "${APPS[@]:1}"; do
    [[ -f "apps/$app/Dockerfile" ]] || continue
    b="$(shared_stages "apps/$app/Dockerfile")"
    if [[ -z "$a" || -z "$b" ]]; then
      fail "shared build stage markers missing in apps/gateway/Dockerfile or apps/$app/Dockerfile"
    elif [[ "$a" == "$b" ]]; then
      ok "shared deps/build stages identical in apps/gateway/Dockerfile and apps/$app/Dockerfile"
    else
      fail "shared deps/build stages differ between apps/gateway/Dockerfile and apps/$app/Dockerfile:"
      diff <(printf '%s\n' "$a") <(printf '%s\n' "$b") >&2 || true
    fi
  done
fi

# build inputs must not be dockerignored
for p in package.json package-lock.json .npmrc tsconfig.json tsconfig.build.json apps libs; do
  if dockerignored "$p"; then fail ".dockerignore excludes build input: $p"; fi
done
for p in node_modules dist models .git; do
  if ! dockerignored "$p"; then warn ".dockerignore does not exclude $p"; fi
done

if command -v hadolint >/dev/null 2>&1; then
  for app in "${APPS[@]}"; do
    if hadolint "apps/$app/Dockerfile"; then ok "hadolint apps/$app/Dockerfile"
    else fail "hadolint apps/$app/Dockerfile"; fi
  done
fi

# --- 3. example models file ---------------------------------------------------
if [[ -f "$MODELS_YAML" ]]; then
  grep -Eq '^models:' "$MODELS_YAML" || fail "$MODELS_YAML: no top-level 'models:' key"
  n=0
  while read -r p; do
    n=$((n + 1))
    if [[ "$p" != /models/* ]]; then
      fail "$MODELS_YAML: path $p is not under /models (the read-only mount of ./models)"
    elif [[ ! -e "./models/${p#/models/}" ]]; then
      warn "$MODELS_YAML: ./models/${p#/models/} not present on this host (needed before 'docker compose up')"
    else
      ok "$MODELS_YAML: $p present as ./models/${p#/models/}"
    fi
  done < <(sed -n 's/^[[:space:]]*path:[[:space:]]*["'\'']\{0,1\}\([^"'\''#[:space:]]*\).*/\1/p' "$MODELS_YAML")
  [[ $n -gt 0 ]] || fail "$MODELS_YAML: no model 'path:' entries"
fi

echo
if [[ $failures -gt 0 ]]; then
  echo "validate-deploy: $failures check(s) FAILED, $warnings warning(s)" >&2
  exit 1
fi
echo "validate-deploy: all checks passed ($warnings warning(s))"
