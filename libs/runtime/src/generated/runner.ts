import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Cancel as _switchyard_runner_v1_Cancel, Cancel__Output as _switchyard_runner_v1_Cancel__Output } from './switchyard/runner/v1/Cancel';
import type { GatewayMessage as _switchyard_runner_v1_GatewayMessage, GatewayMessage__Output as _switchyard_runner_v1_GatewayMessage__Output } from './switchyard/runner/v1/GatewayMessage';
import type { Hello as _switchyard_runner_v1_Hello, Hello__Output as _switchyard_runner_v1_Hello__Output } from './switchyard/runner/v1/Hello';
import type { Job as _switchyard_runner_v1_Job, Job__Output as _switchyard_runner_v1_Job__Output } from './switchyard/runner/v1/Job';
import type { JobEvent as _switchyard_runner_v1_JobEvent, JobEvent__Output as _switchyard_runner_v1_JobEvent__Output } from './switchyard/runner/v1/JobEvent';
import type { ModelSpec as _switchyard_runner_v1_ModelSpec, ModelSpec__Output as _switchyard_runner_v1_ModelSpec__Output } from './switchyard/runner/v1/ModelSpec';
import type { Ping as _switchyard_runner_v1_Ping, Ping__Output as _switchyard_runner_v1_Ping__Output } from './switchyard/runner/v1/Ping';
import type { Refused as _switchyard_runner_v1_Refused, Refused__Output as _switchyard_runner_v1_Refused__Output } from './switchyard/runner/v1/Refused';
import type { RunnerGatewayClient as _switchyard_runner_v1_RunnerGatewayClient, RunnerGatewayDefinition as _switchyard_runner_v1_RunnerGatewayDefinition } from './switchyard/runner/v1/RunnerGateway';
import type { RunnerMessage as _switchyard_runner_v1_RunnerMessage, RunnerMessage__Output as _switchyard_runner_v1_RunnerMessage__Output } from './switchyard/runner/v1/RunnerMessage';
import type { Welcome as _switchyard_runner_v1_Welcome, Welcome__Output as _switchyard_runner_v1_Welcome__Output } from './switchyard/runner/v1/Welcome';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  switchyard: {
    runner: {
      v1: {
        Cancel: MessageTypeDefinition<_switchyard_runner_v1_Cancel, _switchyard_runner_v1_Cancel__Output>
        GatewayMessage: MessageTypeDefinition<_switchyard_runner_v1_GatewayMessage, _switchyard_runner_v1_GatewayMessage__Output>
        Hello: MessageTypeDefinition<_switchyard_runner_v1_Hello, _switchyard_runner_v1_Hello__Output>
        Job: MessageTypeDefinition<_switchyard_runner_v1_Job, _switchyard_runner_v1_Job__Output>
        JobEvent: MessageTypeDefinition<_switchyard_runner_v1_JobEvent, _switchyard_runner_v1_JobEvent__Output>
        ModelSpec: MessageTypeDefinition<_switchyard_runner_v1_ModelSpec, _switchyard_runner_v1_ModelSpec__Output>
        Ping: MessageTypeDefinition<_switchyard_runner_v1_Ping, _switchyard_runner_v1_Ping__Output>
        Refused: MessageTypeDefinition<_switchyard_runner_v1_Refused, _switchyard_runner_v1_Refused__Output>
        RunnerGateway: SubtypeConstructor<typeof grpc.Client, _switchyard_runner_v1_RunnerGatewayClient> & { service: _switchyard_runner_v1_RunnerGatewayDefinition }
        RunnerMessage: MessageTypeDefinition<_switchyard_runner_v1_RunnerMessage, _switchyard_runner_v1_RunnerMessage__Output>
        Welcome: MessageTypeDefinition<_switchyard_runner_v1_Welcome, _switchyard_runner_v1_Welcome__Output>
      }
    }
  }
}

