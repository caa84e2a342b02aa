/** The gRPC port remote runners dial, and the queues the gateway consumes on their behalf. */
import { Module } from '@nestjs/common';
import { RunnerGatewayService } from './runner-gateway.service';

@Module({ providers: [RunnerGatewayService] })
export class RunnerBridgeModule {}
