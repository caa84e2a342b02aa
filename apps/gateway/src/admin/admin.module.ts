/** The admin API: the fleet, model load and unload (admin keys). */
import { Module } from '@nestjs/common';
import { AdminController } from './admin.controller';

@Module({ controllers: [AdminController] })
export class AdminModule {}
