// Original file: libs/contracts/proto/runner.proto


export interface Job {
  'job_id'?: (string);
  'model'?: (string);
  /**
   * contracts' LlmJobData or UpstreamJobData, as JSON.
   */
  'data_json'?: (string);
}

export interface Job__Output {
  'job_id': (string);
  'model': (string);
  /**
   * contracts' LlmJobData or UpstreamJobData, as JSON.
   */
  'data_json': (string);
}
