/** The messages between a DiffusionRunner and its pipeline thread (structured-cloned). */
import type { GenerateOutput, GenerateRequest, PipelineOptions } from './pipeline';
import type { RgbImage } from './pixels';
import type { SchedulerName } from './schedulers';

export type ToThread =
  | { type: 'load'; dir: string; options: PipelineOptions }
  /** `cancel`: an Int32Array's buffer; a non-zero first element stops the request between steps. */
  | { type: 'generate'; id: number; request: GenerateRequest; cancel: SharedArrayBuffer }
  | { type: 'dispose' };

export type FromThread =
  | { type: 'loaded'; canEdit: boolean; scheduler: SchedulerName }
  | { type: 'load-error'; message: string }
  | { type: 'step'; id: number; step: number; steps: number }
  | { type: 'preview'; id: number; image: RgbImage; partial: number }
  | { type: 'done'; id: number; output: GenerateOutput }
  | { type: 'error'; id: number; message: string; aborted: boolean }
  | { type: 'disposed' };
