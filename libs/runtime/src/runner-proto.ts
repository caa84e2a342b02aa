/**
 * The runner protocol (libs/contracts/proto/runner.proto) loaded for @grpc/grpc-js, and the message
 * shapes as the loader decodes them, from the types `npm run gen:proto` generates into ./generated
 * (field names as in the proto; `kind` names the oneof member set). Gateway and runner load it the
 * same way.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { runnerProtoPath } from '@switchyard/contracts';
import type { ProtoGrpcType } from './generated/runner';
import type { GatewayMessage__Output } from './generated/switchyard/runner/v1/GatewayMessage';
import type { ModelSpec__Output } from './generated/switchyard/runner/v1/ModelSpec';
import type { RunnerMessage__Output } from './generated/switchyard/runner/v1/RunnerMessage';

/**
 * A oneof message as the code handles it: exactly one member set, named by `kind` (the loader's
 * `oneofs: true`). The generated types make every member optional; this narrows them by `kind`.
 */
type OneOf<M, K extends keyof M & string> = { [P in K]: { kind: P } & { [Q in P]: NonNullable<M[Q]> } }[K];

export type RunnerModelSpec = ModelSpec__Output;

/** Runner → gateway, as decoded (messages being sent need not set `kind`). */
export type RunnerMessage = OneOf<RunnerMessage__Output, 'hello' | 'event' | 'ping'>;
/** Gateway → runner, as decoded. */
export type GatewayMessage = OneOf<GatewayMessage__Output, 'welcome' | 'refused' | 'job' | 'cancel' | 'pong'>;

export type RunnerServerStream = grpc.ServerDuplexStream<RunnerMessage, GatewayMessage>;
export type RunnerClientStream = grpc.ClientDuplexStream<RunnerMessage, GatewayMessage>;

export interface RunnerGatewayClient extends grpc.Client {
  Connect(metadata?: grpc.Metadata, options?: grpc.CallOptions): RunnerClientStream;
}

/** A runner turned away (the protocol's `Refused`: bad token, bad hello, name conflict), on either side. */
export class RunnerRefused extends Error {
  constructor(
    /** "unauthenticated", "invalid_hello", "model_conflict" */
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
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

/** The service's client constructor and definition, as generated from the proto. */
export type RunnerGatewayService = ProtoGrpcType['switchyard']['runner']['v1']['RunnerGateway'];

let loaded: RunnerGatewayService | undefined;

export function runnerService(): RunnerGatewayService {
  if (!loaded) {
    const def = protoLoader.loadSync(runnerProtoPath(), { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
    loaded = (grpc.loadPackageDefinition(def) as unknown as ProtoGrpcType).switchyard.runner.v1.RunnerGateway;
  }
  return loaded;
}
