/** A request the engine rejects before generating: the client's 400, as every worker's Rejection. */
import { Rejection } from '@switchyard/runtime';

export class GenerationRejected extends Rejection {
  constructor(message: string, code: string, param: string | null) {
    super({ message, code, param, status: 400 });
  }
}
