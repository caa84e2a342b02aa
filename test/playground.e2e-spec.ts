/**
 * The web playground in a real browser: headless Chromium (driven by puppeteer-core, which
 * downloads nothing) loads `/` from a real gateway with a worker serving generated tiny models,
 * shows the API's own error for a missing and a wrong key, then with the right key picks
 * `tiny-chat`, sends a message and sees the answer streamed in several pieces: the same text the
 * API gives for the same greedy request. The embeddings tab embeds a text with a GGUF embedding model.
 * The screenshot goes to a temp dir, or to PLAYGROUND_SCREENSHOT (docs/playground.png) when set.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { itIf } from './support/skip';
import { startStack, tinyModel, type Stack } from './support/stack';

jest.setTimeout(180_000);

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const USER = 'sk-playground-user-01';
const MESSAGE = 'Tell me about trains.';
const MAX_TOKENS = 24;
const hasChromium = existsSync(CHROMIUM);

let stack: Stack;
let browser: Browser | undefined;
let page: Page;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-playground-'));
  const tiny = await tinyModel('tiny-chat');
  stack = await startStack({
    models: [
      { name: 'tiny-chat', path: tiny, parallel: 1, context_size: 512 },
      { name: 'gguf-embed', path: tiny, embedding: true, context_size: 64, parallel: 1 },
    ],
    gatewayEnv: { API_KEYS: USER },
  });
  if (!hasChromium) return;
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: join(dir, 'profile'),
    args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  page = await browser.newPage();
  await page.setViewport({ width: 1100, height: 820 });
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs an expression in the page. Page code is written as strings: the project compiles without
 * the DOM's types, and a string keeps the browser's globals out of Node's type checking.
 */
function js<T>(expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

const q = (selector: string): string => `document.querySelector(${JSON.stringify(selector)})`;

/** Waits until the element's text contains `text` and returns the whole text. */
async function textOf(selector: string, text: string): Promise<string> {
  await page.waitForFunction(`(${q(selector)}?.textContent ?? '').includes(${JSON.stringify(text)})`, { timeout: 30_000 });
  return js<string>(`${q(selector)}.textContent`);
}

async function saveKey(key: string): Promise<void> {
  await js(`${q('#api-key')}.value = ''`);
  await page.type('#api-key', key);
  await page.click('#key-form button[type=submit]');
}

describe('playground page (e2e)', () => {
  it('is served by the gateway itself without a key, locked to its own origin', async () => {
    const res = await fetch(`${stack.baseUrl}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await res.text();
    expect(html).toContain('<title>Switchyard playground</title>');
    // Nothing from another host: every asset is the gateway's.
    expect(html).not.toMatch(/(src|href)="https?:/);
    for (const [asset, type] of [
      ['/playground/app.js', /javascript/],
      ['/playground/style.css', /text\/css/],
    ] as const) {
      const a = await fetch(`${stack.baseUrl}${asset}`);
      expect(a.status).toBe(200);
      expect(a.headers.get('content-type')).toMatch(type);
    }
    expect((await fetch(`${stack.baseUrl}/playground/nothing.js`)).status).toBe(404);
  });
});

describe('playground in headless Chromium (e2e)', () => {
  itIf(hasChromium, `Chromium at ${CHROMIUM}`)('shows the missing-key and wrong-key errors of the API, then streams a chat answer', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(stack.baseUrl, { waitUntil: 'networkidle0' });
    expect(await textOf('#global-error', 'API key')).toContain("You didn't provide an API key");

    await saveKey('sk-wrong-key-123456');
    expect(await textOf('#global-error', 'Incorrect')).toContain('Incorrect API key provided');
    expect(await js(`localStorage.getItem('switchyard.apiKey')`)).toBe('sk-wrong-key-123456');

    await saveKey(USER);
    await page.waitForFunction(`[...document.querySelectorAll('#chat-model option')].some((o) => o.value === 'tiny-chat')`, { timeout: 30_000 });
    expect(await js(`${q('#global-error')}.hidden`)).toBe(true);
    await page.select('#chat-model', 'tiny-chat');
    await page.click('details summary');
    await js(`${q('#chat-temperature')}.value = '0'`);
    await js(`${q('#chat-max-tokens')}.value = '${MAX_TOKENS}'`);
    await page.type('#chat-input', MESSAGE);
    await page.keyboard.press('Enter');

    await page.waitForSelector('.message.user', { timeout: 10_000 });
    await page.waitForSelector('.message.assistant[data-state=done], .message.assistant[data-state=error]', { timeout: 90_000 });
    const answer = await js<{ state: string; chunks: number; text: string; error: string | null }>(`(() => {
      const e = ${q('.message.assistant')};
      return { state: e.dataset.state, chunks: Number(e.dataset.chunks), text: e.querySelector('.content').textContent, error: e.querySelector('.error')?.textContent ?? null };
    })()`);
    expect(answer.error).toBeNull();
    expect(answer.state).toBe('done');
    expect(answer.chunks).toBeGreaterThan(1); // streamed, not one body
    expect(await js(`${q('.message.user .content')}.textContent`)).toBe(MESSAGE);
    expect(await textOf('#status', 'completion tokens')).toMatch(/\d+ prompt \+ \d+ completion tokens/);

    // The API's own answer to the same greedy request: the page showed exactly what was streamed.
    const direct = await fetch(`${stack.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${USER}` },
      body: JSON.stringify({ model: 'tiny-chat', messages: [{ role: 'user', content: MESSAGE }], temperature: 0, max_tokens: MAX_TOKENS }),
    });
    const body = (await direct.json()) as { choices: Array<{ message: { content: string } }> };
    expect(answer.text).toBe(body.choices[0].message.content);
    expect(answer.text.length).toBeGreaterThan(0);

    const shot = process.env.PLAYGROUND_SCREENSHOT ? resolve(process.env.PLAYGROUND_SCREENSHOT) : join(dir, 'playground.png');
    await page.screenshot({ path: shot as `${string}.png` });
    expect(existsSync(shot)).toBe(true);
    expect(errors).toEqual([]);
  });

  itIf(hasChromium, `Chromium at ${CHROMIUM}`)('embeds a text in the embeddings tab', async () => {
    await page.click('#tab-embeddings');
    expect(await js(`${q('#panel-embeddings')}.hidden`)).toBe(false);
    expect(await js(`${q('#panel-chat')}.hidden`)).toBe(true);
    await page.select('#embeddings-model', 'gguf-embed');
    await page.type('#embeddings-input', 'a freight train');
    await page.click('#embeddings-form button[type=submit]');
    const out = await textOf('#embeddings-output', 'dimensions');
    expect(out).toMatch(/^#0: 64 dimensions, norm 1\.0000/);
    // Speech, transcription and images need an ONNX or upstream model; this server has none.
    expect(await js(`${q('#tab-speech')}.hidden`)).toBe(true);
  });
});
