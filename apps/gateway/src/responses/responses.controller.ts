/**
 * The Responses API routes: create (plain, streamed, background), retrieve (or resume a background
 * stream), input items, delete, cancel.
 */
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ApiDoc } from '../docs/api-doc.decorator';
import { OpenAIError } from '../core/openai-error';
import { CreateResponseDto } from './create-response.dto';
import { ResponsesService } from './responses.service';

/** A query integer in [min, max], or undefined when absent; a 400 on the parameter otherwise. */
function queryInt(raw: unknown, name: string, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw OpenAIError.badRequest(`Invalid '${name}': expected an integer from ${min} to ${max}.`, name, 'invalid_value');
  return n;
}

@ApiTags('responses')
@Controller('v1/responses')
export class ResponsesController {
  constructor(private readonly responses: ResponsesService) {}

  @ApiDoc({ id: 'createResponse', summary: 'Create a model response', answer: 'json-or-sse', returns: 'A response object, or with `stream: true` Responses stream events.' })
  @Post()
  @HttpCode(200)
  async create(@Body() dto: CreateResponseDto, @Req() req: Request, @Res() res: Response): Promise<void> {
    await this.responses.create(dto, req, res);
  }

  @ApiDoc({ id: 'getResponse', summary: 'Get a model response', answer: 'json-or-sse', returns: 'The stored response; with `stream=true` (background responses) its events after `starting_after`.' })
  @Get(':id')
  async retrieve(@Param('id') id: string, @Query('stream') stream: string | undefined, @Query('starting_after') startingAfter: string | undefined, @Req() req: Request, @Res() res: Response): Promise<void> {
    if (stream !== undefined && stream !== 'true' && stream !== 'false') throw OpenAIError.badRequest("Invalid 'stream': expected true or false.", 'stream', 'invalid_value');
    const after = queryInt(startingAfter, 'starting_after', 0, Number.MAX_SAFE_INTEGER - 1);
    if (stream === 'true') return this.responses.resume(id, after, req, res);
    res.status(200).json(await this.responses.retrieve(id));
  }

  @ApiDoc({ id: 'listInputItems', summary: 'List input items', returns: 'The input items of a stored response, as a list.' })
  @Get(':id/input_items')
  async inputItems(@Param('id') id: string, @Query('limit') limit: string | undefined, @Query('order') order: string | undefined, @Query('after') after: string | undefined): Promise<object> {
    if (order !== undefined && order !== 'asc' && order !== 'desc') throw OpenAIError.badRequest("Invalid 'order': expected 'asc' or 'desc'.", 'order', 'invalid_value');
    return this.responses.inputItems(id, { limit: queryInt(limit, 'limit', 1, 100), order, after });
  }

  @ApiDoc({ id: 'deleteResponse', summary: 'Delete a model response', returns: 'The deletion confirmation.' })
  @Delete(':id')
  async remove(@Param('id') id: string): Promise<object> {
    return this.responses.remove(id);
  }

  @ApiDoc({ id: 'cancelResponse', summary: 'Cancel a background response', returns: 'The response, cancelled (or as it finished).' })
  @Post(':id/cancel')
  @HttpCode(200)
  async cancel(@Param('id') id: string): Promise<object> {
    return this.responses.cancel(id);
  }
}
