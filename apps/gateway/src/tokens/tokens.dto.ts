/**
 * Bodies of the token tools: llama.cpp server's /tokenize, /detokenize and /apply-template, and
 * text-generation-webui's /v1/internal/encode, decode, token-count and logits. `model` is optional
 * (those servers hold one model): without it the first llama.cpp model of the models file answers.
 */
import { ArrayNotEmpty, IsArray, IsBoolean, IsInt, IsOptional, IsString, Max, Min, MinLength } from 'class-validator';
import { ChatMessageDto } from '../chat/create-chat-completion.dto';
import { IsJsonType, isJsonObject, Nested, isTokenArray } from '../core/validation';

abstract class TokenToolDto {
  @IsOptional()
  @IsString()
  @MinLength(1)
  model?: string;
}

export class TokenizeDto extends TokenToolDto {
  @IsString()
  content!: string;

  @IsOptional()
  @IsBoolean()
  add_special?: boolean;

  @IsOptional()
  @IsBoolean()
  parse_special?: boolean;

  @IsOptional()
  @IsBoolean()
  with_pieces?: boolean;
}

export class DetokenizeDto extends TokenToolDto {
  @IsJsonType((v) => Array.isArray(v) && (v.length === 0 || isTokenArray(v)), 'an array of token ids')
  tokens!: number[];
}

export class ApplyTemplateDto extends TokenToolDto {
  @IsArray()
  @ArrayNotEmpty()
  @Nested(() => ChatMessageDto, { each: true })
  messages!: ChatMessageDto[];

  @IsOptional()
  @IsJsonType((v) => Array.isArray(v) && v.every(isJsonObject), 'an array of tool objects')
  tools?: unknown[];
}

export class EncodeDto extends TokenToolDto {
  @IsString()
  text!: string;
}

export class DecodeDto extends TokenToolDto {
  @IsJsonType((v) => Array.isArray(v) && (v.length === 0 || isTokenArray(v)), 'an array of token ids')
  tokens!: number[];
}

export class LogitsDto extends TokenToolDto {
  @IsString()
  @MinLength(1)
  prompt!: string;

  @IsOptional()
  @IsBoolean()
  use_samplers?: boolean;

  /** How many of the most likely tokens to return (text-generation-webui returns 50). */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  top_logits?: number;

  @IsOptional()
  @IsJsonType((v) => typeof v === 'number' && v >= 0 && v <= 2, 'a number from 0 to 2')
  temperature?: number;

  @IsOptional()
  @IsInt()
  @Min(0)
  top_k?: number;

  @IsOptional()
  @IsJsonType((v) => typeof v === 'number' && v >= 0 && v <= 1, 'a number from 0 to 1')
  top_p?: number;

  @IsOptional()
  @IsJsonType((v) => typeof v === 'number' && v >= 0 && v <= 1, 'a number from 0 to 1')
  min_p?: number;

  @IsOptional()
  @IsInt()
  seed?: number;
}
