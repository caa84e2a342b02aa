import { parseRange, serveBytes } from './range-server';

describe('parseRange', () => {
  it('reads the three byte-range forms, clamped to the body', () => {
    expect(parseRange('bytes=0-', 100)).toEqual({ start: 0, end: 99 });
    expect(parseRange('bytes=10-19', 100)).toEqual({ start: 10, end: 19 });
    expect(parseRange('bytes=90-500', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=-30', 100)).toEqual({ start: 70, end: 99 });
    expect(parseRange('bytes=-300', 100)).toEqual({ start: 0, end: 99 });
  });

  it('answers the whole body for what it does not understand, and null for what cannot be satisfied', () => {
    expect(parseRange('items=1-2', 100)).toBe('whole');
    expect(parseRange('bytes=0-1,5-6', 100)).toBe('whole');
    expect(parseRange('bytes=100-', 100)).toBeNull();
    expect(parseRange('bytes=20-10', 100)).toBeNull();
    expect(parseRange('bytes=-0', 100)).toBeNull();
  });
});

describe('serveBytes', () => {
  const body = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 256));

  it('serves the bytes and their ranges on loopback at one unguessable path, and closes', async () => {
    const served = await serveBytes(body);
    try {
      const url = new URL(served.url);
      expect(url.hostname).toBe('127.0.0.1');
      expect(url.pathname).toMatch(/^\/[0-9a-f]{32}$/);
      const whole = await fetch(served.url);
      expect(whole.status).toBe(200);
      expect(whole.headers.get('accept-ranges')).toBe('bytes');
      expect(Buffer.from(await whole.arrayBuffer())).toEqual(body);
      const part = await fetch(served.url, { headers: { Range: 'bytes=100-199' } });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe('bytes 100-199/1000');
      expect(Buffer.from(await part.arrayBuffer())).toEqual(body.subarray(100, 200));
      expect((await fetch(served.url, { headers: { Range: 'bytes=5000-' } })).status).toBe(416);
      expect((await fetch(`${url.origin}/other`)).status).toBe(404);
      expect((await fetch(served.url, { method: 'POST', body: 'x' })).status).toBe(405);
    } finally {
      served.close();
    }
    await expect(fetch(served.url)).rejects.toThrow();
  });
});
