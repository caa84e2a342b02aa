/** Token tools (tokenize, detokenize, apply-template, logits) answered by the worker holding the model. */
import { Module } from '@nestjs/common';
import { TokensController } from './tokens.controller';

@Module({ controllers: [TokensController] })
export class TokensModule {}
