// Original file: libs/contracts/proto/runner.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { GatewayMessage as _switchyard_runner_v1_GatewayMessage, GatewayMessage__Output as _switchyard_runner_v1_GatewayMessage__Output } from '../../../switchyard/runner/v1/GatewayMessage';
import type { RunnerMessage as _switchyard_runner_v1_RunnerMessage, RunnerMessage__Output as _switchyard_runner_v1_RunnerMessage__Output } from '../../../switchyard/runner/v1/RunnerMessage';

export interface RunnerGatewayClient extends grpc.Client {
  Connect(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_switchyard_runner_v1_RunnerMessage, _switchyard_runner_v1_GatewayMessage__Output>;
  Connect(options?: grpc.CallOptions): grpc.ClientDuplexStream<_switchyard_runner_v1_RunnerMessage, _switchyard_runner_v1_GatewayMessage__Output>;
  connect(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_switchyard_runner_v1_RunnerMessage, _switchyard_runner_v1_GatewayMessage__Output>;
  connect(options?: grpc.CallOptions): grpc.ClientDuplexStream<_switchyard_runner_v1_RunnerMessage, _switchyard_runner_v1_GatewayMessage__Output>;
  
}

export interface RunnerGatewayHandlers extends grpc.UntypedServiceImplementation {
  Connect: grpc.handleBidiStreamingCall<_switchyard_runner_v1_RunnerMessage__Output, _switchyard_runner_v1_GatewayMessage>;
  
}

export interface RunnerGatewayDefinition extends grpc.ServiceDefinition {
  Connect: MethodDefinition<_switchyard_runner_v1_RunnerMessage, _switchyard_runner_v1_GatewayMessage, _switchyard_runner_v1_RunnerMessage__Output, _switchyard_runner_v1_GatewayMessage__Output>
}
