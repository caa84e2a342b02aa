/**
 * The runner protocol (libs/contracts/proto/runner.proto) loaded for @grpc/grpc-js, and the message
 * shapes as the loader decodes them (field names as in the proto; `kind` names the oneof member set).
 * Gateway and runner load it the same way.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { runnerProtoPath } from '@switchyard/contracts';

export interface RunnerModelSpec {
  name: string;
  format: string;
  parallel: number;
  context_size: number;
}

/** Decoded messages name the oneof member set in `kind`; messages being sent need not. */
export type RunnerMessage =
  | { kind: 'hello'; hello: { token: string; runner_name: string; models: RunnerModelSpec[]; version: string } }
  | { kind: 'event'; event: { job_id: string; event_json: string } }
  | { kind: 'ping'; ping: { at: number } };

export type GatewayMessage =
  | { kind: 'welcome'; welcome: { runner_id: string; models: string[] } }
  | { kind: 'refused'; refused: { code: string; message: string } }
  | { kind: 'job'; job: { job_id: string; model: string; data_json: string } }
  | { kind: 'cancel'; cancel: { job_id: string } }
  | { kind: 'pong'; pong: { at: number } };

export type RunnerServerStream = grpc.ServerDuplexStream<RunnerMessage, GatewayMessage>;
export type RunnerClientStream = grpc.ClientDuplexStream<RunnerMessage, GatewayMessage>;

export interface RunnerGatewayClient extends grpc.Client {
  Connect(metadata?: grpc.Metadata, options?: grpc.CallOptions): RunnerClientStream;
}

interface RunnerPackage {
  switchyard: { runner: { v1: { RunnerGateway: grpc.ServiceClientConstructor } } };
}

/** Sent every this often by both sides' HTTP/2 keepalive, and by the runner as an application ping. */
export const RUNNER_KEEPALIVE_MS = 10_000;
/** A runner silent for this long is dropped. */
export const RUNNER_SILENCE_LIMIT_MS = 35_000;

export const RUNNER_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.keepalive_time_ms': RUNNER_KEEPALIVE_MS,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_time_between_pings_ms': 5_000,
  'grpc.http2.max_pings_without_data': 0,
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
  'grpc.max_send_message_length': 64 * 1024 * 1024,
};

let loaded: grpc.ServiceClientConstructor | undefined;

export function runnerService(): grpc.ServiceClientConstructor {
  if (!loaded) {
    const def = protoLoader.loadSync(runnerProtoPath(), { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
    loaded = (grpc.loadPackageDefinition(def) as unknown as RunnerPackage).switchyard.runner.v1.RunnerGateway;
  }
  return loaded;
}
