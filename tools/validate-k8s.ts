/**
 * Offline validation of the Kubernetes manifests in k8s/ (`npm run validate:k8s`): renders each
 * overlay with `kubectl kustomize`, validates every object against the Kubernetes schemas
 * (kubernetes-models) and the KEDA ones (@kubernetes-models/keda), and runs the checks a schema
 * cannot: probes, resources and security settings on every container, a PDB per Deployment, KEDA
 * ScaledObjects aimed at the worker of the model they ask about, grace periods longer than the
 * drains, the GPU overlay's GPUs and CUDA images, and the models file against the runtime's schema.
 * Exits 1 with one line per failure. The checks are exported so a test can feed them broken objects.
 *
 *   node dist/tools/validate-k8s.js                     # every kustomization in k8s/overlays and k8s/examples
 *   node dist/tools/validate-k8s.js --objects x.yaml [--gpu]   # objects from a file instead
 *   KUBECTL=/path/kubectl  KUBECTL_COMPAT=/tmp/kc/usr/bin/kubectl   # the renderers (see main)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { ModelDescriptor } from '@switchyard/contracts';
import { parseModelsYaml } from '@switchyard/runtime';
import { LlmWorkerEnv } from '../apps/llm-worker/src/worker-config';
import { OnnxWorkerEnv } from '../apps/onnx-worker/src/worker-config';
import { UpstreamWorkerEnv } from '../apps/upstream-worker/src/upstream-worker-config';

// ---------------------------------------------------------------------------------------------
// The parts of Kubernetes objects the checks read. Loose on purpose: a broken object must reach
// the check that names what is wrong with it, not fail to type.

export interface K8sObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

interface Probe {
  httpGet?: { path?: string; port?: number | string };
  exec?: { command?: string[] };
  tcpSocket?: { port?: number | string };
  grpc?: { port?: number };
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name?: string; key?: string; optional?: boolean }; configMapKeyRef?: { name?: string; key?: string } };
}

interface Container {
  name?: string;
  image?: string;
  ports?: Array<{ name?: string; containerPort?: number }>;
  env?: EnvVar[];
  envFrom?: Array<{ configMapRef?: { name?: string }; secretRef?: { name?: string } }>;
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command?: string[] }; sleep?: { seconds?: number }; httpGet?: unknown } };
  securityContext?: SecurityContext;
  volumeMounts?: Array<{ name?: string; mountPath?: string }>;
}

interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  privileged?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type?: string };
}

interface Volume {
  name?: string;
  emptyDir?: unknown;
  configMap?: { name?: string };
  persistentVolumeClaim?: { claimName?: string };
}

interface PodSpec {
  containers?: Container[];
  initContainers?: Container[];
  securityContext?: SecurityContext;
  terminationGracePeriodSeconds?: number;
  volumes?: Volume[];
  nodeSelector?: Record<string, string>;
  affinity?: { nodeAffinity?: unknown };
  tolerations?: Array<{ key?: string; operator?: string; effect?: string }>;
  topologySpreadConstraints?: Array<{ topologyKey?: string; labelSelector?: LabelSelector }>;
}

interface PodTemplate {
  metadata?: { labels?: Record<string, string> };
  spec?: PodSpec;
}

interface ScaledObjectSpec {
  scaleTargetRef?: { name?: string; kind?: string; apiVersion?: string };
  minReplicaCount?: number;
  maxReplicaCount?: number;
  triggers?: Array<{ type?: string; metadata?: Record<string, string>; authenticationRef?: { name?: string; kind?: string } }>;
}

/** One problem: the object it is about (Kind/name) and what is wrong. */
export interface Failure {
  object: string;
  message: string;
}

/** A check over one rendered overlay (or any list of objects). */
export interface CheckContext {
  /** The GPU overlay: its model workers must have GPUs and CUDA images. */
  gpu: boolean;
  /** The keys the Secret template (k8s/secrets.env.example) documents; absent: not checked. */
  secretKeys?: ReadonlySet<string>;
}

// ---------------------------------------------------------------------------------------------
// What the apps are, by image. These are the root Dockerfile's targets; the manifests use no other.

export type AppKind = 'gateway' | 'llm-worker' | 'onnx-worker' | 'upstream-worker' | 'runner';

export const SWITCHYARD_IMAGES: Readonly<Record<string, { app: AppKind; cuda: boolean }>> = {
  'switchyard/gateway': { app: 'gateway', cuda: false },
  'switchyard/llm-worker': { app: 'llm-worker', cuda: false },
  'switchyard/llm-worker-cuda': { app: 'llm-worker', cuda: true },
  'switchyard/onnx-worker': { app: 'onnx-worker', cuda: false },
  'switchyard/onnx-worker-cuda': { app: 'onnx-worker', cuda: true },
  'switchyard/upstream-worker': { app: 'upstream-worker', cuda: false },
  'switchyard/runner': { app: 'runner', cuda: false },
};

/** The models-file backend each worker app serves. */
const WORKER_BACKEND: Readonly<Record<'llm-worker' | 'onnx-worker' | 'upstream-worker', ModelDescriptor['backend']>> = {
  'llm-worker': 'llama.cpp',
  'onnx-worker': 'onnx',
  'upstream-worker': 'upstream',
};

/**
 * handleShutdown's hard deadline (libs/runtime/src/shutdown.ts, its default argument): every app
 * exits by then after SIGTERM, whatever its drain, so it is the gateway's drain and the ceiling of
 * a worker's. Not exported there, hence the copy.
 */
export const SHUTDOWN_DEADLINE_MS = 30_000;

/** The apps' own SHUTDOWN_DRAIN_MS defaults, read from their env classes so they cannot drift. */
const DEFAULT_DRAIN_MS: Readonly<Record<'llm-worker' | 'onnx-worker' | 'upstream-worker', number>> = {
  'llm-worker': new LlmWorkerEnv().SHUTDOWN_DRAIN_MS,
  'onnx-worker': new OnnxWorkerEnv().SHUTDOWN_DRAIN_MS,
  'upstream-worker': new UpstreamWorkerEnv().SHUTDOWN_DRAIN_MS,
};

/** The gateway's PORT default and the port every worker's probes are served on in k8s/. */
const GATEWAY_DEFAULT_PORT = 8080;

/** A scale-from-zero model's first request waits for a pod to start and load: at least this. */
export const MIN_SCALE_FROM_ZERO_WAIT_MS = 60_000;

// ---------------------------------------------------------------------------------------------
// Small helpers

export function objectId(o: K8sObject): string {
  return `${o.kind ?? '?'}/${o.metadata?.name ?? '?'}`;
}

function ns(o: K8sObject): string {
  return o.metadata?.namespace ?? 'default';
}

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);

function podTemplate(o: K8sObject): PodTemplate | undefined {
  if (o.kind === undefined || !WORKLOAD_KINDS.has(o.kind)) return undefined;
  return o.spec?.template as PodTemplate | undefined;
}

/** The image's repository without registry and tag: `reg.example.com/switchyard/gateway:1` → `switchyard/gateway`. */
export function imageRepository(image: string): string {
  const noDigest = image.split('@')[0];
  const lastSlash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  const repo = colon > lastSlash ? noDigest.slice(0, colon) : noDigest;
  const parts = repo.split('/');
  // A first part with a dot or a port is a registry host.
  if (parts.length > 2 || (parts.length === 2 && /[.:]/.test(parts[0]))) return parts.slice(-2).join('/');
  return repo;
}

function imageTag(image: string): string | undefined {
  if (image.includes('@')) return image.split('@')[1];
  const lastSlash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return colon > lastSlash ? image.slice(colon + 1) : undefined;
}

export function appOf(c: Container): AppKind | undefined {
  return c.image === undefined ? undefined : SWITCHYARD_IMAGES[imageRepository(c.image)]?.app;
}

function envValue(c: Container, name: string): string | undefined {
  return c.env?.find((e) => e.name === name)?.value;
}

/** Whether a selector selects these labels (what the API server does for PDBs and spreads). */
export function selectorMatches(sel: LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  if (sel === undefined) return false;
  const l = labels ?? {};
  const exprs = sel.matchExpressions ?? [];
  if (Object.keys(sel.matchLabels ?? {}).length === 0 && exprs.length === 0) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of exprs) {
    const has = Object.prototype.hasOwnProperty.call(l, e.key);
    const inValues = has && (e.values ?? []).includes(l[e.key]);
    if (e.operator === 'In' && !inValues) return false;
    if (e.operator === 'NotIn' && inValues) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** The port number a probe's port names (a number, or a container port's name). */
function probePort(c: Container, port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return port;
  if (port === undefined) return undefined;
  if (/^\d+$/.test(port)) return Number(port);
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

/** Seconds a preStop hook holds the pod before SIGTERM (a `sleep N` command or the sleep action). */
export function preStopSeconds(c: Container): number {
  const hook = c.lifecycle?.preStop;
  if (hook === undefined) return 0;
  if (hook.sleep?.seconds !== undefined) return hook.sleep.seconds;
  const cmd = hook.exec?.command ?? [];
  const joined = cmd.join(' ');
  const m = /(?:^|\s|;|&&)sleep\s+(\d+(?:\.\d+)?)/.exec(joined);
  return m === null ? 0 : Number(m[1]);
}

// ---------------------------------------------------------------------------------------------
// Schema validation (kubernetes-models, @kubernetes-models/keda). Both are ESM-only, so they are
// loaded with a real dynamic import() (module node16 keeps it as is in our CommonJS build).

export type SchemaValidator = (o: K8sObject) => string | undefined;

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/** The module path of an apiVersion's classes in kubernetes-models or @kubernetes-models/keda. */
function schemaModule(apiVersion: string): string | undefined {
  if (apiVersion === 'v1') return 'kubernetes-models/v1';
  if (apiVersion.startsWith('keda.sh/')) return `@kubernetes-models/keda/${apiVersion}`;
  if (/^[a-z0-9.]+\/v[0-9a-z]+$/.test(apiVersion)) return `kubernetes-models/${apiVersion}`;
  return undefined;
}

export async function loadSchemaValidator(): Promise<SchemaValidator> {
  const modules = new Map<string, Record<string, unknown> | undefined>();
  const wanted = ['v1', 'apps/v1', 'policy/v1', 'autoscaling/v2', 'networking.k8s.io/v1', 'rbac.authorization.k8s.io/v1', 'batch/v1', 'keda.sh/v1alpha1'];
  for (const v of wanted) modules.set(v, (await import(schemaModule(v) as string)) as Record<string, unknown>);
  return (o) => {
    if (o.apiVersion === undefined || o.kind === undefined) return 'has no apiVersion or kind';
    const mod = modules.get(o.apiVersion);
    const cls = mod?.[o.kind] as ModelClass | undefined;
    if (typeof cls !== 'function') return `no schema for ${o.apiVersion} ${o.kind} (kubernetes-models and @kubernetes-models/keda know ${wanted.join(', ')})`;
    try {
      new cls(o).validate();
      return undefined;
    } catch (err) {
      return `schema: ${(err as Error).message.replace(/\s+/g, ' ').trim()}`;
    }
  };
}

export function checkSchemas(objects: readonly K8sObject[], validate: SchemaValidator): Failure[] {
  const failures: Failure[] = [];
  for (const o of objects) {
    const problem = validate(o);
    if (problem !== undefined) failures.push({ object: objectId(o), message: problem });
  }
  return failures;
}

// ---------------------------------------------------------------------------------------------
// Containers: probes, resources, security

function checkProbeTarget(app: AppKind | undefined, c: Container, kind: 'liveness' | 'readiness' | 'startup', probe: Probe): string | undefined {
  if (app === undefined) {
    if (c.image !== undefined && imageRepository(c.image).startsWith('redis')) {
      const cmd = (probe.exec?.command ?? []).join(' ');
      return /redis-cli\b.*\bping\b/.test(cmd) ? undefined : `container ${c.name}: ${kind}Probe should run redis-cli ping`;
    }
    return undefined;
  }
  if (app === 'runner') return undefined;
  const want = kind === 'readiness' ? '/health/ready' : '/health/live';
  const portEnv = app === 'gateway' ? 'PORT' : 'WORKER_HTTP_PORT';
  const configured = envValue(c, portEnv);
  const port = configured === undefined ? (app === 'gateway' ? GATEWAY_DEFAULT_PORT : undefined) : Number(configured);
  if (port === undefined) return `container ${c.name}: WORKER_HTTP_PORT is not set, so the worker serves no probes`;
  if (probe.httpGet?.path !== want) return `container ${c.name}: ${kind}Probe should be GET ${want} (is ${probe.httpGet?.path ?? 'not an httpGet'})`;
  const probed = probePort(c, probe.httpGet.port);
  if (probed !== port) return `container ${c.name}: ${kind}Probe targets port ${String(probe.httpGet.port)}, but the app serves ${want} on ${portEnv}=${port}`;
  return undefined;
}

/** Every container: liveness, readiness and startup probes on the app's own health endpoints. */
export function checkProbes(objects: readonly K8sObject[]): Failure[] {
  const failures: Failure[] = [];
  for (const o of objects) {
    for (const c of podTemplate(o)?.spec?.containers ?? []) {
      const app = appOf(c);
      for (const kind of ['liveness', 'readiness', 'startup'] as const) {
        const probe = c[`${kind}Probe`];
        if (probe === undefined) {
          failures.push({ object: objectId(o), message: `container ${c.name} has no ${kind}Probe` });
          continue;
        }
        const problem = checkProbeTarget(app, c, kind, probe);
        if (problem !== undefined) failures.push({ object: objectId(o), message: problem });
      }
    }
  }
  return failures;
}

/** Every container (init containers too): cpu and memory requests, and memory and cpu limits. */
export function checkResources(objects: readonly K8sObject[]): Failure[] {
  const failures: Failure[] = [];
  for (const o of objects) {
    const spec = podTemplate(o)?.spec;
    for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) {
      for (const side of ['requests', 'limits'] as const) {
        for (const r of ['cpu', 'memory']) {
          if (c.resources?.[side]?.[r] === undefined) failures.push({ object: objectId(o), message: `container ${c.name} has no resources.${side}.${r}` });
        }
      }
    }
  }
  return failures;
}

/** Every container: non-root, no privilege escalation, read-only root, no capabilities, seccomp. */
export function checkSecurity(objects: readonly K8sObject[]): Failure[] {
  const failures: Failure[] = [];
  for (const o of objects) {
    const spec = podTemplate(o)?.spec;
    if (spec === undefined) continue;
    const pod = spec.securityContext ?? {};
    const tmpVolumes = new Set((spec.volumes ?? []).filter((v) => v.emptyDir !== undefined).map((v) => v.name));
    for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
      const s = c.securityContext ?? {};
      const fail = (message: string): void => {
        failures.push({ object: objectId(o), message: `container ${c.name}: ${message}` });
      };
      if ((s.runAsNonRoot ?? pod.runAsNonRoot) !== true) fail('runAsNonRoot is not true (container or pod securityContext)');
      if ((s.runAsUser ?? pod.runAsUser) === 0) fail('runAsUser is 0 (root)');
      if (s.allowPrivilegeEscalation !== false) fail('allowPrivilegeEscalation is not false');
      if (s.privileged === true) fail('is privileged');
      if (s.readOnlyRootFilesystem !== true) fail('readOnlyRootFilesystem is not true');
      if (!(s.capabilities?.drop ?? []).includes('ALL')) fail("capabilities.drop does not include ALL");
      if ((s.capabilities?.add ?? []).length > 0) fail(`adds capabilities ${(s.capabilities?.add ?? []).join(', ')}`);
      if ((s.seccompProfile?.type ?? pod.seccompProfile?.type) !== 'RuntimeDefault') fail('seccompProfile is not RuntimeDefault (container or pod securityContext)');
      // Node, ffmpeg and the ONNX runtime write temporary files; a read-only root needs /tmp mounted.
      if (appOf(c) !== undefined && s.readOnlyRootFilesystem === true) {
        const tmp = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
        if (tmp === undefined || !tmpVolumes.has(tmp.name)) fail('has a read-only root filesystem but no emptyDir at /tmp');
      }
    }
  }
  return failures;
}

// ---------------------------------------------------------------------------------------------
// Deployments: selectors, PDBs, spread, grace periods, images

/** Every Deployment: its selector selects its own pods, and a PodDisruptionBudget selects them too. */
export function checkPdbs(objects: readonly K8sObject[]): Failure[] {
  const failures: Failure[] = [];
  const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget');
  for (const d of objects.filter((o) => o.kind === 'Deployment')) {
    const labels = podTemplate(d)?.metadata?.labels;
    if (!selectorMatches(d.spec?.selector as LabelSelector | undefined, labels)) {
      failures.push({ object: objectId(d), message: 'spec.selector does not select the pod template labels' });
    }
    const pdb = pdbs.find((p) => ns(p) === ns(d) && selectorMatches(p.spec?.selector as LabelSelector | undefined, labels));
    if (pdb === undefined) failures.push({ object: objectId(d), message: 'no PodDisruptionBudget selects its pods' });
    else if (pdb.spec?.maxUnavailable === 0 || pdb.spec?.maxUnavailable === '0%') {
      failures.push({ object: objectId(pdb), message: 'maxUnavailable 0 blocks every node drain' });
    }
  }
  return failures;
}

/** The gateway spreads over nodes, with a selector that selects its own pods. */
export function checkGatewaySpread(objects: readonly K8sObject[]): Failure[] {
  const failures: Failure[] = [];
  for (const d of objects.filter((o) => o.kind === 'Deployment')) {
    const t = podTemplate(d);
    if (!(t?.spec?.containers ?? []).some((c) => appOf(c) === 'gateway')) continue;
    const spread = t?.spec?.topologySpreadConstraints ?? [];
    if (!spread.some((s) => s.topologyKey === 'kubernetes.io/hostname')) {
      failures.push({ object: objectId(d), message: 'the gateway has no topologySpreadConstraint over kubernetes.io/hostname' });
    }
    for (const s of spread) {
      if (!selectorMatches(s.labelSelector, t?.metadata?.labels)) failures.push({ object: objectId(d), message: `topology spread over ${s.topologyKey} does not select the gateway's own pods` });
    }
  }
  return failures;
}

/** How long an app may take from SIGTERM to exit, and the drain it was configured with. */
function drainMs(app: AppKind, c: Container): { drain: number; exitBy: number } {
  if (app === 'gateway' || app === 'runner') return { drain: SHUTDOWN_DEADLINE_MS, exitBy: SHUTDOWN_DEADLINE_MS };
  const configured = envValue(c, 'SHUTDOWN_DRAIN_MS');
  const drain = configured === undefined ? DEFAULT_DRAIN_MS[app] : Number(configured);
  return { drain, exitBy: Math.max(drain, SHUTDOWN_DEADLINE_MS) };
}

/**
 * terminationGracePeriodSeconds covers the preStop hook plus the app's drain and shutdown deadline,
 * so Kubernetes never SIGKILLs a draining app; the gateway stops intake first with a preStop.
 */
export function checkGracePeriods(objects: readonly K8sObject[]): Failure[] {
  const failures: Failure[] = [];
  for (const o of objects) {
    const spec = podTemplate(o)?.spec;
    if (spec === undefined) continue;
    const grace = spec.terminationGracePeriodSeconds ?? 30;
    for (const c of spec.containers ?? []) {
      const app = appOf(c);
      if (app === undefined) continue;
      const { drain, exitBy } = drainMs(app, c);
      const needed = preStopSeconds(c) + exitBy / 1000;
      if (!(grace > needed)) {
        failures.push({ object: objectId(o), message: `terminationGracePeriodSeconds ${grace} is not longer than preStop ${preStopSeconds(c)} s + drain/shutdown deadline ${exitBy / 1000} s of container ${c.name}` });
      }
      if (app !== 'gateway' && app !== 'runner' && drain >= SHUTDOWN_DEADLINE_MS) {
        failures.push({ object: objectId(o), message: `container ${c.name}: SHUTDOWN_DRAIN_MS ${drain} reaches the ${SHUTDOWN_DEADLINE_MS} ms shutdown deadline, which would cut the drain short` });
      }
      if (app === 'gateway' && preStopSeconds(c) <= 0) {
        failures.push({ object: objectId(o), message: `container ${c.name}: no preStop that holds the pod while its endpoints are removed (intake must stop before SIGTERM)` });
      }
    }
  }
  return failures;
}

/** Switchyard images are the Dockerfile's targets, pinned to a tag (kustomize `images:`). */
export function checkImages(objects: readonly K8sObject[]): Failure[] {
  const failures: Failure[] = [];
  for (const o of objects) {
    const spec = podTemplate(o)?.spec;
    for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) {
      if (c.image === undefined) {
        failures.push({ object: objectId(o), message: `container ${c.name} has no image` });
        continue;
      }
      const repo = imageRepository(c.image);
      if (repo.startsWith('switchyard/') && SWITCHYARD_IMAGES[repo] === undefined) {
        failures.push({ object: objectId(o), message: `container ${c.name}: image ${repo} is none of ${Object.keys(SWITCHYARD_IMAGES).join(', ')}` });
      }
      const tag = imageTag(c.image);
      if (tag === undefined || tag === 'latest') failures.push({ object: objectId(o), message: `container ${c.name}: image ${c.image} is not pinned to a tag` });
    }
  }
  return failures;
}

// ---------------------------------------------------------------------------------------------
// Models file, workers and KEDA

/** The models of each ConfigMap that carries a models.yaml, parsed by the runtime's own parser. */
export function modelsOfConfigMaps(objects: readonly K8sObject[], failures: Failure[]): Map<string, ModelDescriptor[]> {
  const byName = new Map<string, ModelDescriptor[]>();
  for (const o of objects.filter((x) => x.kind === 'ConfigMap' && x.data?.['models.yaml'] !== undefined)) {
    try {
      const models = parseModelsYaml(o.data?.['models.yaml'] ?? '', '/etc/switchyard');
      for (const m of models) {
        if ((m.backend === 'llama.cpp' || m.backend === 'onnx') && !m.path.startsWith('/models/')) {
          failures.push({ object: objectId(o), message: `models.yaml: model '${m.name}' has path ${m.path}, outside the /models volume` });
        }
      }
      byName.set(`${ns(o)}/${o.metadata?.name ?? ''}`, models);
    } catch (err) {
      failures.push({ object: objectId(o), message: `models.yaml: ${(err as Error).message}` });
    }
  }
  return byName;
}

/** The models file a container reads: the ConfigMap mounted where its MODELS_FILE points. */
function containerModels(o: K8sObject, c: Container, env: Map<string, Record<string, string>>, models: Map<string, ModelDescriptor[]>): { models?: ModelDescriptor[]; problem?: string } {
  const spec = podTemplate(o)?.spec;
  let file = envValue(c, 'MODELS_FILE');
  for (const ef of c.envFrom ?? []) {
    const name = ef.configMapRef?.name;
    if (file === undefined && name !== undefined) file = env.get(`${ns(o)}/${name}`)?.MODELS_FILE;
  }
  if (file === undefined) return { problem: `container ${c.name}: MODELS_FILE is not set (the image's default is not known here)` };
  const mount = c.volumeMounts?.find((m) => m.mountPath === posix.dirname(file));
  const volume = spec?.volumes?.find((v) => v.name === mount?.name);
  const cmName = volume?.configMap?.name;
  if (cmName === undefined) return { problem: `container ${c.name}: no ConfigMap is mounted at ${posix.dirname(file)} for MODELS_FILE=${file}` };
  const found = models.get(`${ns(o)}/${cmName}`);
  if (found === undefined) return { problem: `container ${c.name}: the ConfigMap ${cmName} mounted for MODELS_FILE has no valid models.yaml in this render` };
  return { models: found };
}

function workerApp(app: AppKind | undefined): app is 'llm-worker' | 'onnx-worker' | 'upstream-worker' {
  return app === 'llm-worker' || app === 'onnx-worker' || app === 'upstream-worker';
}

/**
 * The models file validates; each worker's WORKER_MODELS names models of its backend in the file it
 * mounts; each llm or onnx worker serves one model and a ScaledObject scales it; each ScaledObject
 * targets a Deployment of the render whose worker serves the model its trigger asks the gateway
 * about, with the model's slots as target, and scale-from-zero only where the gateway waits for it.
 */
export function checkModelsAndScaling(objects: readonly K8sObject[], ctx: CheckContext): Failure[] {
  const failures: Failure[] = [];
  const models = modelsOfConfigMaps(objects, failures);
  const envMaps = new Map<string, Record<string, string>>();
  for (const o of objects.filter((x) => x.kind === 'ConfigMap')) envMaps.set(`${ns(o)}/${o.metadata?.name ?? ''}`, o.data ?? {});

  // Each worker Deployment: what it serves.
  const served = new Map<string, { app: 'llm-worker' | 'onnx-worker' | 'upstream-worker'; names: string[]; models: ModelDescriptor[] }>();
  for (const d of objects.filter((o) => o.kind === 'Deployment')) {
    for (const c of podTemplate(d)?.spec?.containers ?? []) {
      const app = appOf(c);
      if (app === undefined || app === 'runner') continue;
      const found = containerModels(d, c, envMaps, models);
      if (found.models === undefined) {
        failures.push({ object: objectId(d), message: found.problem ?? 'no models file' });
        continue;
      }
      if (!workerApp(app)) continue;
      const backend = WORKER_BACKEND[app];
      const wanted = (envValue(c, 'WORKER_MODELS') ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
      for (const name of wanted) {
        const m = found.models.find((x) => x.name === name);
        if (m === undefined) failures.push({ object: objectId(d), message: `WORKER_MODELS names '${name}', which is not in its models file` });
        else if (m.backend !== backend) failures.push({ object: objectId(d), message: `WORKER_MODELS names '${name}', a ${m.backend} model, on a ${app} (serves ${backend})` });
      }
      if (app !== 'upstream-worker' && wanted.length !== 1) {
        failures.push({ object: objectId(d), message: `a ${app} Deployment should serve exactly one model (WORKER_MODELS=<model>) so it scales on that model's queue; it has ${wanted.length === 0 ? 'none (all of its backend)' : wanted.join(',')}` });
      }
      served.set(`${ns(d)}/${d.metadata?.name ?? ''}`, { app, names: wanted, models: found.models });
    }
  }

  const scaled = objects.filter((o) => o.kind === 'ScaledObject');
  const services = objects.filter((o) => o.kind === 'Service');
  const auths = objects.filter((o) => o.kind === 'TriggerAuthentication');
  const targeted = new Set<string>();
  let scaleFromZero: string | undefined;
  for (const so of scaled) {
    const spec = (so.spec ?? {}) as ScaledObjectSpec;
    const ref = spec.scaleTargetRef;
    const key = `${ns(so)}/${ref?.name ?? ''}`;
    const fail = (message: string): void => {
      failures.push({ object: objectId(so), message });
    };
    if ((ref?.kind ?? 'Deployment') !== 'Deployment') fail(`scaleTargetRef is a ${ref?.kind}; the workers are Deployments`);
    const target = objects.find((o) => o.kind === 'Deployment' && `${ns(o)}/${o.metadata?.name ?? ''}` === key);
    if (target === undefined) {
      fail(`scaleTargetRef names Deployment '${ref?.name ?? ''}', which is not in the render`);
      continue;
    }
    targeted.add(key);
    const worker = served.get(key);
    if (worker === undefined) {
      fail(`scaleTargetRef ${ref?.name}: not a Switchyard worker Deployment`);
      continue;
    }
    const triggers = spec.triggers ?? [];
    if (triggers.length === 0) fail('has no triggers');
    for (const t of triggers) {
      if (t.type !== 'metrics-api') {
        fail(`trigger type ${t.type}: use metrics-api against the gateway's /admin/autoscale (the exact depth; k8s/README.md says why)`);
        continue;
      }
      const md = t.metadata ?? {};
      let url: URL | undefined;
      try {
        url = new URL(md.url ?? '');
      } catch {
        fail(`trigger url '${md.url ?? ''}' is not a URL`);
        continue;
      }
      const model = url.searchParams.get('model');
      if (url.pathname !== '/admin/autoscale' || model === null) fail(`trigger url ${md.url}: should be http://<gateway service>:8080/admin/autoscale?model=NAME`);
      const [svcName, svcNs = ns(so)] = url.hostname.split('.');
      const svc = services.find((s) => s.metadata?.name === svcName && ns(s) === svcNs);
      const port = Number(url.port || '80');
      if (svc === undefined) fail(`trigger url host ${url.hostname}: no Service ${svcName} in namespace ${svcNs} in the render`);
      else if (!((svc.spec?.ports as Array<{ port?: number }> | undefined) ?? []).some((p) => p.port === port)) fail(`trigger url port ${port}: Service ${svcName} does not expose it`);
      if (md.valueLocation !== 'depth') fail(`trigger valueLocation is '${md.valueLocation ?? ''}'; the gateway answers the depth in 'depth'`);
      if (md.authMode !== 'bearer') fail('trigger authMode is not bearer (the endpoint needs an admin key)');
      const auth = auths.find((a) => a.metadata?.name === t.authenticationRef?.name && ns(a) === ns(so));
      const tokenRef = (auth?.spec?.secretTargetRef as Array<{ parameter?: string; name?: string; key?: string }> | undefined)?.find((r) => r.parameter === 'token');
      if (auth === undefined) fail(`authenticationRef '${t.authenticationRef?.name ?? ''}' names no TriggerAuthentication in the render`);
      else if (tokenRef === undefined) fail(`TriggerAuthentication ${auth.metadata?.name} has no secretTargetRef for parameter token (bearer)`);
      else if (ctx.secretKeys !== undefined && !ctx.secretKeys.has(tokenRef.key ?? '')) fail(`TriggerAuthentication reads Secret key ${tokenRef.key}, which the Secret template does not document`);
      if (model === null) continue;
      if (!worker.names.includes(model)) {
        fail(`trigger asks about model '${model}', but Deployment ${ref?.name} serves WORKER_MODELS=${worker.names.join(',') || '(all)'}`);
        continue;
      }
      const m = worker.models.find((x) => x.name === model);
      if (m === undefined) continue;
      const slots = m.backend === 'upstream' ? m.concurrency : 'parallel' in m ? m.parallel : undefined;
      // A number here is the schema's failure (metadata is a map of strings), not this one's.
      if (slots !== undefined && String(md.targetValue) !== String(slots)) fail(`trigger targetValue ${md.targetValue ?? '(none)'} should be the model's ${m.backend === 'upstream' ? 'concurrency' : 'parallel'} slots per worker (${slots})`);
      if (spec.minReplicaCount === 0) {
        scaleFromZero = model;
        // The gateway is ready only when every preloaded model has a ready worker: a preloaded
        // model at zero workers would take every gateway out of its Service.
        if (m.preload) fail(`minReplicaCount 0 for '${model}', a preloaded model: the gateway's readiness would fail while it has no worker (set preload: false)`);
        if (!m.autoLoad) fail(`minReplicaCount 0 for '${model}' with auto_load: false: the worker KEDA starts would never load it`);
      }
    }
  }
  for (const [key, w] of served) {
    if (w.app !== 'upstream-worker' && !targeted.has(key)) failures.push({ object: `Deployment/${key.split('/')[1]}`, message: `no ScaledObject scales this ${w.app} on its model's queue` });
  }
  for (const hpa of objects.filter((o) => o.kind === 'HorizontalPodAutoscaler')) {
    const name = (hpa.spec?.scaleTargetRef as { name?: string } | undefined)?.name;
    if (targeted.has(`${ns(hpa)}/${name ?? ''}`)) failures.push({ object: objectId(hpa), message: `targets ${name}, which a ScaledObject already scales (two autoscalers fight)` });
  }
  if (scaleFromZero !== undefined) {
    for (const d of objects.filter((o) => o.kind === 'Deployment')) {
      for (const c of podTemplate(d)?.spec?.containers ?? []) {
        if (appOf(c) !== 'gateway') continue;
        const wait = Number(envValue(c, 'WORKER_WAIT_MS') ?? '10000');
        if (!(wait >= MIN_SCALE_FROM_ZERO_WAIT_MS)) failures.push({ object: objectId(d), message: `WORKER_WAIT_MS ${wait} ms is too short for scale-from-zero ('${scaleFromZero}' has minReplicaCount 0): a request would get 503 before its worker starts (use >= ${MIN_SCALE_FROM_ZERO_WAIT_MS})` });
      }
    }
  }
  return failures;
}

/** Every Secret a container reads is the one the user creates, with keys the template documents. */
export function checkSecretRefs(objects: readonly K8sObject[], ctx: CheckContext): Failure[] {
  const failures: Failure[] = [];
  if (ctx.secretKeys === undefined) return failures;
  for (const o of objects) {
    for (const c of podTemplate(o)?.spec?.containers ?? []) {
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        if (ref === undefined) continue;
        if (!ctx.secretKeys.has(ref.key ?? '')) failures.push({ object: objectId(o), message: `container ${c.name}: env ${e.name} reads Secret key ${ref.key}, which k8s/secrets.env.example does not document` });
      }
      // A value in git is a leaked secret; keys come from the Secret.
      for (const name of ['API_KEYS', 'RUNNER_TOKENS', 'SECRET_ADMIN_KEYS', 'AUTOSCALER_ADMIN_KEY', 'OPENAI_API_KEY']) {
        if (envValue(c, name) !== undefined) failures.push({ object: objectId(o), message: `container ${c.name}: ${name} is a literal value; read it from the Secret` });
      }
    }
  }
  return failures;
}

/** The GPU overlay: llm and onnx workers get a GPU, the CUDA image and setting, and GPU nodes. */
export function checkGpu(objects: readonly K8sObject[]): Failure[] {
  const failures: Failure[] = [];
  for (const d of objects.filter((o) => o.kind === 'Deployment')) {
    const spec = podTemplate(d)?.spec;
    for (const c of spec?.containers ?? []) {
      const app = appOf(c);
      if (app !== 'llm-worker' && app !== 'onnx-worker') continue;
      const fail = (message: string): void => {
        failures.push({ object: objectId(d), message: `container ${c.name}: ${message}` });
      };
      if (!SWITCHYARD_IMAGES[imageRepository(c.image ?? '')]?.cuda) fail(`image ${c.image} is not the CUDA image (switchyard/${app}-cuda)`);
      const gpus = Number(c.resources?.limits?.['nvidia.com/gpu'] ?? 0);
      if (!(gpus >= 1)) fail('no nvidia.com/gpu limit');
      const [setting, want] = app === 'llm-worker' ? ['LLAMA_GPU', 'cuda'] : ['ONNX_DEVICE', 'cuda'];
      if (envValue(c, setting) !== want) fail(`${setting} is ${envValue(c, setting) ?? 'unset'}, not ${want}`);
      if (Object.keys(spec?.nodeSelector ?? {}).length === 0 && spec?.affinity?.nodeAffinity === undefined) fail('no nodeSelector or node affinity for GPU nodes');
      if (!(spec?.tolerations ?? []).some((t) => t.key === 'nvidia.com/gpu')) fail('no toleration for the nvidia.com/gpu taint of GPU nodes');
    }
  }
  return failures;
}

/** A $(VAR) in an env value expands only when VAR is defined before it (envFrom counts as before). */
export function checkEnvReferences(objects: readonly K8sObject[]): Failure[] {
  const failures: Failure[] = [];
  for (const o of objects) {
    for (const c of podTemplate(o)?.spec?.containers ?? []) {
      const defined = new Set<string>();
      for (const ef of c.envFrom ?? []) {
        const cm = objects.find((x) => x.kind === 'ConfigMap' && x.metadata?.name === ef.configMapRef?.name && ns(x) === ns(o));
        for (const key of Object.keys(cm?.data ?? {})) defined.add(key);
      }
      for (const e of c.env ?? []) {
        for (const m of (e.value ?? '').matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
          if (!defined.has(m[1])) failures.push({ object: objectId(o), message: `container ${c.name}: env ${e.name} refers to $(${m[1]}), which is not defined before it (it would stay literal)` });
        }
        defined.add(e.name);
      }
    }
  }
  return failures;
}

/**
 * Every app reaches a Redis: REDIS_URL from a required Secret key, or a fallback (the Secret's key
 * is optional) whose host is a Service of the render, so dropping the in-cluster Redis without
 * making the Secret's REDIS_URL required is caught.
 */
export function checkRedis(objects: readonly K8sObject[]): Failure[] {
  const failures: Failure[] = [];
  for (const o of objects) {
    for (const c of podTemplate(o)?.spec?.containers ?? []) {
      const app = appOf(c);
      if (app === undefined || app === 'runner') continue;
      const entry = c.env?.find((e) => e.name === 'REDIS_URL');
      const ref = entry?.valueFrom?.secretKeyRef;
      if (ref !== undefined && ref.optional !== true) continue;
      let url = entry?.value;
      for (const ef of c.envFrom ?? []) {
        const cm = objects.find((x) => x.kind === 'ConfigMap' && x.metadata?.name === ef.configMapRef?.name && ns(x) === ns(o));
        url ??= cm?.data?.REDIS_URL;
      }
      if (url === undefined) {
        failures.push({ object: objectId(o), message: `container ${c.name}: no REDIS_URL (the app would dial 127.0.0.1:6379)` });
        continue;
      }
      let host: string;
      try {
        host = new URL(url).hostname;
      } catch {
        failures.push({ object: objectId(o), message: `container ${c.name}: REDIS_URL ${url} is not a URL` });
        continue;
      }
      const [svc, svcNs = ns(o)] = host.split('.');
      const inCluster = objects.some((x) => x.kind === 'Service' && x.metadata?.name === svc && ns(x) === svcNs);
      if (!inCluster && !host.includes('.')) {
        failures.push({ object: objectId(o), message: `container ${c.name}: REDIS_URL falls back to ${url}, but no Service ${svc} is in the render (make the Secret's REDIS_URL required)` });
      }
    }
  }
  return failures;
}

/** Every Ingress backend is a Service of the render, on a port it exposes. */
export function checkIngresses(objects: readonly K8sObject[]): Failure[] {
  const failures: Failure[] = [];
  type Backend = { service?: { name?: string; port?: { number?: number; name?: string } } };
  for (const ing of objects.filter((o) => o.kind === 'Ingress')) {
    const rules = (ing.spec?.rules as Array<{ http?: { paths?: Array<{ backend?: Backend }> } }> | undefined) ?? [];
    const backends = [ing.spec?.defaultBackend as Backend | undefined, ...rules.flatMap((r) => (r.http?.paths ?? []).map((p) => p.backend))];
    for (const b of backends) {
      if (b?.service === undefined) continue;
      const svc = objects.find((o) => o.kind === 'Service' && o.metadata?.name === b.service?.name && ns(o) === ns(ing));
      const ports = (svc?.spec?.ports as Array<{ port?: number; name?: string }> | undefined) ?? [];
      if (svc === undefined) failures.push({ object: objectId(ing), message: `backend Service ${b.service.name} is not in the render` });
      else if (!ports.some((p) => p.port === b.service?.port?.number || (p.name !== undefined && p.name === b.service?.port?.name))) {
        failures.push({ object: objectId(ing), message: `backend port ${b.service.port?.number ?? b.service.port?.name} is not a port of Service ${b.service.name}` });
      }
    }
  }
  return failures;
}

/** Every check over one rendered set of objects (schemas included when a validator is given). */
export function checkAll(objects: readonly K8sObject[], ctx: CheckContext, validate?: SchemaValidator): Failure[] {
  return [
    ...(validate === undefined ? [] : checkSchemas(objects, validate)),
    ...checkProbes(objects),
    ...checkResources(objects),
    ...checkSecurity(objects),
    ...checkPdbs(objects),
    ...checkGatewaySpread(objects),
    ...checkGracePeriods(objects),
    ...checkImages(objects),
    ...checkModelsAndScaling(objects, ctx),
    ...checkSecretRefs(objects, ctx),
    ...checkEnvReferences(objects),
    ...checkRedis(objects),
    ...checkIngresses(objects),
    ...(ctx.gpu ? checkGpu(objects) : []),
  ];
}

// ---------------------------------------------------------------------------------------------
// Rendering

/** The repository root: above tools/ when run from source (tests), above dist/tools/ when compiled. */
export const ROOT = resolve(__dirname, existsSync(join(__dirname, '..', 'package.json')) ? '..' : join('..', '..'));
export const K8S_DIR = join(ROOT, 'k8s');

/** The kubectl to render with: $KUBECTL, or the first kubectl on PATH. */
export function kubectlPath(): string | undefined {
  if (process.env.KUBECTL) return process.env.KUBECTL;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, 'kubectl'))) return join(dir, 'kubectl');
  }
  return undefined;
}

export function render(kubectl: string, dir: string): string {
  return execFileSync(kubectl, ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
}

export function parseObjects(text: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`not valid YAML: ${doc.errors[0].message}`);
    const value = doc.toJS() as unknown;
    if (value !== null && typeof value === 'object') objects.push(value as K8sObject);
  }
  return objects;
}

/** The keys of k8s/secrets.env.example, commented-out ones included (they are documented). */
export function secretTemplateKeys(path = join(K8S_DIR, 'secrets.env.example')): Set<string> {
  const keys = new Set<string>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^#?\s*([A-Z][A-Z0-9_]*)=/.exec(line.trim());
    if (m !== null) keys.add(m[1]);
  }
  return keys;
}

/**
 * A render in a form two kustomize versions agree on: objects sorted by kind and name, the
 * generators' hash suffixes (whose hash function changed between kustomize v2 and v5) replaced,
 * empty metadata maps dropped, and env and volume lists sorted by name (v2 appends what a patch
 * adds or merges, v5 puts it first; volumes have no order, and env order only matters to $(VAR)
 * references, which checkEnvReferences checks in each render on its own).
 */
export function normalizeRender(objects: readonly K8sObject[]): string {
  const hashed = new Map<string, string>();
  for (const o of objects) {
    const name = o.metadata?.name ?? '';
    const m = /^(.*)-[a-z0-9]{10}$/.exec(name);
    if ((o.kind === 'ConfigMap' || o.kind === 'Secret') && m !== null) hashed.set(name, `${m[1]}-HASH`);
  }
  const text = JSON.stringify(
    [...objects].sort((a, b) => objectId(a).localeCompare(objectId(b))),
    (_k, v: unknown) => (typeof v === 'string' && hashed.has(v) ? hashed.get(v) : v),
  );
  return JSON.stringify(JSON.parse(text), sortedKeys, 1);
}

function sortedKeys(k: string, v: unknown): unknown {
  if ((k === 'env' || k === 'volumes') && Array.isArray(v)) return [...(v as Array<{ name: string }>)].sort((a, b) => a.name.localeCompare(b.name));
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  const entries = Object.entries(v as Record<string, unknown>).filter(([key, x]) => !((key === 'annotations' || key === 'labels') && x !== null && typeof x === 'object' && Object.keys(x).length === 0));
  return Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
}

/** The first line where two normalized renders differ, or undefined when they are the same. */
export function firstDifference(a: string, b: string): string | undefined {
  const la = a.split('\n');
  const lb = b.split('\n');
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    if (la[i] !== lb[i]) return `line ${i + 1}: ${la[i] ?? '(end)'} | ${lb[i] ?? '(end)'}`;
  }
  return undefined;
}

/** Every kustomization a user applies: k8s/overlays/* and k8s/examples/* (paths under k8s/). */
export function kustomizations(): string[] {
  const found: string[] = [];
  for (const parent of ['overlays', 'examples']) {
    const dir = join(K8S_DIR, parent);
    if (!existsSync(dir)) continue;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory() && existsSync(join(dir, e.name, 'kustomization.yaml'))) found.push(`${parent}/${e.name}`);
    }
  }
  return found.sort();
}

/** Renders one kustomization (with a second kubectl too, when given) and runs every check on it. */
export function validateOverlay(name: string, validate: SchemaValidator, kubectl: string, compat?: string): { objects: number; failures: Failure[] } {
  const dir = join(K8S_DIR, name);
  const objects = parseObjects(render(kubectl, dir));
  // The GPU overlay and what is built on it hold the GPU workers.
  const gpu = /(^|\/|-)gpu(-|$)/.test(name.split('/')[1] ?? '');
  const failures = checkAll(objects, { gpu, secretKeys: secretTemplateKeys() }, validate);
  if (compat !== undefined) {
    const other = parseObjects(render(compat, dir));
    const diff = firstDifference(normalizeRender(objects), normalizeRender(other));
    if (diff !== undefined) failures.push({ object: `overlay ${name}`, message: `${kubectl} and ${compat} render it differently (${diff})` });
  }
  return { objects: objects.length, failures };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const validate = await loadSchemaValidator();
  const objectsAt = args.indexOf('--objects');
  if (objectsAt >= 0) {
    const file = args[objectsAt + 1];
    const objects = parseObjects(readFileSync(file, 'utf8'));
    const failures = checkAll(objects, { gpu: args.includes('--gpu') }, validate);
    for (const f of failures) console.log(`${file}: ${f.object}: ${f.message}`);
    console.log(`${file}: ${objects.length} objects, ${failures.length} failures`);
    process.exitCode = failures.length === 0 ? 0 : 1;
    return;
  }
  const kubectl = kubectlPath();
  if (kubectl === undefined) {
    console.error('validate-k8s: kubectl not found: install it (Debian: apt-get install kubernetes-client) or set KUBECTL to its path');
    process.exitCode = 2;
    return;
  }
  // A second renderer to agree with: CI's Debian kubectl 1.20 (kustomize v2.0.3) against a current one.
  const compat = process.env.KUBECTL_COMPAT || undefined;
  let total = 0;
  for (const name of kustomizations()) {
    const { objects, failures } = validateOverlay(name, validate, kubectl, compat);
    for (const f of failures) console.log(`k8s/${name}: ${f.object}: ${f.message}`);
    console.log(`k8s/${name}: ${objects} objects, ${failures.length} failures${compat === undefined ? '' : ` (render compared with ${compat})`}`);
    total += failures.length;
  }
  process.exitCode = total === 0 ? 0 : 1;
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`validate-k8s: ${(err as Error).message}`);
    process.exit(2);
  });
}
