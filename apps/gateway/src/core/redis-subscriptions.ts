/**
 * Channel subscriptions on the gateway's one subscriber connection: job events and control replies.
 * `listen` resolves once Redis has confirmed the subscription, so a message published after it
 * cannot be missed.
 */
import { Injectable } from '@nestjs/common';
import { RedisConnections } from './redis-connections';

export type Unlisten = () => Promise<void>;

@Injectable()
export class RedisSubscriptions {
  private readonly handlers = new Map<string, (message: string) => void>();

  constructor(private readonly connections: RedisConnections) {
    connections.subscriber.on('message', (channel: string, message: string) => this.handlers.get(channel)?.(message));
  }

  async listen(channel: string, onMessage: (message: string) => void): Promise<Unlisten> {
    this.handlers.set(channel, onMessage);
    try {
      await this.connections.subscriber.subscribe(channel);
    } catch (err) {
      this.handlers.delete(channel);
      throw err;
    }
    return async () => {
      if (!this.handlers.delete(channel)) return;
      await this.connections.subscriber.unsubscribe(channel);
    };
  }
}
