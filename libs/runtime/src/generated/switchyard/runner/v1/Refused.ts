// Original file: libs/contracts/proto/runner.proto


export interface Refused {
  /**
   * "unauthenticated", "invalid_hello", "model_conflict"
   */
  'code'?: (string);
  'message'?: (string);
}

export interface Refused__Output {
  /**
   * "unauthenticated", "invalid_hello", "model_conflict"
   */
  'code': (string);
  'message': (string);
}
