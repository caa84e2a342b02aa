/** SSE framing on byte chunks cut at awkward places, without a server. */
import { readSseData } from './sse-reader';

async function* wire(parts: (string | Uint8Array)[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield typeof p === 'string' ? new TextEncoder().encode(p) : p;
}

async function collect(parts: (string | Uint8Array)[]): Promise<{ data: string[]; reads: number }> {
  let reads = 0;
  const data: string[] = [];
  for await (const d of readSseData(wire(parts), () => reads++)) data.push(d);
  return { data, reads };
}

describe('readSseData', () => {
  it('frames LF, CRLF and bare CR events, joins multi-line data and skips comments, ids and empty data', async () => {
    const { data, reads } = await collect([': ping\n\n', 'id: 1\nevent: x\ndata: a\n\n', 'data: b1\r\ndata: b2\r\n\r\n', 'data: c\r\rdata:\n\n', 'data: d']);
    // `d` never got its blank line: an incomplete event is not delivered.
    expect(data).toEqual(['a', 'b1\nb2', 'c']);
    expect(reads).toBe(5);
  });

  it('reassembles an event and a UTF-8 character split across reads', async () => {
    const bytes = new TextEncoder().encode('data: héllo\n\n');
    const cut = bytes.indexOf(0xc3) + 1;
    const { data } = await collect([bytes.slice(0, 3), bytes.slice(3, cut), bytes.slice(cut, -1), bytes.slice(-1)]);
    expect(data).toEqual(['héllo']);
  });

  it('stops reading the body when the consumer stops (the [DONE] marker)', async () => {
    let pulled = 0;
    async function* body(): AsyncGenerator<Uint8Array> {
      for (const p of ['data: 1\n\ndata: [DONE]\n\n', 'data: 2\n\n', 'data: 3\n\n']) {
        pulled++;
        yield new TextEncoder().encode(p);
      }
    }
    const seen: string[] = [];
    for await (const d of readSseData(body(), () => undefined)) {
      seen.push(d);
      if (d === '[DONE]') break;
    }
    expect(seen).toEqual(['1', '[DONE]']);
    expect(pulled).toBe(1);
  });
});
