/**
 * Control-channel answers for workers whose models cannot be loaded or unloaded on command (the
 * upstream worker, remote runners): a load is already done, an unload is refused with a reason, so
 * the admin API answers at once instead of waiting for its timeout.
 */
import type { ControlCommand, ControlReply } from '@switchyard/contracts';

export function fixedModelsReply(raw: string, serves: (model: string) => boolean, why: (model: string) => string): ControlReply | undefined {
  let cmd: ControlCommand;
  try {
    cmd = JSON.parse(raw) as ControlCommand;
  } catch {
    return undefined;
  }
  if (typeof cmd.requestId !== 'string') return undefined;
  if (!serves(cmd.model)) return { requestId: cmd.requestId, ok: false, model: cmd.model, status: 404, code: 'model_not_found', message: `This worker does not serve '${cmd.model}'.` };
  if (cmd.op === 'load') return { requestId: cmd.requestId, ok: true, model: cmd.model, ms: 0 };
  return { requestId: cmd.requestId, ok: false, model: cmd.model, status: 400, code: 'not_unloadable', message: why(cmd.model) };
}
