/** Chat completions and completions: DTOs, job building (local and pass-through), OpenAI's chunks and SSE. */
import { Module } from '@nestjs/common';
import { ChatCompletionsController } from './chat-completions.controller';
import { CompletionsController } from './completions.controller';
import { GenerationEndpoint } from './generation-endpoint';

@Module({ controllers: [ChatCompletionsController, CompletionsController], providers: [GenerationEndpoint] })
export class ChatModule {}
