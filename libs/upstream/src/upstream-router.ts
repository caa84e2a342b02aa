/**
 * Routing of one request over a model's deployments: the order to try them in (in file order for
 * `fallback`; a weighted random first pick for `balance`), a short cool-down that moves a deployment
 * that just failed to the back, and the fallback loop itself: the next deployment is tried on a
 * retryable failure only while nothing has been streamed to the client, never after.
 */
import type { UpstreamDeployment, UpstreamEndpoint, UpstreamModelDescriptor } from '@switchyard/contracts';
import type { Logger } from '@switchyard/runtime';
import type { UpstreamSink } from './chunk-translator';
import { callUpstream, type UpstreamResult } from './upstream-client';
import { UpstreamFailure } from './upstream-failure';

/** How long a deployment that failed with a retryable error is tried last. */
export const COOLDOWN_MS = 10_000;

export class UpstreamRouter {
  private readonly coolingUntil = new Map<number, number>();

  constructor(
    readonly descriptor: UpstreamModelDescriptor,
    private readonly log?: Logger,
    private readonly random: () => number = Math.random,
    private readonly now: () => number = Date.now,
  ) {}

  /** Indexes of deployments in the order this request tries them. */
  order(): number[] {
    const deps = this.descriptor.deployments;
    let order = deps.map((_, i) => i);
    if (this.descriptor.routing === 'balance' && deps.length > 1) {
      const total = deps.reduce((s, d) => s + d.weight, 0);
      let pick = this.random() * total;
      let first = 0;
      for (let i = 0; i < deps.length; i++) {
        pick -= deps[i].weight;
        if (pick < 0) {
          first = i;
          break;
        }
      }
      order = [first, ...order.filter((i) => i !== first)];
    }
    const t = this.now();
    const healthy = order.filter((i) => (this.coolingUntil.get(i) ?? 0) <= t);
    const cooling = order.filter((i) => (this.coolingUntil.get(i) ?? 0) > t);
    return [...healthy, ...cooling];
  }

  /**
   * Runs the request on the first deployment that takes it. `sink.delta` is only called by the
   * deployment that is streaming, so after the first delta no other deployment is tried.
   */
  async run(
    endpoint: UpstreamEndpoint,
    body: Record<string, unknown>,
    sink: UpstreamSink,
    signal: AbortSignal,
    call: typeof callUpstream = callUpstream,
  ): Promise<UpstreamResult & { deployment: UpstreamDeployment }> {
    let streamed = false;
    const tracking: UpstreamSink = {
      delta: (d) => {
        streamed = true;
        sink.delta(d);
      },
      ...(sink.result ? { result: sink.result } : {}),
    };
    let last: UpstreamFailure | undefined;
    for (const i of this.order()) {
      const deployment = this.descriptor.deployments[i];
      try {
        const result = await call({ deployment, endpoint, body, signal, sink: tracking, label: this.descriptor.name });
        this.coolingUntil.delete(i);
        return { ...result, deployment };
      } catch (err) {
        if (!(err instanceof UpstreamFailure)) throw err;
        last = err;
        if (err.retryable) this.coolingUntil.set(i, this.now() + COOLDOWN_MS);
        this.log?.warn('upstream deployment failed', { model: this.descriptor.name, deployment: deployment.baseUrl, status: err.status, code: err.code, streamed });
        if (!err.retryable || streamed || signal.aborted) throw err;
      }
    }
    throw last ?? new UpstreamFailure(502, 'server_error', 'upstream_error', `No deployment of '${this.descriptor.name}' is configured.`, false);
  }
}
