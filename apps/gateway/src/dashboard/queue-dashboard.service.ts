/**
 * The queue dashboard: bull-board at /admin/queues, mounted straight on the Express instance
 * (@bull-board/nestjs wants static queue tokens, and ours are one per model and change at run
 * time). It shows one queue per model of the catalog (the models file plus the models remote
 * runners register), re-read on every dashboard request so a runner's model shows up or goes
 * without a restart. Read-only unless QUEUE_DASHBOARD_READ_ONLY=false: bull-board hides its
 * buttons and refuses its write API then, and the mount refuses every write method on top, so a
 * bull-board route that forgot the check cannot change a queue either.
 */
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { createBullBoard } from '@bull-board/api';
import type { IServerAdapter } from '@bull-board/api/typings/app';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Queue } from 'bullmq';
import cookieParser from 'cookie-parser';
import { Router, type RequestHandler } from 'express';
import { REDIS_PREFIX, queueNameFor, type ModelDescriptor } from '@switchyard/contracts';
import { GATEWAY_ENV, type GatewayEnv } from '../core/gateway-config';
import { ModelCatalogService } from '../core/model-catalog.service';
import { OpenAIError } from '../core/openai-error';
import { sendOpenAIError } from '../core/openai-error.filter';
import { RedisConnections } from '../core/redis-connections';
import { DASHBOARD_PATH, login, logout, requireAdmin } from './dashboard-auth';

type Board = ReturnType<typeof createBullBoard>;

@Injectable()
export class QueueDashboardService implements OnApplicationShutdown {
  readonly readOnly: boolean;
  /** Queue name → its BullMQ queue, for the models shown now. */
  private readonly queues = new Map<string, Queue>();
  private board: Board | undefined;

  constructor(
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    private readonly catalog: ModelCatalogService,
    private readonly redis: RedisConnections,
  ) {
    this.readOnly = env.QUEUE_DASHBOARD_READ_ONLY !== 'false';
  }

  /** Mounts the login endpoints and the board; call before Nest registers its routes (app.listen). */
  mount(app: NestExpressApplication): void {
    const server = new ExpressAdapter().setBasePath(DASHBOARD_PATH);
    this.board = createBullBoard({
      queues: [],
      // @bull-board/express 9.10.1 declares its own copy of @bull-board/api's types (9.10.2 here): the
      // same shapes, but TypeScript tells two declarations of a class with private fields apart.
      serverAdapter: server as unknown as IServerAdapter,
      options: { uiConfig: { boardTitle: 'Switchyard queues' } },
    });
    this.sync();
    const router = Router();
    router.use(cookieParser(), (_req, res, next) => {
      // The board's buttons must not be clickable from a page that frames it.
      res.setHeader('x-frame-options', 'DENY');
      next();
    });
    router.post('/login', login(this.env));
    router.post('/logout', logout());
    router.use(requireAdmin(this.env), this.refuseWrites(), (_req, _res, next) => {
      this.sync();
      next();
    });
    router.use(server.getRouter() as RequestHandler);
    app.use(DASHBOARD_PATH, router);
  }

  private refuseWrites(): RequestHandler {
    return (req, res, next) => {
      if (!this.readOnly || req.method === 'GET' || req.method === 'HEAD') {
        next();
        return;
      }
      sendOpenAIError(
        res,
        new OpenAIError(405, 'The queue dashboard is read-only; set QUEUE_DASHBOARD_READ_ONLY=false to change queues from it.', 'invalid_request_error', 'dashboard_read_only'),
      );
    };
  }

  /** Brings the board's queues in line with the catalog (cheap when nothing changed: a set compare). */
  private sync(): void {
    const wanted = new Map<string, ModelDescriptor>();
    for (const m of this.catalog.models) wanted.set(queueNameFor(m), m);
    if (wanted.size === this.queues.size && [...wanted.keys()].every((n) => this.queues.has(n))) return;
    for (const [name, queue] of this.queues) {
      if (wanted.has(name)) continue;
      this.queues.delete(name);
      // The connection is shared with the rest of the gateway; closing the queue leaves it open.
      queue.close().catch(() => undefined);
    }
    const adapters = [...wanted].map(([name, model]) => {
      let queue = this.queues.get(name);
      if (!queue) {
        queue = new Queue(name, { connection: this.redis.command, prefix: REDIS_PREFIX });
        this.queues.set(name, queue);
      }
      return new BullMQAdapter(queue, { readOnlyMode: this.readOnly, displayName: model.name, description: `${model.backend} model ${model.name}` });
    });
    this.board?.replaceQueues(adapters);
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
  }
}
