/** The output side of a generation: generated text pieces → backend-neutral deltas for the sink. */
import type { ToolCallDelta, TokenLogprob } from '@switchyard/contracts';
import type { GenerationSink, OutputDelta, OutputPlan } from '../output-plan';
import { StopDetector } from '../stop-detector';
import { ReasoningSplitter } from './reasoning';
import { JsonToolCallStream, NativeToolCallStream, ToolCallDetector, type ToolCallSyntax } from './tool-calls';

/**
 * Turns generated text into deltas: stop strings, then reasoning vs answer, then tool calls (forced
 * JSON, or a call in the template's syntax that the model starts on its own).
 */
export class OutputShaper {
  private readonly stop: StopDetector | undefined;
  private readonly reasoning: ReasoningSplitter | undefined;
  private readonly forced: JsonToolCallStream | undefined;
  private readonly detector: ToolCallDetector | undefined;
  private native: NativeToolCallStream | undefined;
  private pendingLogprobs: TokenLogprob[] = [];
  /** Set when a call in the template's syntax has begun: the text that followed its prefix. */
  detectedAfter: string | undefined;
  toolCalls = 0;
  stopped = false;

  constructor(
    private readonly plan: OutputPlan,
    stops: string[],
    private readonly sink: GenerationSink,
  ) {
    if (plan.forcedTools) this.forced = new JsonToolCallStream();
    else {
      if (stops.length > 0) this.stop = new StopDetector(stops);
      if (plan.reasoning) this.reasoning = new ReasoningSplitter(plan.reasoning.markers, plan.reasoning.startInside);
      if (plan.autoTools) this.detector = new ToolCallDetector(plan.autoTools.syntax.prefixes);
    }
  }

  get inReasoning(): boolean {
    return this.reasoning?.inReasoning ?? false;
  }

  logprob(entry: TokenLogprob): void {
    this.pendingLogprobs.push(entry);
  }

  /** Switches to streaming one call in the template's syntax (after its prefix was seen). */
  beginNativeCall(syntax: ToolCallSyntax): void {
    this.native = new NativeToolCallStream(syntax, this.toolCalls);
    this.toolCalls++;
    const after = this.detectedAfter ?? '';
    this.detectedAfter = undefined;
    if (after.length > 0) this.emitCalls(this.native.push(after));
  }

  /** The template-syntax call could not continue: its text is plain answer text after all. */
  abandonNativeCall(prefixText: string): void {
    const after = this.detectedAfter ?? '';
    this.detectedAfter = undefined;
    this.emit({ text: prefixText + after });
  }

  push(piece: string): void {
    if (this.forced) {
      const calls = this.forced.push(piece);
      this.toolCalls = this.forced.count;
      this.emitCalls(calls);
      return;
    }
    if (this.native) {
      this.emitCalls(this.native.push(piece));
      return;
    }
    let text = piece;
    if (this.stop) {
      const r = this.stop.push(text);
      text = r.emit;
      if (r.stopped) this.stopped = true;
    }
    this.route(text);
  }

  private route(text: string): void {
    let content = text;
    let reasoning = '';
    if (this.reasoning) {
      const split = this.reasoning.push(text);
      content = split.content;
      reasoning = split.reasoning;
    }
    if (this.detector && content.length > 0) {
      const r = this.detector.push(content);
      content = r.content;
      if (this.detector.detected && this.detectedAfter === undefined) this.detectedAfter = r.after;
    }
    this.emit({ text: content, ...(reasoning ? { reasoning } : {}) });
  }

  private emitCalls(calls: ToolCallDelta[]): void {
    this.emit({ text: '', ...(calls.length > 0 ? { toolCalls: calls } : {}) });
  }

  private emit(delta: OutputDelta): void {
    if (delta.text.length === 0 && !delta.reasoning && !delta.toolCalls?.length) return;
    if (this.pendingLogprobs.length > 0) {
      delta.logprobs = this.pendingLogprobs;
      this.pendingLogprobs = [];
    }
    this.sink.delta(delta);
  }

  /** End of output: release what was held back as possible stop or marker text. */
  flush(): void {
    if (!this.forced && !this.native && !this.stopped) {
      const rest = this.stop?.flush() ?? '';
      let content = rest;
      let reasoning = '';
      if (this.reasoning) {
        const a = this.reasoning.push(rest);
        const b = this.reasoning.flush();
        content = a.content + b.content;
        reasoning = a.reasoning + b.reasoning;
      }
      if (this.detector) content = this.detector.push(content).content + this.detector.flush();
      this.emit({ text: content, ...(reasoning ? { reasoning } : {}) });
    }
    if (this.pendingLogprobs.length > 0) this.sink.delta({ text: '', logprobs: this.pendingLogprobs });
    this.pendingLogprobs = [];
  }
}
