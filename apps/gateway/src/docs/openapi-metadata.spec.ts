/**
 * openapi-metadata.ts is generated from the DTOs and controllers; a change to either without
 * `npm run gen:openapi` would serve a document that no longer matches the API.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { METADATA_FILE, renderOpenApiMetadata } from '../../../../tools/gen-openapi-metadata';

const ROOT = resolve(__dirname, '../../../..');

jest.setTimeout(60_000);

describe('openapi-metadata.ts', () => {
  it('is what the generator writes for the current sources (run `npm run gen:openapi` when this fails)', () => {
    const fresh = renderOpenApiMetadata(ROOT);
    expect(fresh).toContain('CreateChatCompletionDto');
    // Not toBe: the file is one long line, and a diff of it says nothing the message does not.
    if (readFileSync(resolve(ROOT, METADATA_FILE), 'utf8') !== fresh) {
      throw new Error(`${METADATA_FILE} is stale: a DTO or controller changed. Run \`npm run gen:openapi\` and commit the result.`);
    }
  });
});
