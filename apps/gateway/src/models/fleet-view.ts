/**
 * What the fleet can serve, model by model: the models file joined with worker heartbeats. Shared
 * by /v1/models and the admin API.
 */
import type OpenAI from 'openai';
import type { ModelDescriptor, WorkerHeartbeat } from '@switchyard/contracts';

export type FleetModelState = 'loaded' | 'loading' | 'available' | 'unavailable';

export interface FleetModel {
  descriptor: ModelDescriptor;
  state: FleetModelState;
  /** Per worker holding it; `load_progress` (0..1) and `load_stage` while it is loading there. */
  workers: Array<{ id: string; state: string; slots: number; busy: number; context_size: number; load_progress?: number; load_stage?: string }>;
}

export function fleetModels(models: readonly ModelDescriptor[], workers: WorkerHeartbeat[]): FleetModel[] {
  return models.map((descriptor) => {
    const held = workers.flatMap((w) =>
      w.models
        .filter((m) => m.name === descriptor.name)
        .map((m) => ({
          id: w.id,
          state: m.state,
          slots: m.slots,
          busy: m.busy,
          context_size: m.contextSize,
          ...(m.state === 'loading' && m.loadProgress !== undefined ? { load_progress: m.loadProgress, load_stage: m.loadStage } : {}),
        })),
    );
    const loadable = descriptor.autoLoad && workers.some((w) => w.servable.includes(descriptor.name));
    const state: FleetModelState = held.some((h) => h.state === 'ready')
      ? 'loaded'
      : held.some((h) => h.state === 'loading')
        ? 'loading'
        : loadable
          ? 'available'
          : 'unavailable';
    return { descriptor, state, workers: held };
  });
}

/** OpenAI's model object plus Switchyard's extras (clients ignore unknown fields). */
export type ModelObject = OpenAI.Model & { state: FleetModelState; backend: string; context_length: number; aliases: readonly string[] };

export function toOpenAIModel(m: FleetModel, id = m.descriptor.name): ModelObject {
  const d = m.descriptor;
  const ready = m.workers.find((w) => w.state === 'ready');
  return {
    id,
    object: 'model',
    created: d.created,
    owned_by: d.ownedBy,
    state: m.state,
    backend: d.backend,
    context_length: ready?.context_size ?? d.contextSize,
    aliases: d.aliases,
  };
}
