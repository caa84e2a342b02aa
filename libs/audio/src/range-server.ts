/**
 * Serves one upload to a local ffmpeg over loopback HTTP with byte ranges, for the inputs ffmpeg
 * must seek in (an MP4 whose index, the moov box, comes after the samples, as ffmpeg and most
 * encoders write it): a pipe cannot seek, and the upload stays in memory instead of a temp file.
 * Only 127.0.0.1 and one random path answer, and the server lives for one decode.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ServedBytes {
  url: string;
  close(): void;
}

/** `bytes=a-b`, `bytes=a-` or `bytes=-n` against a body of `length` bytes; null when unsatisfiable. */
export function parseRange(header: string, length: number): { start: number; end: number } | null | 'whole' {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'whole';
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return null;
    return { start: Math.max(0, length - suffix), end: length - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? length - 1 : Math.min(Number(m[2]), length - 1);
  if (start >= length || end < start) return null;
  return { start, end };
}

function answer(bytes: Buffer, path: string, req: IncomingMessage, res: ServerResponse): void {
  // A reader that seeks away closes its connection mid-body; that is not an error worth a crash.
  res.on('error', () => undefined);
  if (req.url !== path) {
    res.writeHead(404).end();
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD' }).end();
    return;
  }
  const range = req.headers.range === undefined ? 'whole' : parseRange(req.headers.range, bytes.length);
  const body = req.method === 'HEAD' ? undefined : bytes;
  if (range === null) {
    res.writeHead(416, { 'Content-Range': `bytes */${bytes.length}` }).end();
  } else if (range === 'whole') {
    res.writeHead(200, { 'Content-Length': bytes.length, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream' }).end(body);
  } else {
    res
      .writeHead(206, {
        'Content-Length': range.end - range.start + 1,
        'Content-Range': `bytes ${range.start}-${range.end}/${bytes.length}`,
        'Accept-Ranges': 'bytes',
        'Content-Type': 'application/octet-stream',
      })
      .end(body?.subarray(range.start, range.end + 1));
  }
}

/** Starts a loopback server for `bytes`; `close()` drops it and every open connection. */
export function serveBytes(bytes: Buffer): Promise<ServedBytes> {
  const path = `/${randomBytes(16).toString('hex')}`;
  const server = createServer((req, res) => answer(bytes, path, req, res));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}${path}`,
        close: () => {
          server.close();
          server.closeAllConnections();
        },
      });
    });
  });
}
