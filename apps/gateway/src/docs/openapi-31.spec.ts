/** The 3.0 → 3.1 schema step: nullable becomes a null type, refs and enums keep their meaning. */
import type { OpenAPIObject } from '@nestjs/swagger';
import { schema31, toOpenApi31 } from './openapi-31';

describe('schema31', () => {
  it('turns nullable into 3.1 null types', () => {
    expect(schema31({ type: 'string', nullable: true })).toEqual({ type: ['string', 'null'] });
    expect(schema31({ type: ['string', 'null'], nullable: true })).toEqual({ type: ['string', 'null'] });
    expect(schema31({ type: 'string', enum: ['a'], nullable: true })).toEqual({ type: ['string', 'null'], enum: ['a', null] });
    expect(schema31({ type: 'object', nullable: true, allOf: [{ $ref: '#/x' }] })).toEqual({ anyOf: [{ $ref: '#/x' }, { type: 'null' }] });
    expect(schema31({ oneOf: [{ type: 'string' }], nullable: true, description: 'd' })).toEqual({ description: 'd', anyOf: [{ oneOf: [{ type: 'string' }] }, { type: 'null' }] });
    expect(schema31({ type: 'string', nullable: false })).toEqual({ type: 'string' });
  });

  it('reaches nested schemas but not property names', () => {
    const out = schema31({ type: 'object', properties: { nullable: { type: 'integer', nullable: true }, a: { type: 'array', items: { type: 'number', nullable: true } } } });
    expect(out).toEqual({ type: 'object', properties: { nullable: { type: ['integer', 'null'] }, a: { type: 'array', items: { type: ['number', 'null'] } } } });
  });

  it('makes 3.0 boolean exclusive bounds numbers and example a list', () => {
    expect(schema31({ type: 'number', minimum: 0, exclusiveMinimum: true, example: 1 })).toEqual({ type: 'number', exclusiveMinimum: 0, examples: [1] });
  });
});

describe('toOpenApi31', () => {
  it('gives alias paths unique operationIds and every operation the error response', () => {
    const doc = {
      openapi: '3.0.0',
      info: { title: 't', version: '1' },
      paths: { '/a': { post: { operationId: 'rerank', responses: {} } }, '/v1/a': { post: { operationId: 'rerank', responses: {} } } },
    } as unknown as OpenAPIObject;
    const out = toOpenApi31(doc, { Error: { type: 'object' } }) as unknown as { openapi: string; paths: Record<string, { post: { operationId: string; responses: Record<string, unknown> } }> };
    expect(out.openapi).toBe('3.1.0');
    expect(out.paths['/a'].post.operationId).toBe('rerank');
    expect(out.paths['/v1/a'].post.operationId).toBe('rerank_v1_a');
    expect(Object.keys(out.paths['/a'].post.responses)).toEqual(['default']);
  });
});
