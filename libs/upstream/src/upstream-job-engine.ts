/**
 * An upstream model as its hosts run it: each `upstream` job is the client's body passed through
 * the router (deployments, fallback, balance) and answered with the neutral events. The upstream
 * worker hosts it behind the model's BullMQ queue (QueueHost), the runner behind its gRPC stream.
 * Nothing is loaded: an upstream model is ready as soon as its jobs are taken.
 */
import type { UpstreamJobData, UpstreamModelDescriptor } from '@switchyard/contracts';
import { kindList, type JobContext, type JobOutcome, type KindHandlers, type Logger, type ModelEngine } from '@switchyard/runtime';
import { UpstreamRouter } from './upstream-router';

export class UpstreamJobEngine implements ModelEngine<UpstreamJobData> {
  /** The kinds it has handlers for (the hosts check them against the backend table at boot). */
  static readonly kinds = kindList<UpstreamJobData>({ upstream: true });
  readonly abortable = true;
  readonly handlers: KindHandlers<UpstreamJobData> = { upstream: { cancellable: true, run: (job, ctx) => this.run(job, ctx) } };
  private readonly router: UpstreamRouter;

  constructor(
    private readonly descriptor: UpstreamModelDescriptor,
    log: Logger,
    /** The 500 a failure that is not the upstream's becomes (the runner names itself). */
    readonly failure: { code: string; message: string } = { code: 'upstream_worker_failed', message: 'The upstream worker failed while serving this request.' },
  ) {
    this.router = new UpstreamRouter(descriptor, log);
  }

  async load(): Promise<void> {
    // Nothing held: each request is its own HTTP call.
  }

  async dispose(): Promise<void> {
    // Nothing held.
  }

  describe(): Record<string, unknown> {
    const d = this.descriptor;
    return { deployments: d.deployments.map((x) => `${x.baseUrl} (${x.model})`), routing: d.routing };
  }

  private async run(job: UpstreamJobData, ctx: JobContext): Promise<JobOutcome<'upstream'>> {
    if (await ctx.cancelFlagged()) return undefined;
    ctx.emit({ type: 'start', workerId: ctx.workerId, promptTokens: 0 });
    let answer: Record<string, unknown> | undefined;
    const result = await this.router.run(job.endpoint, job.body, { delta: (d) => ctx.emit({ type: 'delta', ...d }), result: (data) => (answer = data) }, ctx.signal);
    if (result.aborted) return undefined;
    if (answer !== undefined) return { type: 'result', data: { ...answer, model: job.model } };
    return { type: 'done', finishReason: result.finishReason, usage: result.usage };
  }
}
