/**
 * The OpenAPI document and the docs page, end to end: the compiled gateway (keys configured) serves
 * GET /openapi.json and GET /docs without a key; the document validates as OpenAPI 3.1; it documents
 * exactly the routes the router really has (an in-process app on the same Redis, its Express router
 * walked, so a new route without docs fails here); and Swagger UI renders in headless Chromium from
 * local assets only, and its "Try it out" sends the key typed into Authorize.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import puppeteer, { type Browser } from 'puppeteer-core';
import { itIf } from './support/skip';
import { ROOT, startStack, type Stack } from './support/stack';

jest.setTimeout(120_000);

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const USER = 'sk-openapi-user-000001';
const ADMIN = 'sk-openapi-admin-00001';
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];

interface Operation {
  operationId?: string;
  tags?: string[];
  summary?: string;
  security?: unknown[];
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, { content?: Record<string, unknown> }>;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, { type: string; scheme?: string }>; schemas: Record<string, unknown> };
  security: unknown[];
}

/**
 * @seriousme/openapi-schema-validator is ESM-only and jest runs this file as CommonJS: the check runs
 * in a node of its own, the document on its stdin.
 */
function validateOpenApi(document: object): { valid: boolean; version: string; errors?: unknown } {
  const script = `import { Validator } from '@seriousme/openapi-schema-validator';
const chunks = []; for await (const c of process.stdin) chunks.push(c);
const v = new Validator(); const r = await v.validate(JSON.parse(Buffer.concat(chunks).toString()));
process.stdout.write(JSON.stringify({ ...r, version: v.version }));`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, input: JSON.stringify(document) }).toString()) as { valid: boolean; version: string; errors?: unknown };
}

/** The compiled gateway's modules, loaded as the gateway process loads them. */
function dist<T>(path: string): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the compiled app, not the sources ts-jest would compile
  return require(join(ROOT, 'dist', path)) as T;
}

let stack: Stack;
let doc: Document;

beforeAll(async () => {
  stack = await startStack({ models: [], noWorker: true, gatewayEnv: { API_KEYS: USER, ADMIN_KEYS: ADMIN } });
  const res = await fetch(`${stack.baseUrl}/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  doc = (await res.json()) as Document;
});

afterAll(async () => {
  await stack?.stop();
});

function operations(): Array<{ method: string; path: string; op: Operation }> {
  return Object.entries(doc.paths).flatMap(([path, item]) => METHODS.filter((m) => item[m]).map((method) => ({ method, path, op: item[method] })));
}

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document, served without a key', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const result = validateOpenApi(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(result.version).toBe('3.1');
    // The API itself still wants the key: the document is public, the routes are not.
    expect((await fetch(`${stack.baseUrl}/v1/models`)).status).toBe(401);
  });

  it('asks for the bearer key everywhere except the public routes', () => {
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearer: [] }]);
    const open = operations()
      .filter((o) => Array.isArray(o.op.security) && o.op.security.length === 0)
      .map((o) => `${o.method} ${o.path}`)
      .sort();
    expect(open).toEqual(['get /health', 'get /health/live', 'get /health/ready', 'get /v1/images/files/{name}']);
  });

  it("documents bodies from the DTOs, OpenAI's operationIds, tags, SSE, multipart and errors", () => {
    const ids = new Set(operations().map((o) => o.op.operationId));
    for (const id of ['createChatCompletion', 'createCompletion', 'createEmbedding', 'createModeration', 'listModels', 'retrieveModel', 'createTranscription', 'createTranslation', 'createSpeech', 'createImage', 'createImageEdit', 'createImageVariation']) {
      expect(ids).toContain(id);
    }
    expect(ids.size).toBe(operations().length); // unique, aliases included
    for (const { method, path, op } of operations()) {
      expect([method, path, op.tags?.length ?? 0]).toEqual([method, path, 1]);
      expect([method, path, typeof op.summary]).toEqual([method, path, 'string']);
      expect(op.responses.default).toBeDefined();
      expect(op.responses['201']).toBeUndefined(); // every POST here answers 200
    }
    const chat = doc.paths['/v1/chat/completions'].post;
    expect(Object.keys(chat.responses['200'].content ?? {})).toEqual(['application/json', 'text/event-stream']);
    expect(chat.requestBody?.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/CreateChatCompletionDto' });
    // From the DTO by the plugin: limits from class-validator, nullability as 3.1 types, doc comments.
    const body = doc.components.schemas.CreateChatCompletionDto as { required: string[]; properties: Record<string, Record<string, unknown>> };
    expect(body.required).toEqual(expect.arrayContaining(['model', 'messages']));
    expect(body.properties.temperature).toMatchObject({ type: ['number', 'null'], minimum: 0, maximum: 2 });
    expect(body.properties.top_logprobs).toMatchObject({ minimum: 0, maximum: 20 });
    expect(body.properties.grammar.description).toMatch(/GBNF/);
    const transcription = doc.paths['/v1/audio/transcriptions'].post.requestBody?.content['multipart/form-data'].schema as { required: string[]; properties: Record<string, { format?: string }> };
    expect(transcription.required).toEqual(['file', 'model']);
    expect(transcription.properties.file.format).toBe('binary');
    expect(Object.keys(doc.paths['/v1/images/edits'].post.requestBody?.content ?? {})).toEqual(['multipart/form-data']);
    expect(Object.keys(doc.paths['/v1/audio/speech'].post.responses['200'].content ?? {})).toEqual(expect.arrayContaining(['audio/mpeg', 'text/event-stream']));
  });

  it('lists every route the router serves, and no route it does not', async () => {
    const { GatewayModule } = dist<{ GatewayModule: { withEnv(env: object): never } }>('apps/gateway/src/gateway.module');
    const { GatewayEnv } = dist<{ GatewayEnv: new () => object }>('apps/gateway/src/core/gateway-config');
    const { loadEnv } = dist<{ loadEnv(cls: new () => object, env: NodeJS.ProcessEnv): object }>('libs/runtime/src');
    const { setupOpenApi, isUndocumentedPath } = dist<{ setupOpenApi(app: INestApplication): Promise<void>; isUndocumentedPath(path: string): boolean }>('apps/gateway/src/docs/openapi');
    const env = loadEnv(GatewayEnv, { REDIS_URL: stack.redis.url, MODELS_FILE: stack.modelsFile, API_KEYS: USER });
    const app = await NestFactory.create(GatewayModule.withEnv(env), { logger: false, bodyParser: false });
    try {
      await setupOpenApi(app);
      await app.init();
      const express = app.getHttpAdapter().getInstance() as { router: { stack: Array<{ route?: { path: string | string[]; methods: Record<string, boolean> } }> } };
      const served = new Set<string>();
      for (const layer of express.router.stack) {
        // Wildcard routes (`/{*path}`) are middleware Nest mounts for every method (the request logger), not endpoints.
        if (!layer.route || [layer.route.path].flat().some((p) => p.includes('{*'))) continue;
        for (const path of [layer.route.path].flat()) {
          for (const [method, on] of Object.entries(layer.route.methods)) {
            if (on && method !== '_all') served.add(`${method} ${path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
          }
        }
      }
      const documented = new Set(operations().map((o) => `${o.method} ${o.path}`));
      const routes = [...served].filter((r) => !isUndocumentedPath(r.split(' ')[1]));
      expect(routes.length).toBeGreaterThan(30);
      expect(routes.filter((r) => !documented.has(r))).toEqual([]);
      expect([...documented].filter((r) => !served.has(r))).toEqual([]);
      // The docs' own routes are there, and left out of the document on purpose.
      expect(served).toContain('get /docs');
      expect(served).toContain('get /openapi.json');
    } finally {
      await app.close();
    }
  });
});

describe('GET /docs', () => {
  itIf(existsSync(CHROMIUM), `Chromium at ${CHROMIUM}`)('renders Swagger UI from local assets, and Try it out sends the key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-docs-'));
    let browser: Browser | undefined;
    try {
      browser = await puppeteer.launch({
        executablePath: CHROMIUM,
        headless: true,
        userDataDir: join(dir, 'profile'),
        args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-dev-shm-usage'],
      });
      const page = await browser.newPage();
      const foreign: string[] = [];
      const failed: string[] = [];
      const sent: Array<{ url: string; auth: string | undefined }> = [];
      page.on('request', (r) => {
        if (!r.url().startsWith(stack.baseUrl) && !r.url().startsWith('data:')) foreign.push(r.url());
        if (r.url().startsWith(`${stack.baseUrl}/v1/`)) sent.push({ url: r.url(), auth: r.headers().authorization });
      });
      page.on('requestfailed', (r) => failed.push(r.url()));
      page.on('response', (r) => {
        if (r.status() >= 400 && !r.url().includes('/v1/')) failed.push(`${r.status()} ${r.url()}`);
      });
      await page.goto(`${stack.baseUrl}/docs`, { waitUntil: 'networkidle0' });
      await page.waitForSelector('#operations-chat-createChatCompletion', { timeout: 30_000 });
      expect(await page.$eval('.info .title', (e) => e.textContent ?? '')).toContain('Switchyard');
      const tags = await page.$$eval('.opblock-tag', (els) => els.map((e) => e.getAttribute('data-tag')));
      expect(tags).toEqual(expect.arrayContaining(['chat', 'audio', 'images', 'models', 'tokens', 'admin']));
      expect(foreign).toEqual([]); // no CDN: the page works offline
      expect(failed).toEqual([]);

      // Authorize with the user key, then run GET /v1/models from the page.
      await page.click('.auth-wrapper .authorize');
      await page.waitForSelector('.modal-ux input');
      await page.type('.modal-ux input', USER);
      await page.click('.modal-ux .auth-btn-wrapper .authorize');
      await page.click('.modal-ux .btn-done');
      await page.click('#operations-models-listModels .opblock-summary');
      await page.waitForSelector('#operations-models-listModels .execute');
      await page.click('#operations-models-listModels .execute');
      await page.waitForSelector('#operations-models-listModels .live-responses-table tbody .response-col_status', { timeout: 30_000 });
      const status = await page.$eval('#operations-models-listModels .live-responses-table tbody .response-col_status', (e) => e.textContent ?? '');
      expect(status.trim()).toBe('200');
      expect(sent).toEqual([{ url: `${stack.baseUrl}/v1/models`, auth: `Bearer ${USER}` }]);
    } finally {
      await browser?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
