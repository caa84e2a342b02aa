/**
 * POST /v1/chat/completions.
 */
import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { CreateChatCompletionDto } from './create-chat-completion.dto';
import { ApiTags } from '@nestjs/swagger';
import { ApiDoc } from '../docs/api-doc.decorator';
import { GenerationEndpoint } from './generation-endpoint';
import { ChatFormatter } from './openai-format';
import { chatJobsFor } from './upstream-job-builder';

@ApiTags('chat')
@Controller('v1/chat/completions')
export class ChatCompletionsController {
  constructor(private readonly endpoint: GenerationEndpoint) {}

  @ApiDoc({ id: 'createChatCompletion', summary: 'Create a chat completion', answer: 'json-or-sse', returns: 'A chat.completion, or with `stream: true` chat.completion.chunk events.' })
  @Post()
  @HttpCode(200)
  async create(@Body() dto: CreateChatCompletionDto, @Req() req: Request, @Res() res: Response): Promise<void> {
    await this.endpoint.serve(dto, req, res, {
      jobs: chatJobsFor,
      formatter: (model, includeUsage) => new ChatFormatter(model, includeUsage, dto.logprobs === true),
    });
  }
}
