/**
 * The audio lib: decodes uploads to Whisper's 16 kHz mono float32 (WAV in-process, the rest through
 * ffmpeg) and writes transcripts in OpenAI's response formats.
 */
export * from './audio-format';
export * from './audio-rejections';
export * from './audio-decoder';
export * from './ffmpeg-decoder';
export * from './resampler';
export * from './wav-decoder';
export * from './transcript-formatter';
export * from './whisper-languages';
