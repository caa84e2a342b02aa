/** The queue dashboard (bull-board at /admin/queues); main mounts it on the Express instance. */
import { Module } from '@nestjs/common';
import { QueueDashboardService } from './queue-dashboard.service';

@Module({ providers: [QueueDashboardService], exports: [QueueDashboardService] })
export class DashboardModule {}
