/**
 * The web playground: `GET /` serves a small hand-written page (public/: one HTML, one JS, one CSS,
 * no framework, no CDN, no bundler) that talks to this gateway's own OpenAI API with the key the
 * user typed, kept in the browser's localStorage. The page is public; its API calls carry the key.
 * `npm run build` copies public/ beside the compiled file, so the same `__dirname` works from dist.
 */
import { join } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import express, { type Express, type Response } from 'express';

export const PLAYGROUND_DIR = join(__dirname, 'public');

/**
 * Only this origin's scripts run and only this origin is called: an injected script could read the
 * key from localStorage, so the page allows no inline code and no other host.
 */
function secure(res: Response): void {
  res.setHeader(
    'content-security-policy',
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  );
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
}

export function mountPlayground(app: NestExpressApplication): void {
  const server = app.getHttpAdapter().getInstance() as Express;
  server.get('/', (_req, res) => {
    secure(res);
    res.setHeader('cache-control', 'no-cache');
    res.sendFile(join(PLAYGROUND_DIR, 'index.html'));
  });
  app.use('/playground', express.static(PLAYGROUND_DIR, { index: false, setHeaders: secure, maxAge: 0 }));
}
