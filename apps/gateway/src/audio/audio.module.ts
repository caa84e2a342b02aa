/** Audio: /v1/audio/transcriptions and /translations (multipart uploads), /v1/audio/speech and /voices. */
import { Module } from '@nestjs/common';
import { AudioController } from './audio.controller';
import { AudioUploadInterceptor } from './audio-upload.interceptor';
import { SpeechController } from './speech.controller';

@Module({ controllers: [AudioController, SpeechController], providers: [AudioUploadInterceptor] })
export class AudioModule {}
