/** Speech to text: /v1/audio/transcriptions and /v1/audio/translations (multipart uploads). */
import { Module } from '@nestjs/common';
import { AudioController } from './audio.controller';
import { AudioUploadInterceptor } from './audio-upload.interceptor';

@Module({ controllers: [AudioController], providers: [AudioUploadInterceptor] })
export class AudioModule {}
