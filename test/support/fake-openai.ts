/** The scripted OpenAI-compatible test server lives in tools/ so the benchmark can run it too. */
export { startFakeOpenAI, type FakeOpenAI, type RecordedRequest } from '../../tools/fake-openai';
