// Original file: libs/contracts/proto/runner.proto

import type { ModelSpec as _switchyard_runner_v1_ModelSpec, ModelSpec__Output as _switchyard_runner_v1_ModelSpec__Output } from '../../../switchyard/runner/v1/ModelSpec';

export interface Hello {
  'token'?: (string);
  'runner_name'?: (string);
  'models'?: (_switchyard_runner_v1_ModelSpec)[];
  'version'?: (string);
}

export interface Hello__Output {
  'token': (string);
  'runner_name': (string);
  'models': (_switchyard_runner_v1_ModelSpec__Output)[];
  'version': (string);
}
