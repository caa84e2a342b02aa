#!/usr/bin/env bash
# Engine-free validation of the container deployment files: Dockerfile (every target),
# docker-compose.yml (also with the gpu and runner profiles), .dockerignore, .env.example and
# models.docker.yaml. CI runs it as `npm run validate:deploy`.
#
#   scripts/validate-deploy.sh [ROOT]     ROOT (or DEPLOY_ROOT): the folder holding those files;
#                                         default: this repository. The tests point it at broken copies.
#
# Needs a Compose implementation for the schema check but no Docker engine: `docker compose` (v2
# plugin) is preferred, `docker-compose` (v1, Debian's `apt-get install docker-compose`) accepted;
# COMPOSE="..." forces one. hadolint is not in Debian, so the Dockerfile gets a structural check
# here (and hadolint too when it is installed). Node.js and this repository's node_modules (the
# `yaml` package) parse the files.
#
# Exit status: 0 = every check passed (warnings allowed), 1 = a check failed (each on a FAIL line),
# 2 = no Compose implementation installed.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "${1:-${DEPLOY_ROOT:-$REPO}}" && pwd)"
COMPOSE_FILE_PATH="$ROOT/docker-compose.yml"
# Profiles the second compose pass enables: every service of the file is validated.
ALL_PROFILES=gpu,runner

failures=0
ok()   { printf 'ok    %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; failures=$((failures + 1)); }

echo "validate-deploy: $ROOT"
for f in Dockerfile docker-compose.yml .dockerignore .env.example models.docker.yaml package.json package-lock.json .npmrc; do
  if [[ -f "$ROOT/$f" ]]; then ok "exists: $f"; else fail "missing file: $f"; fi
done

# --- 1. compose schema and interpolation (no engine needed) ---------------------------------------
compose=()
if [[ -n "${COMPOSE:-}" ]]; then
  read -r -a compose <<<"$COMPOSE"
elif command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
else
  printf '%s\n' \
    'FAIL  no Compose implementation found: neither `docker compose` (v2 plugin) nor `docker-compose`' \
    '      is installed, so docker-compose.yml cannot be validated. On Debian/Ubuntu:' \
    '      apt-get install -y docker-compose (no Docker engine is needed for `config`), or set COMPOSE=...' >&2
  exit 2
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# The resolved file with every profile on, for the structural checks below ("" when it does not parse).
: >"$tmp/compose-all.yml"
if [[ -f "$COMPOSE_FILE_PATH" ]]; then
  for profiles in "" "$ALL_PROFILES"; do
    # `config -q` validates only; the pass with every profile on prints the resolved file for the
    # structural checks (same validation).
    quiet=(-q); [[ -n "$profiles" ]] && quiet=()
    label="${compose[*]} config ${quiet[*]}${profiles:+(COMPOSE_PROFILES=$profiles)}"
    # The caller's COMPOSE_* settings must not change what is validated.
    if (cd "$ROOT" && env -u COMPOSE_FILE -u COMPOSE_PROJECT_NAME COMPOSE_PROFILES="$profiles" \
          "${compose[@]}" -f "$COMPOSE_FILE_PATH" --project-directory "$ROOT" config "${quiet[@]}" >"$tmp/compose.yml" 2>"$tmp/compose.err"); then
      ok "$label"
      [[ -s "$tmp/compose.err" ]] && sed 's/^/      /' "$tmp/compose.err"
      [[ -n "$profiles" ]] && cp "$tmp/compose.yml" "$tmp/compose-all.yml"
    else
      fail "$label: docker-compose.yml is not a valid compose file:"
      sed 's/^/      /' "$tmp/compose.err"
    fi
  done
fi

# --- 2. Dockerfile structure, .dockerignore, compose services, .env.example, models file ------------
set +e
node - "$ROOT" "$REPO" "$tmp/compose-all.yml" <<'JS'
'use strict';
const fs = require('fs');
const path = require('path');
const [root, repo, resolvedComposeFile] = process.argv.slice(2);
const YAML = require(require.resolve('yaml', { paths: [repo] }));

// Every image the project ships; the k8s manifests and docker-compose.yml may name only these.
const TARGETS = ['gateway', 'llm-worker', 'llm-worker-cuda', 'onnx-worker', 'onnx-worker-cuda', 'upstream-worker', 'runner'];
const NODE_MAJOR = 22;

let failures = 0;
const ok = (m) => console.log(`ok    ${m}`);
const warn = (m) => console.log(`WARN  ${m}`);
const fail = (m) => { console.log(`FAIL  ${m}`); failures++; };
const read = (rel) => { try { return fs.readFileSync(path.join(root, rel), 'utf8'); } catch { return undefined; } };
const exists = (rel) => fs.existsSync(path.join(root, rel));

// ---- .dockerignore: Docker's rules (Go filepath.Match per segment, ** any depth, ! re-includes,
// last match wins; a match on a folder excludes what is under it).
const ignoreRules = (read('.dockerignore') ?? '').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((l) => {
  const negate = l.startsWith('!');
  const pat = path.posix.normalize((negate ? l.slice(1) : l).trim().replace(/^\/+/, '')).replace(/\/+$/, '');
  const re = pat.split('/').map((seg) => (seg === '**' ? '(?:.*)' : seg.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'))).join('/').replace(/\(\?:\.\*\)\//g, '(?:.*/)?');
  return { negate, re: new RegExp(`^${re}$`) };
});
function dockerignored(rel) {
  const parts = path.posix.normalize(rel).replace(/^\.\/+/, '').split('/');
  let excluded = false;
  for (let i = 1; i <= parts.length; i++) {
    const p = parts.slice(0, i).join('/');
    for (const r of ignoreRules) if (r.re.test(p)) excluded = !r.negate;
    if (excluded && i < parts.length) return true;
  }
  return excluded;
}

// ---- Dockerfile: logical lines (continuations joined, comment lines dropped), stages.
const dockerfile = read('Dockerfile');
const stages = [];
const globalArgs = {};
if (dockerfile !== undefined) {
  const lines = [];
  let cur = '';
  for (const raw of dockerfile.split('\n')) {
    if (/^\s*#/.test(raw)) continue;
    const l = raw.replace(/\s+$/, '');
    if (l.endsWith('\\')) { cur += `${l.slice(0, -1)} `; continue; }
    cur += l;
    if (cur.trim()) lines.push(cur.trim());
    cur = '';
  }
  if (cur.trim()) lines.push(cur.trim());
  for (const line of lines) {
    const m = line.match(/^(\S+)\s*(.*)$/);
    const ins = { op: m[1].toUpperCase(), args: m[2] };
    if (ins.op === 'FROM') {
      const f = ins.args.match(/^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?\s*$/i);
      if (!f) { fail(`Dockerfile: cannot read "FROM ${ins.args}"`); continue; }
      stages.push({ base: f[1], name: f[2]?.toLowerCase(), index: stages.length, instrs: [] });
    } else if (stages.length === 0) {
      if (ins.op === 'ARG') {
        const a = ins.args.match(/^([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/);
        if (a) globalArgs[a[1]] = (a[2] ?? '').replace(/^"(.*)"$/, '$1');
      }
    } else {
      stages[stages.length - 1].instrs.push(ins);
    }
  }
  if (stages.length === 0) fail('Dockerfile: no FROM stage');
}
const stageByName = new Map();
for (const s of stages) {
  if (!s.name) continue;
  if (stageByName.has(s.name)) fail(`Dockerfile: stage name "${s.name}" is used twice`);
  stageByName.set(s.name, s);
}
const expandArgs = (v) => v.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, a, d, b) => globalArgs[a ?? b] || d || '');
/** The stage and its parents, nearest first; the last one's base is an image. */
function chain(stage) {
  const out = [];
  for (let s = stage; s; ) {
    out.push(s);
    const parent = stageByName.get(expandArgs(s.base).toLowerCase());
    s = parent && parent.index < s.index ? parent : undefined;
  }
  return out;
}
const lastOf = (stage, op) => { for (const s of chain(stage)) for (let i = s.instrs.length - 1; i >= 0; i--) if (s.instrs[i].op === op) return s.instrs[i]; return undefined; };
const isNodeImage = (img) => new RegExp(`^(docker\\.io/)?(library/)?node:${NODE_MAJOR}([.-]|$)`).test(img);
/** Splits `COPY [--flag...] src... dest` (shell or JSON form). */
function copyArgs(args) {
  const flags = {};
  let rest = args;
  for (let m; (m = rest.match(/^--([a-z-]+)(?:=(\S+))?\s+/)); rest = rest.slice(m[0].length)) flags[m[1]] = m[2] ?? true;
  let words;
  if (rest.startsWith('[')) { try { words = JSON.parse(rest); } catch { words = []; } } else words = rest.split(/\s+/).filter(Boolean);
  return { flags, srcs: words.slice(0, -1), dest: words[words.length - 1] };
}

if (stages.length > 0) {
  // FROM and COPY --from must name an earlier stage or an image reference.
  for (const s of stages) {
    const base = expandArgs(s.base);
    if (!base) fail(`Dockerfile: stage ${s.name ?? s.index} has an empty base (${s.base}: ARG without a default?)`);
    if (/alpine|musl/i.test(base)) fail(`Dockerfile: stage ${s.name ?? s.index} is based on ${base}: node-llama-cpp's prebuilts need glibc (Debian/Ubuntu), not musl`);
    for (const ins of s.instrs.filter((i) => i.op === 'COPY' || i.op === 'ADD')) {
      const { flags, srcs } = copyArgs(ins.args);
      if (typeof flags.from === 'string') {
        const from = expandArgs(flags.from).toLowerCase();
        const st = stageByName.get(from);
        if (st ? st.index >= s.index : !/[:/]/.test(from)) fail(`Dockerfile: stage ${s.name ?? s.index}: COPY --from=${flags.from} names no earlier stage`);
        continue;
      }
      // From the build context: must exist and survive .dockerignore.
      for (const src of srcs) {
        if (src === '.' || src === './') continue;
        if (/[*?[]/.test(src)) continue;
        if (!exists(src)) fail(`Dockerfile: COPY source "${src}" (stage ${s.name ?? s.index}) does not exist`);
        else if (dockerignored(src)) fail(`Dockerfile: COPY source "${src}" (stage ${s.name ?? s.index}) is excluded by .dockerignore`);
        else ok(`Dockerfile: COPY source ${src}`);
      }
    }
  }
  // `COPY . .` sends the context: what the build compiles must not be ignored.
  if (stages.some((s) => s.instrs.some((i) => i.op === 'COPY' && copyArgs(i.args).srcs.includes('.')))) {
    const inputs = new Set(['package.json', 'package-lock.json', '.npmrc']);
    for (const cfg of ['tsconfig.build.json', 'tsconfig.json']) {
      if (!exists(cfg)) continue;
      inputs.add(cfg);
      try { for (const inc of JSON.parse(read(cfg)).include ?? []) inputs.add(inc.split('/')[0]); } catch { fail(`${cfg} is not JSON`); }
      break;
    }
    for (const p of inputs) if (dockerignored(p)) fail(`.dockerignore excludes build input ${p} (the build stage copies the context and compiles it)`);
    for (const p of ['node_modules', 'dist', 'models', '.git', '.env']) if (!dockerignored(p)) warn(`.dockerignore does not exclude ${p}`);
  }
}

// ---- which targets must exist: ours, compose's and the k8s manifests'.
let resolved;
try { resolved = YAML.parse(fs.readFileSync(resolvedComposeFile, 'utf8')) ?? undefined; } catch { resolved = undefined; }
if (exists('docker-compose.yml') && !resolved?.services) warn('docker-compose.yml: service checks skipped (compose could not resolve the file, see above)');
const wanted = new Map(TARGETS.map((t) => [t, 'the project']));
for (const [svc, def] of Object.entries(resolved?.services ?? {})) {
  if (!def.build) continue;
  const target = def.build.target;
  if (!target) fail(`docker-compose.yml: service ${svc} builds without a target (the Dockerfile has one per app)`);
  else wanted.set(target, `compose service ${svc}`);
  if (def.build.dockerfile && path.resolve(root, def.build.context ?? '.', def.build.dockerfile) !== path.join(root, 'Dockerfile')) {
    fail(`docker-compose.yml: service ${svc} builds ${def.build.dockerfile}, not the root Dockerfile`);
  }
  if (path.resolve(root, def.build.context ?? '.') !== root) fail(`docker-compose.yml: service ${svc} builds from context ${def.build.context}, not the repository root`);
  const img = String(def.image ?? '').match(/(?:^|\/)switchyard\/([a-z0-9-]+)(?::|$)/);
  if (target && img && img[1] !== target) fail(`docker-compose.yml: service ${svc} tags switchyard/${img[1]} but builds target ${target}`);
}
function walk(dir, out = []) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out); else if (/\.(ya?ml|md)$/.test(e.name)) out.push(p);
  }
  return out;
}
if (exists('k8s')) {
  for (const f of walk(path.join(root, 'k8s'))) {
    const text = fs.readFileSync(f, 'utf8');
    const rel = path.relative(root, f);
    for (const m of text.matchAll(/--target[= ]+([a-z0-9-]+)/g)) wanted.set(m[1], rel);
    for (const m of text.matchAll(/(?:image:\s*["']?|newName:\s*["']?|name:\s*["']?)(?:[\w.-]+(?::\d+)?\/)*switchyard\/([a-z0-9-]+)/g)) wanted.set(m[1], rel);
  }
}

// ---- every wanted target: a stage, fit to run as a final image.
for (const [target, by] of wanted) {
  const stage = stageByName.get(target);
  if (!stage) { fail(`Dockerfile: no stage "FROM ... AS ${target}" (named by ${by})`); continue; }
  const where = `Dockerfile target ${target}`;
  const links = chain(stage);
  const rootBase = expandArgs(links[links.length - 1].base);
  const nodeFrom = links.flatMap((s) => s.instrs).filter((i) => i.op === 'COPY').map((i) => copyArgs(i.args))
    .find((c) => typeof c.flags.from === 'string' && c.srcs.some((p) => /(^|\/)bin\/node$/.test(p)));
  const nodeFromImage = nodeFrom && (stageByName.get(expandArgs(nodeFrom.flags.from).toLowerCase()) ? expandArgs(chain(stageByName.get(expandArgs(nodeFrom.flags.from).toLowerCase())).at(-1).base) : expandArgs(nodeFrom.flags.from));
  if (isNodeImage(rootBase)) ok(`${where}: Node ${NODE_MAJOR} base (${rootBase})`);
  else if (nodeFromImage && isNodeImage(nodeFromImage)) ok(`${where}: ${rootBase} with Node ${NODE_MAJOR} copied from ${nodeFromImage}`);
  else fail(`${where}: base ${rootBase} is not node:${NODE_MAJOR} and no Node ${NODE_MAJOR} binary is copied in`);

  const user = lastOf(stage, 'USER');
  if (user && /^(node|1000)(:(node|1000))?$/.test(user.args.trim())) ok(`${where}: USER ${user.args.trim()}`);
  else fail(`${where}: no USER node (it would run as ${user ? user.args.trim() : 'root'})`);

  const cmd = lastOf(stage, 'CMD');
  let argv;
  try { argv = cmd && JSON.parse(cmd.args); } catch { argv = undefined; }
  if (!Array.isArray(argv)) fail(`${where}: CMD is not in exec form (a JSON array), so node would not receive SIGTERM`);
  else if (argv[0] !== 'node' || typeof argv[1] !== 'string' || !/^dist\/.+\.js$/.test(argv[1])) fail(`${where}: CMD ${cmd.args} does not run node dist/<app>.js`);
  else {
    const src = argv[1].replace(/^dist\//, '').replace(/\.js$/, '.ts');
    if (exists(src)) ok(`${where}: CMD runs ${argv[1]} (source ${src})`);
    else fail(`${where}: CMD entry ${argv[1]} has no TypeScript source (${src} missing)`);
  }
  if (lastOf(stage, 'ENTRYPOINT')) fail(`${where}: ENTRYPOINT set (the CMD is the whole command line, compose overrides it as such)`);

  const hc = lastOf(stage, 'HEALTHCHECK');
  if (!hc || /^NONE\b/i.test(hc.args)) fail(`${where}: no HEALTHCHECK`);
  else if (!/\bCMD\s+\[/.test(hc.args)) fail(`${where}: HEALTHCHECK command is not in exec form`);
  else ok(`${where}: HEALTHCHECK`);

  const env = links.flatMap((s) => s.instrs).filter((i) => i.op === 'ENV').map((i) => i.args).join(' ');
  if (/\bNODE_ENV=production\b/.test(env)) ok(`${where}: NODE_ENV=production`);
  else fail(`${where}: NODE_ENV=production not set`);
}

// ---- compose services: health checks, users, GPU devices, Redis durability, mounts.
/** A service volume in long form: v1 prints the short `src:dst[:mode]`, v2 the long syntax. */
function volume(v) {
  if (typeof v === 'object') return { type: v.type, source: v.source, target: v.target };
  const [source, target] = v.split(':');
  return target === undefined ? { type: 'volume', source: undefined, target: source }
    : /^[./~]/.test(source) ? { type: 'bind', source: path.resolve(root, source), target } : { type: 'volume', source, target };
}
const composeText = read('docker-compose.yml');
let warnedModels = false;
if (composeText !== undefined && resolved?.services) {
  for (const [svc, def] of Object.entries(resolved.services)) {
    const hc = def.healthcheck;
    if (!hc || hc.disable || !Array.isArray(hc.test) && typeof hc.test !== 'string') fail(`docker-compose.yml: service ${svc} has no healthcheck`);
    else ok(`docker-compose.yml: service ${svc} has a healthcheck`);
    if (def.user !== undefined && /^(0|root)(:|$)/.test(String(def.user))) fail(`docker-compose.yml: service ${svc} runs as root (user: ${def.user})`);
    if (!def.build && def.user === undefined) fail(`docker-compose.yml: service ${svc} (image ${def.image}) sets no non-root user:`);
    for (const d of def.deploy?.resources?.reservations?.devices ?? []) {
      if (d.count !== undefined && !Number.isInteger(d.count) && d.count !== 'all') {
        fail(`docker-compose.yml: service ${svc}: device count ${JSON.stringify(d.count)} is not an integer or "all" (docker-compose 1.x refuses it at up)`);
      }
    }
    if (/^(docker\.io\/)?(library\/)?redis[:@]/.test(String(def.image ?? ''))) {
      const cmd = Array.isArray(def.command) ? def.command.join(' ') : String(def.command ?? '');
      if (!/--appendonly\s+yes/.test(cmd)) fail(`docker-compose.yml: ${svc}: Redis without --appendonly yes (queued jobs are lost on restart)`);
      if (!/--maxmemory-policy\s+noeviction/.test(cmd)) fail(`docker-compose.yml: ${svc}: Redis without --maxmemory-policy noeviction (BullMQ needs it)`);
      const dataVol = (def.volumes ?? []).map(volume).find((v) => v.target === '/data');
      if (!dataVol || dataVol.type !== 'volume' || !Object.keys(resolved.volumes ?? {}).includes(dataVol.source)) {
        fail(`docker-compose.yml: ${svc}: Redis /data is not a named volume`);
      } else ok(`docker-compose.yml: ${svc}: AOF, noeviction, named volume on /data`);
    }
    for (const v of (def.volumes ?? []).map(volume)) {
      if (v.type !== 'bind') continue;
      const rel = path.relative(root, v.source);
      if (fs.existsSync(v.source)) continue;
      if (rel === 'models') { if (!warnedModels) warn('docker-compose.yml: ./models, mounted by the workers, does not exist yet (create it and put the models there; Docker would create it root-owned)'); warnedModels = true; }
      else fail(`docker-compose.yml: ${svc} mounts ${rel}, which does not exist`);
    }
  }
}

// ---- .env.example lists every variable the compose file reads: ${VAR} interpolations and bare
// environment keys (passed through from the shell or .env).
const envExample = read('.env.example');
if (composeText !== undefined && envExample !== undefined) {
  const read_ = new Map();
  for (const m of composeText.replace(/\$\$/g, '').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)|\$([A-Za-z_][A-Za-z0-9_]*)/g)) read_.set(m[1] ?? m[2], 'interpolated');
  let doc;
  try { doc = YAML.parse(composeText, { merge: true }); } catch { doc = undefined; }
  for (const def of Object.values(doc?.services ?? {})) {
    const env = def?.environment;
    if (Array.isArray(env)) { for (const e of env) if (typeof e === 'string' && !e.includes('=')) read_.set(e, 'passed through'); }
    else if (env && typeof env === 'object') { for (const [k, v] of Object.entries(env)) if (v === null) read_.set(k, 'passed through'); }
  }
  const listed = new Set([...envExample.matchAll(/^[ \t]*#?[ \t]*([A-Za-z_][A-Za-z0-9_]*)=/gm)].map((m) => m[1]));
  const missing = [...read_].filter(([k]) => !listed.has(k));
  for (const [k, how] of missing) fail(`.env.example: ${k} (${how} by docker-compose.yml) is not listed`);
  if (missing.length === 0) ok(`.env.example lists all ${read_.size} variables docker-compose.yml reads`);
  for (const k of listed) if (!read_.has(k) && !k.startsWith('COMPOSE_')) warn(`.env.example lists ${k}, which docker-compose.yml does not read`);
}

// ---- models.docker.yaml: the project's own schema (when built), paths inside the /models mount.
const modelsText = read('models.docker.yaml');
if (modelsText !== undefined) {
  let models;
  const runtime = path.join(repo, 'dist/libs/runtime/src/index.js');
  if (fs.existsSync(runtime)) {
    try { models = require(runtime).parseModelsYaml(modelsText, '/'); ok(`models.docker.yaml: valid (${models.length} models)`); }
    catch (e) { fail(`models.docker.yaml: ${e.message.split('\n')[0]}`); }
  } else {
    warn('models.docker.yaml: schema not checked (no build: npm run build)');
    try { models = (YAML.parse(modelsText)?.models ?? []); } catch (e) { fail(`models.docker.yaml: ${e.message.split('\n')[0]}`); }
  }
  for (const m of models ?? []) {
    const p = m.path;
    if (typeof p !== 'string') continue;
    if (!p.startsWith('/models/')) fail(`models.docker.yaml: ${m.name}: path ${p} is not under /models (the read-only mount of ./models)`);
    else if (!exists(`models/${p.slice('/models/'.length)}`)) warn(`models.docker.yaml: ${m.name}: ./models/${p.slice('/models/'.length)} not on this host (needed before docker compose up)`);
  }
}

process.exit(failures > 0 ? 1 : 0);
JS
node_rc=$?
set -e
[[ $node_rc -eq 0 ]] || failures=$((failures + 1))

if command -v hadolint >/dev/null 2>&1 && [[ -f "$ROOT/Dockerfile" ]]; then
  if hadolint "$ROOT/Dockerfile"; then ok "hadolint Dockerfile"; else fail "hadolint Dockerfile"; fi
fi

echo
if [[ $failures -gt 0 ]]; then
  echo "validate-deploy: FAILED (see the FAIL lines above)" >&2
  exit 1
fi
echo "validate-deploy: all checks passed"
