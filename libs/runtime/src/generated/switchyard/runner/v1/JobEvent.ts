// Original file: libs/contracts/proto/runner.proto


export interface JobEvent {
  'job_id'?: (string);
  /**
   * One event of contracts' JobEvent without seq, as JSON.
   */
  'event_json'?: (string);
}

export interface JobEvent__Output {
  'job_id': (string);
  /**
   * One event of contracts' JobEvent without seq, as JSON.
   */
  'event_json': (string);
}
