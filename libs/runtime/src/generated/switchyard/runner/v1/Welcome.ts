// Original file: libs/contracts/proto/runner.proto


export interface Welcome {
  'runner_id'?: (string);
  'models'?: (string)[];
}

export interface Welcome__Output {
  'runner_id': (string);
  'models': (string)[];
}
