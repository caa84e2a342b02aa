/**
 * Request validation: class-validator DTOs, with failures reported the way OpenAI reports them (400,
 * `param` naming the offending field, e.g. `messages[0].role`). Unknown fields are stripped, not rejected.
 * Bodies become DTO instances through a small transformer of our own (see `plainToDto`), linear in
 * the size of the body.
 */
import { ValidationPipe, type ValidationError } from '@nestjs/common';
import type { TransformerPackage } from '@nestjs/common/interfaces/external/transformer-package.interface';
import { instanceToPlain } from 'class-transformer';
import { registerDecorator, ValidateNested, validateSync, type ValidationArguments, type ValidationOptions } from 'class-validator';
import { OpenAIError } from './openai-error';

type DtoClass = new () => object;

/** For each DTO class, its properties that hold another DTO (or an array of them). */
const NESTED = new Map<object, Map<string, () => DtoClass>>();

/** A property holding a nested DTO (`each`: an array of them): validated and built as that class. */
export function Nested(type: () => DtoClass, options?: { each?: boolean }): PropertyDecorator {
  const validate = ValidateNested(options);
  return (target: object, propertyName: string | symbol) => {
    validate(target, propertyName);
    const fields = NESTED.get(target.constructor) ?? new Map<string, () => DtoClass>();
    fields.set(propertyName as string, type);
    NESTED.set(target.constructor, fields);
  };
}

function nestedType(cls: object, key: string): (() => DtoClass) | undefined {
  for (let c: unknown = cls; typeof c === 'function' && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
    const t = NESTED.get(c)?.get(key);
    if (t) return t;
  }
  return undefined;
}

/**
 * Builds the DTO instance for a parsed body. class-transformer's plainToInstance copies every object it
 * meets key by key and dedupes each object's keys with `indexOf` inside `filter`: quadratic in the key
 * count, so a `logit_bias` or an unknown `metadata` with 100k keys froze the event loop for seconds
 * (and its recursion overflowed the stack on deep JSON). Here only the properties declared `@Nested`
 * become instances; every other value (JSON-typed fields such as `logit_bias`, `tools`, unknown fields
 * that the whitelist then strips) is carried over as parsed, untouched.
 */
export function plainToDto(cls: DtoClass, plain: unknown): unknown {
  if (!isJsonObject(plain)) return plain;
  const instance = new cls() as Record<string, unknown>;
  for (const [key, value] of Object.entries(plain)) {
    const type = nestedType(cls, key);
    if (!type) instance[key] = value;
    else if (Array.isArray(value)) instance[key] = value.map((item) => plainToDto(type(), item));
    else instance[key] = plainToDto(type(), value);
  }
  return instance;
}

const transformer: TransformerPackage = {
  plainToInstance: <T>(cls: new () => T, plain: unknown) => plainToDto(cls as DtoClass, plain) as T,
  classToPlain: (object: unknown) => instanceToPlain(object) as Record<string, unknown>,
};

const TYPE_NAMES: Record<string, string> = {
  isNumber: 'a number',
  isInt: 'an integer',
  isBoolean: 'a boolean',
  isString: 'a string',
  isObject: 'an object',
  isArray: 'an array',
};

function firstError(errors: ValidationError[], path = ''): { param: string; message: string } | undefined {
  for (const e of errors) {
    const key = /^\d+$/.test(e.property) ? `${path}[${e.property}]` : path ? `${path}.${e.property}` : e.property;
    if (e.constraints && Object.keys(e.constraints).length > 0) {
      // A wrong type explains itself better than the range checks that also failed on it.
      const typeCheck = Object.keys(e.constraints).find((c) => c in TYPE_NAMES);
      const message = typeCheck
        ? `expected ${TYPE_NAMES[typeCheck]}, but got ${describe(e.value)}`
        : Object.values(e.constraints)[0];
      return { param: key, message };
    }
    const nested = firstError(e.children ?? [], key);
    if (nested) return nested;
  }
  return undefined;
}

/**
 * Checks a body that did not come through the pipe (multipart fields, already given their JSON
 * types) against a DTO, with the pipe's whitelist and its error; returns the instance.
 */
export function validateDto<T extends object>(cls: new () => T, plain: Record<string, unknown>): T {
  const instance = plainToDto(cls as DtoClass, plain) as T;
  const errors = validateSync(instance, { whitelist: true, forbidNonWhitelisted: false, validationError: { target: false, value: true } });
  const first = firstError(errors);
  if (first) throw OpenAIError.badRequest(`Invalid '${first.param}': ${first.message}.`, first.param, 'invalid_value');
  return instance;
}

export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    transform: true,
    whitelist: true,
    forbidNonWhitelisted: false,
    // Converts nothing (OpenAI rejects "0.5" for a number), builds only the declared nested DTOs.
    transformerPackage: transformer,
    validationError: { target: false, value: true },
    exceptionFactory: (errors) => {
      const first = firstError(errors);
      if (!first) return OpenAIError.badRequest('Invalid request body.');
      return OpenAIError.badRequest(`Invalid '${first.param}': ${first.message}.`, first.param, 'invalid_value');
    },
  });
}

/** Passes when the value is one of the given JSON types (or several, for union-typed fields). */
export function IsJsonType(
  check: (value: unknown) => boolean,
  expected: string,
  options?: ValidationOptions,
): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    registerDecorator({
      name: 'isJsonType',
      target: target.constructor,
      propertyName: propertyName as string,
      options,
      validator: {
        validate: (value: unknown) => check(value),
        defaultMessage: (args: ValidationArguments) => `expected ${expected}, but got ${describe(args.value)}`,
      },
    });
  };
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

export const isJsonObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const isString = (v: unknown): v is string => typeof v === 'string';
export const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);
export const isTokenArray = (v: unknown): v is number[] =>
  Array.isArray(v) && v.length > 0 && v.every((t) => Number.isInteger(t) && (t as number) >= 0);
