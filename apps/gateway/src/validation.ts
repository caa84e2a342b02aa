/**
 * Request validation: class-validator DTOs, with failures reported the way OpenAI reports them (400,
 * `param` naming the offending field, e.g. `messages[0].role`). Unknown fields are stripped, not rejected.
 */
import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { registerDecorator, type ValidationArguments, type ValidationOptions } from 'class-validator';
import { OpenAIError } from './openai-error';

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

export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    transform: true,
    whitelist: true,
    forbidNonWhitelisted: false,
    // OpenAI rejects "0.5" for a number: no implicit conversion.
    transformOptions: { enableImplicitConversion: false },
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

export const isString = (v: unknown): v is string => typeof v === 'string';
export const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);
export const isTokenArray = (v: unknown): v is number[] =>
  Array.isArray(v) && v.length > 0 && v.every((t) => Number.isInteger(t) && (t as number) >= 0);
