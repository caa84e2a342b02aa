/**
 * Who may open the queue dashboard: an admin key, sent by a browser as an HttpOnly cookie that the
 * login form sets (never in the URL, where it would land in history and access logs), or by a
 * script as `Authorization: Bearer`. With no keys configured at all the dashboard is open like the
 * rest of the API; with user keys but no admin keys it is closed, as the admin API is.
 */
import type { CookieOptions, Request, RequestHandler, Response } from 'express';
import { adminKeyName, openMode } from '../core/api-key.guard';
import type { GatewayEnv } from '../core/gateway-config';
import { OpenAIError } from '../core/openai-error';
import { sendOpenAIError } from '../core/openai-error.filter';
import { requestContextOf } from '../core/request-context';
import { loginPage } from './login-page';

export const DASHBOARD_PATH = '/admin/queues';
export const ADMIN_COOKIE = 'switchyard_admin';

/** Requests a browser would navigate to get the login form; the dashboard's API gets JSON errors. */
function wantsPage(req: Request): boolean {
  return req.method === 'GET' && !req.path.startsWith('/api/') && req.accepts(['html', 'json']) === 'html';
}

/**
 * Secure whenever the client reached us over https, directly or through a TLS-terminating proxy
 * (X-Forwarded-Proto). A spoofed header only costs the spoofing client its own cookie.
 */
export function cookieOptions(req: Request): CookieOptions {
  const forwarded = String(req.headers['x-forwarded-proto'] ?? '')
    .split(',')[0]
    .trim()
    .toLowerCase();
  return { httpOnly: true, sameSite: 'strict', path: DASHBOARD_PATH, secure: req.secure || forwarded === 'https' };
}

function bearer(req: Request): string | undefined {
  return /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
}

function refuse(req: Request, res: Response, err: OpenAIError): void {
  if (wantsPage(req)) {
    const ctx = requestContextOf(req);
    if (ctx) ctx.errorCode = err.code ?? undefined;
    res.status(err.getStatus()).type('html').setHeader('cache-control', 'no-store').send(loginPage(err.getStatus() === 401 && Boolean(req.cookies?.[ADMIN_COOKIE])));
  } else {
    sendOpenAIError(res, err);
  }
}

/** Lets admins through; everyone else gets the login form (401) or OpenAI's 401/403. */
export function requireAdmin(env: GatewayEnv): RequestHandler {
  return (req, res, next) => {
    if (openMode(env)) {
      next();
      return;
    }
    const cookie = (req.cookies as Record<string, string> | undefined)?.[ADMIN_COOKIE];
    const given = bearer(req) ?? cookie;
    if (given === undefined || given === '') {
      refuse(req, res, new OpenAIError(401, 'The queue dashboard needs an admin key: log in at /admin/queues or send it as Authorization: Bearer.', 'invalid_request_error', 'missing_api_key'));
      return;
    }
    const name = adminKeyName(env, given);
    if (name === undefined) {
      refuse(req, res, new OpenAIError(401, 'That key does not open the queue dashboard: it needs an admin key (ADMIN_KEYS).', 'invalid_request_error', 'invalid_api_key'));
      return;
    }
    const ctx = requestContextOf(req);
    if (ctx) ctx.keyName = name;
    next();
  };
}

/** POST /admin/queues/login `{"key": "..."}`: sets the cookie for an admin key, refuses anything else. */
export function login(env: GatewayEnv): RequestHandler {
  return (req, res) => {
    const key: unknown = (req.body as { key?: unknown } | undefined)?.key;
    if (typeof key !== 'string' || key.trim() === '') {
      sendOpenAIError(res, OpenAIError.badRequest("Send the admin key as JSON: {\"key\": \"...\"}.", 'key', 'missing_api_key'));
      return;
    }
    const name = openMode(env) ? 'open' : adminKeyName(env, key.trim());
    if (name === undefined) {
      sendOpenAIError(res, new OpenAIError(401, 'That key does not open the queue dashboard: it needs an admin key (ADMIN_KEYS).', 'invalid_request_error', 'invalid_api_key'));
      return;
    }
    res.cookie(ADMIN_COOKIE, key.trim(), cookieOptions(req)).setHeader('cache-control', 'no-store');
    res.status(204).end();
  };
}

/** POST /admin/queues/logout: forgets the cookie. */
export function logout(): RequestHandler {
  return (req, res) => {
    res.clearCookie(ADMIN_COOKIE, cookieOptions(req)).status(204).end();
  };
}
