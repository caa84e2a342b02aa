/** The Responses API: /v1/responses, stored responses and background runs. */
import { Module } from '@nestjs/common';
import { ResponseStore } from './response-store';
import { ResponsesController } from './responses.controller';
import { ResponsesService } from './responses.service';

@Module({ controllers: [ResponsesController], providers: [ResponsesService, ResponseStore] })
export class ResponsesModule {}
