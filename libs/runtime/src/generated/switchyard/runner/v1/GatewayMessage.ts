// Original file: libs/contracts/proto/runner.proto

import type { Welcome as _switchyard_runner_v1_Welcome, Welcome__Output as _switchyard_runner_v1_Welcome__Output } from '../../../switchyard/runner/v1/Welcome';
import type { Refused as _switchyard_runner_v1_Refused, Refused__Output as _switchyard_runner_v1_Refused__Output } from '../../../switchyard/runner/v1/Refused';
import type { Job as _switchyard_runner_v1_Job, Job__Output as _switchyard_runner_v1_Job__Output } from '../../../switchyard/runner/v1/Job';
import type { Cancel as _switchyard_runner_v1_Cancel, Cancel__Output as _switchyard_runner_v1_Cancel__Output } from '../../../switchyard/runner/v1/Cancel';
import type { Ping as _switchyard_runner_v1_Ping, Ping__Output as _switchyard_runner_v1_Ping__Output } from '../../../switchyard/runner/v1/Ping';

export interface GatewayMessage {
  'welcome'?: (_switchyard_runner_v1_Welcome | null);
  'refused'?: (_switchyard_runner_v1_Refused | null);
  'job'?: (_switchyard_runner_v1_Job | null);
  'cancel'?: (_switchyard_runner_v1_Cancel | null);
  'pong'?: (_switchyard_runner_v1_Ping | null);
  'kind'?: "welcome"|"refused"|"job"|"cancel"|"pong";
}

export interface GatewayMessage__Output {
  'welcome'?: (_switchyard_runner_v1_Welcome__Output | null);
  'refused'?: (_switchyard_runner_v1_Refused__Output | null);
  'job'?: (_switchyard_runner_v1_Job__Output | null);
  'cancel'?: (_switchyard_runner_v1_Cancel__Output | null);
  'pong'?: (_switchyard_runner_v1_Ping__Output | null);
  'kind'?: "welcome"|"refused"|"job"|"cancel"|"pong";
}
