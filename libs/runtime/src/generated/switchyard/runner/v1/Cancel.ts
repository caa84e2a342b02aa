// Original file: libs/contracts/proto/runner.proto


export interface Cancel {
  'job_id'?: (string);
}

export interface Cancel__Output {
  'job_id': (string);
}
