/**
 * The k8s/ manifests, validated offline as CI does: both overlays render with kubectl and pass the
 * compiled validator (schemas and structural checks) with zero failures, and each check fails on a
 * deliberately broken object, so a passing run means something. Build first (`npm run build`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import {
  checkAll,
  checkEnvReferences,
  checkGpu,
  checkGracePeriods,
  checkIngresses,
  checkModelsAndScaling,
  checkPdbs,
  checkProbes,
  checkRedis,
  checkSecurity,
  type CheckContext,
  type Failure,
  type K8sObject,
  K8S_DIR,
  kubectlPath,
  kustomizations,
  normalizeRender,
  parseObjects,
  render,
  ROOT,
  secretTemplateKeys,
} from '../tools/validate-k8s';
import { itIf } from './support/skip';

const TOOL = join(ROOT, 'dist', 'tools', 'validate-k8s.js');
const KUBECTL = kubectlPath();
// CI's Debian kubectl 1.20 (kustomize v2.0.3), fetched beside a current one: `apt-get download
// kubernetes-client && dpkg -x kubernetes-client_*.deb /tmp/kc` (k8s/README.md, "Validating").
const COMPAT = process.env.KUBECTL_COMPAT ?? (existsSync('/tmp/kc/usr/bin/kubectl') ? '/tmp/kc/usr/bin/kubectl' : undefined);

// The tests break rendered objects at arbitrary depths; a precise type per path would be noise.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const withKubectl = itIf(KUBECTL !== undefined, 'kubectl (Debian: kubernetes-client) to render k8s/');
const withBoth = itIf(KUBECTL !== undefined && COMPAT !== undefined && COMPAT !== KUBECTL, 'a second kubectl in KUBECTL_COMPAT or /tmp/kc/usr/bin/kubectl (kustomize v2) to compare renders');

function renderOverlay(name: string, kubectl = KUBECTL as string): K8sObject[] {
  return parseObjects(render(kubectl, join(K8S_DIR, 'overlays', name)));
}

function find(objects: K8sObject[], kind: string, name: string): K8sObject & { spec: Record<string, Json> } {
  const o = objects.find((x) => x.kind === kind && x.metadata?.name === name);
  if (o === undefined) throw new Error(`${kind}/${name} is not in the render`);
  return o as K8sObject & { spec: Record<string, Json> };
}

function container(objects: K8sObject[], deployment: string): Record<string, Json> {
  return find(objects, 'Deployment', deployment).spec.template.spec.containers[0] as Record<string, Json>;
}

function runTool(args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [TOOL, ...args], { encoding: 'utf8', env: { ...process.env, KUBECTL_COMPAT: COMPAT ?? '' }, timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const messages = (failures: Failure[]): string[] => failures.map((f) => `${f.object}: ${f.message}`);

describe('k8s manifests (offline validation)', () => {
  let cpu: K8sObject[] = [];
  let gpu: K8sObject[] = [];
  let tmp = '';
  const ctx = (gpuOverlay = false): CheckContext => ({ gpu: gpuOverlay, secretKeys: secretTemplateKeys() });
  /** A fresh copy of the CPU render to break. */
  const broken = (): K8sObject[] => structuredClone(cpu);

  beforeAll(() => {
    if (!existsSync(TOOL)) throw new Error(`${TOOL} is missing: run npm run build first`);
    tmp = mkdtempSync(join(tmpdir(), 'switchyard-k8s-'));
    if (KUBECTL !== undefined) {
      cpu = renderOverlay('cpu');
      gpu = renderOverlay('gpu');
    }
  });
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  withKubectl('the compiled validator renders both overlays and every example and finds zero failures', () => {
    const r = runTool([]);
    expect(kustomizations()).toEqual(['examples/external-redis', 'examples/gpu-models-init-container', 'examples/ingress', 'overlays/cpu', 'overlays/gpu']);
    for (const name of kustomizations()) expect(r.out).toMatch(new RegExp(`k8s/${name}: \\d+ objects, 0 failures`));
    expect(r.status).toBe(0);
  });

  withKubectl('both renders hold the objects the README describes, and pass every structural check', () => {
    for (const [objects, isGpu] of [[cpu, false], [gpu, true]] as const) {
      const kinds = objects.map((o) => `${o.kind}/${o.metadata?.name}`);
      for (const want of ['Deployment/gateway', 'Deployment/llm-worker-qwen', 'Deployment/onnx-worker-minilm', 'Deployment/upstream-worker', 'StatefulSet/redis', 'Service/gateway', 'Service/gateway-runner', 'HorizontalPodAutoscaler/gateway', 'ScaledObject/llm-worker-qwen', 'ScaledObject/onnx-worker-minilm', 'TriggerAuthentication/switchyard-autoscaler']) {
        expect(kinds).toContain(want);
      }
      expect(messages(checkAll(objects, ctx(isGpu)))).toEqual([]);
    }
    const redisArgs = (find(cpu, 'StatefulSet', 'redis').spec.template.spec.containers[0].args as string[]).join(' ');
    expect(redisArgs).toContain('--maxmemory-policy noeviction');
    expect(redisArgs).toContain('--appendonly yes');
  });

  withBoth('kustomize v2 (kubectl 1.20) and the current kubectl render the same objects for every kustomization', () => {
    for (const name of kustomizations()) {
      const dir = join(K8S_DIR, name);
      expect(normalizeRender(parseObjects(render(COMPAT as string, dir)))).toEqual(normalizeRender(parseObjects(render(KUBECTL as string, dir))));
    }
  });

  withKubectl('a container without a readiness probe fails, naming the container', () => {
    const objects = broken();
    delete container(objects, 'gateway').readinessProbe;
    expect(messages(checkProbes(objects))).toEqual(['Deployment/gateway: container gateway has no readinessProbe']);
    // A probe on the wrong port (not WORKER_HTTP_PORT) fails too.
    const wrongPort = broken();
    container(wrongPort, 'llm-worker-qwen').livenessProbe.httpGet.port = 8080;
    expect(messages(checkProbes(wrongPort))).toEqual([expect.stringMatching(/^Deployment\/llm-worker-qwen: container llm-worker: livenessProbe targets port 8080.*WORKER_HTTP_PORT=9464/)]);
  });

  withKubectl('a Deployment without a PDB, or with a PDB that selects other pods, fails', () => {
    const missing = broken().filter((o) => !(o.kind === 'PodDisruptionBudget' && o.metadata?.name === 'llm-worker-qwen'));
    expect(messages(checkPdbs(missing))).toEqual(['Deployment/llm-worker-qwen: no PodDisruptionBudget selects its pods']);
    const mismatched = broken();
    find(mismatched, 'PodDisruptionBudget', 'upstream-worker').spec.selector.matchLabels = { 'app.kubernetes.io/name': 'upstream' };
    expect(messages(checkPdbs(mismatched))).toEqual(['Deployment/upstream-worker: no PodDisruptionBudget selects its pods']);
  });

  withKubectl('a ScaledObject aimed at a missing Deployment, or asking about a model its worker does not serve, fails', () => {
    const missing = broken();
    find(missing, 'ScaledObject', 'llm-worker-qwen').spec.scaleTargetRef.name = 'llm-worker-nope';
    const m = messages(checkModelsAndScaling(missing, ctx()));
    expect(m).toContain("ScaledObject/llm-worker-qwen: scaleTargetRef names Deployment 'llm-worker-nope', which is not in the render");
    expect(m).toContain('Deployment/llm-worker-qwen: no ScaledObject scales this llm-worker on its model\'s queue');

    const otherModel = broken();
    const trigger = find(otherModel, 'ScaledObject', 'llm-worker-qwen').spec.triggers[0];
    trigger.metadata.url = String(trigger.metadata.url).replace('model=qwen2.5-0.5b-instruct', 'model=all-minilm-l6-v2');
    expect(messages(checkModelsAndScaling(otherModel, ctx()))).toEqual([
      "ScaledObject/llm-worker-qwen: trigger asks about model 'all-minilm-l6-v2', but Deployment llm-worker-qwen serves WORKER_MODELS=qwen2.5-0.5b-instruct",
    ]);

    const wrongTarget = broken();
    find(wrongTarget, 'ScaledObject', 'llm-worker-qwen').spec.triggers[0].metadata.targetValue = '10';
    expect(messages(checkModelsAndScaling(wrongTarget, ctx()))).toEqual([expect.stringContaining("targetValue 10 should be the model's parallel slots per worker (4)")]);
  });

  withKubectl('scale-from-zero needs a model the gateway does not wait for at readiness, and a long WORKER_WAIT_MS', () => {
    const objects = broken();
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.data?.['models.yaml'] !== undefined) as K8sObject;
    cm.data = { 'models.yaml': (cm.data?.['models.yaml'] ?? '').replace(/^(\s+)preload: false$/m, '$1preload: true') };
    const env = container(objects, 'gateway').env as Array<{ name: string; value?: string }>;
    (env.find((e) => e.name === 'WORKER_WAIT_MS') as { value: string }).value = '10000';
    const m = messages(checkModelsAndScaling(objects, ctx()));
    expect(m).toContain("ScaledObject/onnx-worker-minilm: minReplicaCount 0 for 'all-minilm-l6-v2', a preloaded model: the gateway's readiness would fail while it has no worker (set preload: false)");
    expect(m).toContainEqual(expect.stringMatching(/^Deployment\/gateway: WORKER_WAIT_MS 10000 ms is too short for scale-from-zero/));
  });

  withKubectl('a models file the runtime rejects fails with the runtime\'s own message', () => {
    const objects = broken();
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.data?.['models.yaml'] !== undefined) as K8sObject;
    cm.data = { 'models.yaml': (cm.data?.['models.yaml'] ?? '').replace(/^(\s+)threads: 4$/m, '$1thread: 4') };
    expect(messages(checkModelsAndScaling(objects, ctx()))).toContainEqual(expect.stringMatching(/models\.yaml: models\[0\] \(qwen2\.5-0\.5b-instruct\): unknown key 'thread' \(did you mean 'threads'\?\)/));
  });

  withKubectl('security settings, grace periods and $(VAR) order are checked', () => {
    const insecure = broken();
    const c = container(insecure, 'onnx-worker-minilm');
    c.securityContext.readOnlyRootFilesystem = false;
    c.securityContext.capabilities = { drop: ['NET_RAW'] };
    expect(messages(checkSecurity(insecure))).toEqual([
      'Deployment/onnx-worker-minilm: container onnx-worker: readOnlyRootFilesystem is not true',
      'Deployment/onnx-worker-minilm: container onnx-worker: capabilities.drop does not include ALL',
    ]);

    const short = broken();
    find(short, 'Deployment', 'gateway').spec.template.spec.terminationGracePeriodSeconds = 30;
    find(short, 'Deployment', 'llm-worker-qwen').spec.template.spec.terminationGracePeriodSeconds = 25;
    (container(short, 'onnx-worker-minilm').env as Array<{ name: string; value?: string }>).find((e) => e.name === 'SHUTDOWN_DRAIN_MS')!.value = '40000';
    expect(messages(checkGracePeriods(short))).toEqual([
      'Deployment/gateway: terminationGracePeriodSeconds 30 is not longer than preStop 10 s + drain/shutdown deadline 30 s of container gateway',
      'Deployment/llm-worker-qwen: terminationGracePeriodSeconds 25 is not longer than preStop 0 s + drain/shutdown deadline 30 s of container llm-worker',
      'Deployment/onnx-worker-minilm: terminationGracePeriodSeconds 40 is not longer than preStop 0 s + drain/shutdown deadline 40 s of container onnx-worker',
      'Deployment/onnx-worker-minilm: container onnx-worker: SHUTDOWN_DRAIN_MS 40000 reaches the 30000 ms shutdown deadline, which would cut the drain short',
    ]);
    const noPreStop = broken();
    delete container(noPreStop, 'gateway').lifecycle;
    find(noPreStop, 'Deployment', 'gateway').spec.template.spec.terminationGracePeriodSeconds = 45;
    expect(messages(checkGracePeriods(noPreStop))).toEqual([
      'Deployment/gateway: container gateway: no preStop that holds the pod while its endpoints are removed (intake must stop before SIGTERM)',
    ]);

    const reordered = broken();
    const env = container(reordered, 'gateway').env as Array<{ name: string }>;
    const adminAt = env.findIndex((e) => e.name === 'ADMIN_KEYS');
    env.unshift(...env.splice(adminAt, 1));
    expect(messages(checkEnvReferences(reordered))).toEqual([
      'Deployment/gateway: container gateway: env ADMIN_KEYS refers to $(AUTOSCALER_ADMIN_KEY), which is not defined before it (it would stay literal)',
      'Deployment/gateway: container gateway: env ADMIN_KEYS refers to $(SECRET_ADMIN_KEYS), which is not defined before it (it would stay literal)',
    ]);
  });

  withKubectl('Redis: without the in-cluster one, an optional REDIS_URL in the Secret fails; the external-redis example requires it', () => {
    const noRedis = broken().filter((o) => !(o.metadata?.name === 'redis' && (o.kind === 'Service' || o.kind === 'StatefulSet')));
    const m = messages(checkRedis(noRedis));
    expect(m).toHaveLength(4);
    expect(m).toContain("Deployment/gateway: container gateway: REDIS_URL falls back to redis://redis:6379, but no Service redis is in the render (make the Secret's REDIS_URL required)");
    const external = parseObjects(render(KUBECTL as string, join(K8S_DIR, 'examples', 'external-redis')));
    expect(external.some((o) => o.kind === 'StatefulSet')).toBe(false);
    expect(messages(checkRedis(external))).toEqual([]);
  });

  withKubectl('an Ingress whose backend is not a Service port of the render fails', () => {
    const objects = parseObjects(render(KUBECTL as string, join(K8S_DIR, 'examples', 'ingress')));
    expect(messages(checkIngresses(objects))).toEqual([]);
    const ing = find(objects, 'Ingress', 'gateway');
    ing.spec.rules[0].http.paths[0].backend.service.port.number = 80;
    expect(messages(checkIngresses(objects))).toEqual(['Ingress/gateway: backend port 80 is not a port of Service gateway']);
  });

  withKubectl('the GPU check passes the GPU overlay and fails the CPU one on each model worker', () => {
    expect(messages(checkGpu(gpu))).toEqual([]);
    const m = messages(checkGpu(cpu));
    expect(m).toContain('Deployment/llm-worker-qwen: container llm-worker: image switchyard/llm-worker:0.1.0 is not the CUDA image (switchyard/llm-worker-cuda)');
    expect(m).toContain('Deployment/onnx-worker-minilm: container onnx-worker: no nvidia.com/gpu limit');
    expect(m).toContain('Deployment/onnx-worker-minilm: container onnx-worker: ONNX_DEVICE is cpu, not cuda');
  });

  withKubectl('schema-invalid fields fail the compiled validator (Kubernetes and KEDA schemas); the intact objects pass it', () => {
    const intact = join(tmp, 'intact.yaml');
    writeFileSync(intact, cpu.map((o) => stringify(o)).join('---\n'));
    const ok = runTool(['--objects', intact]);
    expect(ok.out).toMatch(/\d+ objects, 0 failures/);
    expect(ok.status).toBe(0);

    const objects = broken();
    find(objects, 'Deployment', 'gateway').spec.replicas = 'two';
    // KEDA's trigger metadata is a map of strings: an unquoted number is refused.
    find(objects, 'ScaledObject', 'onnx-worker-minilm').spec.triggers[0].metadata.targetValue = 32;
    const file = join(tmp, 'broken.yaml');
    writeFileSync(file, objects.map((o) => stringify(o)).join('---\n'));
    const r = runTool(['--objects', file]);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/Deployment\/gateway: schema: .*replicas/);
    expect(r.out).toMatch(/ScaledObject\/onnx-worker-minilm: schema: .*targetValue/);
    expect(r.out).toMatch(/2 failures/);
  });
});
