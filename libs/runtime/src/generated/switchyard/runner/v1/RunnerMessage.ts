// Original file: libs/contracts/proto/runner.proto

import type { Hello as _switchyard_runner_v1_Hello, Hello__Output as _switchyard_runner_v1_Hello__Output } from '../../../switchyard/runner/v1/Hello';
import type { JobEvent as _switchyard_runner_v1_JobEvent, JobEvent__Output as _switchyard_runner_v1_JobEvent__Output } from '../../../switchyard/runner/v1/JobEvent';
import type { Ping as _switchyard_runner_v1_Ping, Ping__Output as _switchyard_runner_v1_Ping__Output } from '../../../switchyard/runner/v1/Ping';

export interface RunnerMessage {
  'hello'?: (_switchyard_runner_v1_Hello | null);
  'event'?: (_switchyard_runner_v1_JobEvent | null);
  'ping'?: (_switchyard_runner_v1_Ping | null);
  'kind'?: "hello"|"event"|"ping";
}

export interface RunnerMessage__Output {
  'hello'?: (_switchyard_runner_v1_Hello__Output | null);
  'event'?: (_switchyard_runner_v1_JobEvent__Output | null);
  'ping'?: (_switchyard_runner_v1_Ping__Output | null);
  'kind'?: "hello"|"event"|"ping";
}
