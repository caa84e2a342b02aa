/** An `added_tokens` entry of a Hugging Face tokenizer.json, as the generated tokenizers write it. */
export function addedToken(id: number, content: string, special: boolean): object {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special };
}
