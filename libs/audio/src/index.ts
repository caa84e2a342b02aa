/**
 * The audio lib: decodes uploads to Whisper's 16 kHz mono float32 (WAV in-process, the rest through
 * ffmpeg) and writes transcripts in OpenAI's response formats; for text to speech, splits text into
 * sentence pieces and encodes a voice's samples into OpenAI's speech formats as they come.
 */
export * from './audio-format';
export * from './audio-rejections';
export * from './audio-decoder';
export * from './ffmpeg-decoder';
export * from './resampler';
export * from './wav-decoder';
export * from './transcript-formatter';
export * from './whisper-languages';
export * from './speech-format';
export * from './streaming-resampler';
export * from './speech-encoder';
export * from './sentence-splitter';
