/**
 * Bearer keys. API keys (API_KEYS) open the OpenAI API; admin keys (ADMIN_KEYS) open it too and also
 * the admin API, where a user key gets 403. With no keys at all everything is open (said at start-up).
 * With user keys but no admin keys, the admin API is closed to everyone.
 */
import { type CanActivate, type ExecutionContext, Inject, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { splitList } from '@switchyard/runtime';
import { GATEWAY_ENV, type GatewayEnv } from './gateway-config';
import { OpenAIError } from './openai-error';
import { requestContextOf } from './request-context';

export const ACCESS_KEY = 'switchyard:access';
type Access = 'public' | 'admin';
/** A route that needs no key (health checks). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(ACCESS_KEY, 'public' satisfies Access);
/** A route that needs an admin key. */
export const Admin = (): MethodDecorator & ClassDecorator => SetMetadata(ACCESS_KEY, 'admin' satisfies Access);

/** Index of the matching key, or -1; every key is compared, so the time does not say which matched. */
function matchIndex(keys: Buffer[], given: Buffer): number {
  let found = -1;
  keys.forEach((k, i) => {
    if (k.length === given.length && timingSafeEqual(k, given) && found < 0) found = i;
  });
  return found;
}

/** For routes outside Nest's guard (the queue dashboard): the admin key's name (`admin-1`), or undefined. */
export function adminKeyName(env: GatewayEnv, given: string): string | undefined {
  const index = matchIndex(splitList(env.ADMIN_KEYS).map((k) => Buffer.from(k)), Buffer.from(given));
  return index >= 0 ? `admin-${index + 1}` : undefined;
}

/** No keys configured at all: everything is open. */
export function openMode(env: GatewayEnv): boolean {
  return splitList(env.API_KEYS).length === 0 && splitList(env.ADMIN_KEYS).length === 0;
}

@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly userKeys: Buffer[];
  private readonly adminKeys: Buffer[];

  constructor(
    @Inject(GATEWAY_ENV) env: GatewayEnv,
    private readonly reflector: Reflector,
  ) {
    this.userKeys = splitList(env.API_KEYS).map((k) => Buffer.from(k));
    this.adminKeys = splitList(env.ADMIN_KEYS).map((k) => Buffer.from(k));
  }

  get open(): boolean {
    return this.userKeys.length === 0 && this.adminKeys.length === 0;
  }

  canActivate(ctx: ExecutionContext): boolean {
    const access = this.reflector.getAllAndOverride<Access | undefined>(ACCESS_KEY, [ctx.getHandler(), ctx.getClass()]);
    if (this.open || access === 'public') return true;
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
    const adminIndex = matchIndex(this.adminKeys, given);
    const userIndex = matchIndex(this.userKeys, given);
    const admin = adminIndex >= 0;
    if (!admin && userIndex < 0) {
      const text = given.toString();
      const shown = text.length > 8 ? `${text.slice(0, 3)}...${text.slice(-4)}` : '***';
      throw new OpenAIError(401, `Incorrect API key provided: ${shown}.`, 'invalid_request_error', 'invalid_api_key');
    }
    // Keys are named by their place in API_KEYS / ADMIN_KEYS, for logs and metrics (never the key).
    const request = requestContextOf(ctx.switchToHttp().getRequest<Request>());
    if (request) request.keyName = admin ? `admin-${adminIndex + 1}` : `user-${userIndex + 1}`;
    if (access === 'admin' && !admin) {
      throw new OpenAIError(403, 'This endpoint needs an admin key.', 'permission_error', 'admin_key_required');
    }
    return true;
  }
}
