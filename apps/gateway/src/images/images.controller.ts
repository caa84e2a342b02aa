/**
 * POST /v1/images/generations (JSON), /v1/images/edits and /v1/images/variations (multipart), and
 * GET /v1/images/files/:name, where `response_format: url` images are served from any replica. A
 * request becomes one `image` job on the pipeline's queue, run through InferenceService (admission,
 * cancel when the client leaves, worker-loss checks); the worker sends each image as it is made.
 */
import { Body, Controller, Get, HttpCode, Inject, Param, Post, Req, Res, UseInterceptors } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { ImageMode, OnnxModelDescriptor } from '@switchyard/contracts';
import { imageContentType } from '@switchyard/diffusion';
import { Public } from '../core/api-key.guard';
import { GATEWAY_ENV, type GatewayEnv } from '../core/gateway-config';
import { InferenceService } from '../core/inference.service';
import { ModelCatalogService } from '../core/model-catalog.service';
import { OpenAIError } from '../core/openai-error';
import { requireTaskModel } from '../core/task-models';
import { validateDto } from '../core/validation';
import { clientGone, setWorkerHeader } from '../chat/response-writer';
import { CreateImageDto, formFields } from './create-image.dto';
import { ApiTags } from '@nestjs/swagger';
import { ApiDoc, imageForm } from '../docs/api-doc.decorator';
import { attachUploads, imageRequest, type ImageRequest } from './image-request';
import { IMAGE_FILE, ImageStore } from './image-store.service';
import { imageUploads, ImageUploadInterceptor } from './image-upload.interceptor';
import { collectImages, imagesResponse, writeImageStream } from './image-writer';

/** The routes that read multipart bodies, for the JSON body middleware to let through. */
export const IMAGE_UPLOAD_PATHS = ['/v1/images/edits', '/v1/images/variations'] as const;

@ApiTags('images')
@Controller('v1/images')
export class ImagesController {
  constructor(
    @Inject(GATEWAY_ENV) private readonly env: GatewayEnv,
    private readonly catalog: ModelCatalogService,
    private readonly inference: InferenceService,
    private readonly store: ImageStore,
  ) {}

  @ApiDoc({ id: 'createImage', summary: 'Generate images from a prompt', answer: 'json-or-sse', returns: 'An images response, or with `stream: true` image_generation events.' })
  @Post('generations')
  @HttpCode(200)
  async generations(@Body() dto: CreateImageDto, @Req() req: Request, @Res() res: Response): Promise<void> {
    const { model, request } = this.prepare(dto, 'generate');
    await this.serve(model, request, 'generate', req, res);
  }

  @ApiDoc({ id: 'createImageEdit', summary: 'Edit an image', answer: 'json-or-sse', multipart: imageForm('edit'), returns: 'An images response, or with `stream=true` image_edit events.' })
  @Post('edits')
  @HttpCode(200)
  @UseInterceptors(ImageUploadInterceptor)
  async edits(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.serveUpload('edit', req, res);
  }

  @ApiDoc({ id: 'createImageVariation', summary: 'Create variations of an image', answer: 'json-or-sse', multipart: imageForm('variation'), returns: 'An images response.' })
  @Post('variations')
  @HttpCode(200)
  @UseInterceptors(ImageUploadInterceptor)
  async variations(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.serveUpload('variation', req, res);
  }

  /** Served without an API key: the unguessable name is the key, as OpenAI's signed URLs are. */
  @ApiDoc({ summary: 'Fetch an image made with `response_format: url` (no key)', answer: 'image', returns: 'The image.' })
  @Public()
  @Get('files/:name')
  async file(@Param('name') name: string, @Res() res: Response): Promise<void> {
    const bytes = await this.store.get(name);
    const format = IMAGE_FILE.exec(name)?.[2];
    if (!bytes || !format) throw new OpenAIError(404, 'No such image: it never existed or it has expired.', 'invalid_request_error', 'image_not_found', 'name');
    res.setHeader('Content-Type', imageContentType(format as 'png'));
    res.setHeader('Cache-Control', 'private, max-age=3600, immutable');
    res.end(bytes);
  }

  private prepare(dto: CreateImageDto, mode: ImageMode): { model: OnnxModelDescriptor; request: ImageRequest } {
    const model = requireTaskModel(this.catalog, dto.model, 'image-generation');
    return { model, request: imageRequest(dto, model, mode, dto.model ?? model.name) };
  }

  private async serveUpload(mode: ImageMode, req: Request, res: Response): Promise<void> {
    const dto = validateDto(CreateImageDto, formFields((req.body ?? {}) as Record<string, unknown>));
    const { images, mask } = imageUploads(req);
    if (mode === 'variation' && mask) throw OpenAIError.badRequest('Variations take no mask.', 'mask', 'unexpected_file');
    const { model, request } = this.prepare(dto, mode);
    await attachUploads(request.job, images, mask);
    await this.serve(model, request, mode, req, res);
  }

  private async serve(model: OnnxModelDescriptor, request: ImageRequest, mode: ImageMode, req: Request, res: Response): Promise<void> {
    const events = this.inference.streamTask(model, request.job, clientGone(req, res).signal);
    if (request.stream) {
      await writeImageStream(res, events, request, mode, this.env.STREAM_STALL_MS, this.env.SSE_KEEPALIVE_MS);
      return;
    }
    const { images, result, workerId } = await collectImages(events, request.job.n);
    let urls: string[] | undefined;
    if (request.responseFormat === 'url') {
      const base = (this.env.PUBLIC_BASE_URL ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`).replace(/\/+$/, '');
      urls = await Promise.all(images.map(async (image) => `${base}/v1/images/files/${await this.store.put(Buffer.from(image.b64, 'base64'), request.job.format)}`));
    }
    setWorkerHeader(res, workerId);
    res.json(imagesResponse(request, images, result, urls));
  }
}
