/**
 * Bearer API keys: required when keys are configured, open (and said so at start-up) when not.
 */
import { type CanActivate, type ExecutionContext, Inject, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { splitList } from '@switchyard/runtime';
import { GATEWAY_ENV, type GatewayEnv } from './gateway-config';
import { OpenAIError } from './openai-error';

const PUBLIC_KEY = 'switchyard:public';
/** Marks a route that needs no API key (health checks). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_KEY, true);

@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly keys: Buffer[];

  constructor(
    @Inject(GATEWAY_ENV) env: GatewayEnv,
    private readonly reflector: Reflector,
  ) {
    this.keys = splitList(env.API_KEYS).map((k) => Buffer.from(k));
  }

  get open(): boolean {
    return this.keys.length === 0;
  }

  canActivate(ctx: ExecutionContext): boolean {
    if (this.open) return true;
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, [ctx.getHandler(), ctx.getClass()])) return true;
    const header = ctx.switchToHttp().getRequest<Request>().headers.authorization;
    const match = /^Bearer\s+(.+)$/i.exec(header ?? '');
    if (!match) {
      throw new OpenAIError(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        'invalid_request_error',
        'missing_api_key',
      );
    }
    const given = Buffer.from(match[1].trim());
    if (!this.keys.some((k) => k.length === given.length && timingSafeEqual(k, given))) {
      const shown = given.length > 8 ? `${given.toString().slice(0, 3)}...${given.toString().slice(-4)}` : '***';
      throw new OpenAIError(401, `Incorrect API key provided: ${shown}.`, 'invalid_request_error', 'invalid_api_key');
    }
    return true;
  }
}
