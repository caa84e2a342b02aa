/** GET /v1/models and /v1/models/{id}: the models file joined with the live fleet. */
import { Module } from '@nestjs/common';
import { ModelsController } from './models.controller';

@Module({ controllers: [ModelsController] })
export class ModelsModule {}
