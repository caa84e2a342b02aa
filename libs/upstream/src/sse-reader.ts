/**
 * Server-sent events framing of an upstream's streamed response, by eventsource-parser: CR, LF and
 * CRLF line ends in any mix, events split across network reads, comments and `event:`/`id:` lines.
 * Only each event's data matters to an OpenAI-style stream, so that is all this yields.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';

/**
 * The data of each event, in order. `onRead` is called on every network read (keep-alive comments
 * included), so an idle timer measures silence on the wire rather than time between events.
 * Breaking out of the loop stops reading the body.
 */
export async function* readSseData(body: AsyncIterable<Uint8Array>, onRead: () => void): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  const ready: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => ready.push(event) });
  for await (const bytes of body) {
    onRead();
    parser.feed(decoder.decode(bytes, { stream: true }));
    for (const { data } of ready.splice(0)) {
      // A bare `data:` line carries nothing to translate (and is not JSON).
      if (data.length > 0) yield data;
    }
  }
}
