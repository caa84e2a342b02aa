/** The admin API: the fleet, model load and unload, queue depth for autoscaling (admin keys). */
import { Module } from '@nestjs/common';
import { AdminController } from './admin.controller';
import { AutoscaleController } from './autoscale.controller';
import { AutoscaleService } from './autoscale.service';

@Module({ controllers: [AdminController, AutoscaleController], providers: [AutoscaleService] })
export class AdminModule {}
