/** A request the worker rejects before generating (maps to a 4xx). */
export class GenerationRejected extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly param: string | null,
  ) {
    super(message);
  }
}
