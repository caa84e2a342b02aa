/** The onnx worker app: no HTTP server, only queue consumers for the ONNX models it serves. */
import { type DynamicModule, Module } from '@nestjs/common';
import { OnnxWorkerService } from './onnx-worker.service';
import { ONNX_WORKER_ENV, type OnnxWorkerEnv } from './worker-config';

@Module({ providers: [OnnxWorkerService] })
export class OnnxWorkerModule {
  /** The environment is validated once, in main, before Nest starts (a bad variable is one clear line). */
  static withEnv(env: OnnxWorkerEnv): DynamicModule {
    return { module: OnnxWorkerModule, providers: [{ provide: ONNX_WORKER_ENV, useValue: env }] };
  }
}
