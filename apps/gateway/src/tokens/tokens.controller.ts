/**
 * Token tools, answered by a worker holding the model: llama.cpp server's shapes (/tokenize,
 * /detokenize, /apply-template) and text-generation-webui's (/v1/internal/encode, decode,
 * token-count, logits).
 */
import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { ModelDescriptor, TokenRequest } from '@switchyard/contracts';
import { checkToolTurns, parseTools } from '../chat/chat-options';
import { ApplyTemplateDto, DecodeDto, DetokenizeDto, EncodeDto, LogitsDto, TokenizeDto } from './tokens.dto';
import { InferenceService } from '../core/inference.service';
import { chatMessages } from '../chat/job-builder';
import { ModelCatalogService } from '../core/model-catalog.service';
import { OpenAIError } from '../core/openai-error';
import { ApiTags } from '@nestjs/swagger';
import { ApiDoc } from '../docs/api-doc.decorator';
import { clientGone } from '../chat/response-writer';

@ApiTags('tokens')
@Controller()
export class TokensController {
  constructor(
    private readonly catalog: ModelCatalogService,
    private readonly inference: InferenceService,
  ) {}

  private model(name: string | undefined): ModelDescriptor {
    if (name !== undefined) return this.catalog.require(name);
    const first = this.catalog.models[0];
    if (!first) throw OpenAIError.badRequest('No models are configured.', 'model', 'model_not_found');
    return first;
  }

  private async ask<T>(req: Request, res: Response, name: string | undefined, request: TokenRequest): Promise<T> {
    const model = this.model(name);
    const abort = clientGone(req, res);
    return (await this.inference.request(model, { kind: 'tokens', model: model.name, request, enqueuedAt: 0 }, abort.signal)) as T;
  }

  @ApiDoc({ summary: 'Tokenize text (llama.cpp server)' })
  @Post('tokenize')
  @HttpCode(200)
  async tokenize(@Body() dto: TokenizeDto, @Req() req: Request, @Res() res: Response): Promise<void> {
    const request: TokenRequest = {
      op: 'tokenize',
      text: dto.content,
      addSpecial: dto.add_special ?? false,
      parseSpecial: dto.parse_special ?? true,
      withPieces: dto.with_pieces ?? false,
    };
    res.json(await this.ask(req, res, dto.model, request));
  }

  @ApiDoc({ summary: 'Turn token ids into text (llama.cpp server)' })
  @Post('detokenize')
  @HttpCode(200)
  async detokenize(@Body() dto: DetokenizeDto, @Req() req: Request, @Res() res: Response): Promise<void> {
    res.json(await this.ask(req, res, dto.model, { op: 'detokenize', tokens: dto.tokens }));
  }

  @ApiDoc({ summary: "Render messages with the model's chat template (llama.cpp server)" })
  @Post('apply-template')
  @HttpCode(200)
  async applyTemplate(@Body() dto: ApplyTemplateDto, @Req() req: Request, @Res() res: Response): Promise<void> {
    const messages = chatMessages(dto.messages);
    checkToolTurns(messages);
    const tools = parseTools(dto.tools);
    res.json(await this.ask(req, res, dto.model, { op: 'apply-template', messages, ...(tools?.length ? { tools } : {}) }));
  }

  @ApiDoc({ summary: 'Tokenize text (text-generation-webui)' })
  @Post('v1/internal/encode')
  @HttpCode(200)
  async encode(@Body() dto: EncodeDto, @Req() req: Request, @Res() res: Response): Promise<void> {
    const { tokens } = await this.ask<{ tokens: number[] }>(req, res, dto.model, encodeRequest(dto.text));
    res.json({ tokens, length: tokens.length });
  }

  @ApiDoc({ summary: 'Turn token ids into text (text-generation-webui)' })
  @Post('v1/internal/decode')
  @HttpCode(200)
  async decode(@Body() dto: DecodeDto, @Req() req: Request, @Res() res: Response): Promise<void> {
    const { content } = await this.ask<{ content: string }>(req, res, dto.model, { op: 'detokenize', tokens: dto.tokens });
    res.json({ text: content });
  }

  @ApiDoc({ summary: 'Count the tokens of a text (text-generation-webui)' })
  @Post('v1/internal/token-count')
  @HttpCode(200)
  async tokenCount(@Body() dto: EncodeDto, @Req() req: Request, @Res() res: Response): Promise<void> {
    const { tokens } = await this.ask<{ tokens: number[] }>(req, res, dto.model, encodeRequest(dto.text));
    res.json({ length: tokens.length });
  }

  @ApiDoc({ summary: 'Most likely next tokens and their probabilities (text-generation-webui)' })
  @Post('v1/internal/logits')
  @HttpCode(200)
  async logits(@Body() dto: LogitsDto, @Req() req: Request, @Res() res: Response): Promise<void> {
    const request: TokenRequest = {
      op: 'logits',
      text: dto.prompt,
      top: dto.top_logits ?? 50,
      ...(dto.use_samplers
        ? {
            sampling: {
              temperature: dto.temperature ?? 1,
              topP: dto.top_p ?? 1,
              topK: dto.top_k,
              minP: dto.min_p,
              seed: dto.seed,
              stop: [],
            },
          }
        : {}),
    };
    res.json(await this.ask(req, res, dto.model, request));
  }
}

/** text-generation-webui counts and encodes with the BOS token, as the model sees a prompt. */
function encodeRequest(text: string): TokenRequest {
  return { op: 'tokenize', text, addSpecial: true, parseSpecial: true, withPieces: false };
}
