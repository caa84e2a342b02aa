/** Task endpoints answered by one result: embeddings, moderations, rerank. */
import { Module } from '@nestjs/common';
import { EmbeddingsController } from './embeddings.controller';
import { ModerationsController } from './moderations.controller';
import { RerankController } from './rerank.controller';

@Module({ controllers: [EmbeddingsController, ModerationsController, RerankController] })
export class TasksModule {}
