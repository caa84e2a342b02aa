/** Images: /v1/images/generations (JSON), /edits and /variations (multipart), and the stored images of `url` answers. */
import { Module } from '@nestjs/common';
import { ImageStore } from './image-store.service';
import { ImageUploadInterceptor } from './image-upload.interceptor';
import { ImagesController } from './images.controller';

@Module({ controllers: [ImagesController], providers: [ImageStore, ImageUploadInterceptor] })
export class ImagesModule {}
