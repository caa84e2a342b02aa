// Original file: libs/contracts/proto/runner.proto

import type { Long } from '@grpc/proto-loader';

export interface Ping {
  'at'?: (number | string | Long);
}

export interface Ping__Output {
  'at': (number);
}
