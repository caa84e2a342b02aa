/** Checks an HTTP answer is OpenAI's error object with the given status and `param`. */
export interface JsonAnswer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- error bodies of several shapes
  json: any;
}

export function expectOpenAIError(answer: JsonAnswer, status: number, param: string | null): void {
  expect({ status: answer.status, body: answer.json }).toMatchObject({ status, body: { error: { message: expect.any(String), type: expect.any(String) } } });
  expect(Object.keys(answer.json.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(answer.json.error.param).toBe(param);
}
