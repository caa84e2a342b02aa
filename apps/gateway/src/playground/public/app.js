// Switchyard playground: plain browser JavaScript, no framework and no bundler (the gateway serves
// this file as is). The key lives only in this browser's localStorage and goes out as
// `Authorization: Bearer`. Streams are read by hand: `data:` lines over fetch's ReadableStream.
'use strict';

const KEY_STORAGE = 'switchyard.apiKey';
const $ = (id) => document.getElementById(id);

// ---- key and API calls -------------------------------------------------------------------------

function apiKey() {
  return localStorage.getItem(KEY_STORAGE) || '';
}

function headers(extra) {
  const h = Object.assign({}, extra);
  const key = apiKey();
  if (key) h.authorization = 'Bearer ' + key;
  return h;
}

/** OpenAI's error message from a failed response, or the HTTP status when the body has none. */
async function errorOf(res) {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text);
    if (body && body.error && body.error.message) return body.error.message;
  } catch {
    // not JSON: fall through
  }
  return 'HTTP ' + res.status + (res.statusText ? ' ' + res.statusText : '') + (text ? ': ' + text.slice(0, 200) : '');
}

async function postJson(path, body, signal) {
  const res = await fetch(path, { method: 'POST', headers: headers({ 'content-type': 'application/json' }), body: JSON.stringify(body), signal });
  if (!res.ok) throw new Error(await errorOf(res));
  return res;
}

/** Yields the payload of each `data:` line of a server-sent-events response. */
async function* sseData(res) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, end).replace(/\r$/, '');
      buffer = buffer.slice(end + 1);
      if (line.startsWith('data:')) yield line.slice(5).replace(/^ /, '');
    }
  }
}

function showError(target, message) {
  target.textContent = message;
  target.hidden = !message;
}

function status(text) {
  $('status').textContent = text;
}

// ---- models ------------------------------------------------------------------------------------

/** Which models a panel offers: audio and image tasks need an ONNX or upstream backend. */
function fits(model, tasks) {
  if (tasks === 'chat' || tasks === 'embeddings') return true;
  return model.backend !== 'llama.cpp';
}

/** A default pick per panel from the model's name, when one looks right. */
const NAME_HINTS = {
  chat: /chat|instruct|llama|qwen|phi|gemma|mistral|gpt/i,
  embeddings: /embed|bge|e5|minilm|gte|nomic/i,
  audio: /whisper|tts|speech|voice|piper|kokoro|audio/i,
  images: /image|diffusion|sd|flux|dall/i,
};

async function loadModels() {
  const err = $('global-error');
  let models = [];
  try {
    const res = await fetch('/v1/models', { headers: headers() });
    if (!res.ok) {
      const message = await errorOf(res);
      showError(err, res.status === 401 ? message + ' Enter a key above and press Save.' : message);
      if (res.status === 401) $('api-key').focus();
    } else {
      showError(err, '');
      models = (await res.json()).data;
    }
  } catch (e) {
    showError(err, 'The gateway could not be reached: ' + e.message);
  }
  for (const select of document.querySelectorAll('.model-select')) {
    const tasks = select.dataset.tasks;
    const previous = select.value;
    const offered = models.filter((m) => fits(m, tasks));
    select.replaceChildren(...offered.map((m) => new Option(m.id + (m.state === 'loaded' ? '' : ' (' + m.state + ')'), m.id)));
    const hinted = offered.find((m) => NAME_HINTS[tasks].test(m.id));
    if (offered.some((m) => m.id === previous)) select.value = previous;
    else if (hinted) select.value = hinted.id;
  }
  const media = models.some((m) => m.backend !== 'llama.cpp');
  for (const id of ['tab-speech', 'tab-transcription', 'tab-images']) $(id).hidden = !media;
  status(models.length ? models.length + ' model' + (models.length === 1 ? '' : 's') + ' available.' : '');
}

// ---- tabs --------------------------------------------------------------------------------------

function selectTab(tab) {
  for (const t of document.querySelectorAll('[role=tab]')) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute('aria-controls')).hidden = !on;
  }
}

function setUpTabs() {
  const tabs = [...document.querySelectorAll('[role=tab]')];
  for (const tab of tabs) {
    tab.addEventListener('click', () => selectTab(tab));
    tab.addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
      const shown = tabs.filter((t) => !t.hidden);
      const next = shown[(shown.indexOf(tab) + (e.key === 'ArrowRight' ? 1 : shown.length - 1)) % shown.length];
      selectTab(next);
      next.focus();
    });
  }
  selectTab(tabs[0]);
}

// ---- chat --------------------------------------------------------------------------------------

/** The conversation so far, as sent to /v1/chat/completions (the system prompt is added per request). */
let conversation = [];
let running;

function bubble(role, text) {
  const div = document.createElement('div');
  div.className = 'message ' + role;
  const who = document.createElement('span');
  who.className = 'role';
  who.textContent = role === 'user' ? 'You' : 'Assistant';
  const body = document.createElement('div');
  body.className = 'content';
  body.textContent = text;
  div.append(who, body);
  $('chat-log').append(div);
  div.scrollIntoView({ block: 'end' });
  return div;
}

function chatRequest() {
  const messages = [];
  const system = $('chat-system').value.trim();
  if (system) messages.push({ role: 'system', content: system });
  messages.push(...conversation);
  const body = { model: $('chat-model').value, messages, stream: true, stream_options: { include_usage: true } };
  const temperature = parseFloat($('chat-temperature').value);
  if (!Number.isNaN(temperature)) body.temperature = temperature;
  const maxTokens = parseInt($('chat-max-tokens').value, 10);
  if (maxTokens > 0) body.max_tokens = maxTokens;
  const stop = $('chat-stop').value.split('\n').filter((s) => s !== '');
  if (stop.length) body.stop = stop.slice(0, 4);
  return body;
}

async function sendChat(e) {
  e.preventDefault();
  const input = $('chat-input');
  const text = input.value.trim();
  if (!text || running) return;
  if (!$('chat-model').value) {
    status('No model to chat with: check the key and the models above.');
    return;
  }
  conversation.push({ role: 'user', content: text });
  bubble('user', text);
  input.value = '';
  const answer = bubble('assistant', '');
  const content = answer.querySelector('.content');
  answer.dataset.state = 'streaming';
  answer.dataset.chunks = '0';
  running = new AbortController();
  $('chat-send').disabled = true;
  $('chat-stop-button').disabled = false;
  const started = performance.now();
  let usage;
  try {
    const res = await postJson('/v1/chat/completions', chatRequest(), running.signal);
    for await (const data of sseData(res)) {
      if (data === '[DONE]') break;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message);
      if (chunk.usage) usage = chunk.usage;
      const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
      if (delta && delta.content) {
        content.textContent += delta.content;
        answer.dataset.chunks = String(Number(answer.dataset.chunks) + 1);
        answer.scrollIntoView({ block: 'end' });
      }
    }
    answer.dataset.state = 'done';
    const seconds = (performance.now() - started) / 1000;
    status(usage ? usage.prompt_tokens + ' prompt + ' + usage.completion_tokens + ' completion tokens in ' + seconds.toFixed(1) + ' s.' : 'Done in ' + seconds.toFixed(1) + ' s.');
  } catch (err) {
    const stopped = err.name === 'AbortError';
    answer.dataset.state = stopped ? 'done' : 'error';
    if (stopped) status('Stopped.');
    else {
      const p = document.createElement('p');
      p.className = 'error';
      p.setAttribute('role', 'alert');
      p.textContent = err.message;
      answer.append(p);
    }
  } finally {
    if (content.textContent) conversation.push({ role: 'assistant', content: content.textContent });
    else if (answer.dataset.state === 'error') conversation.pop();
    running = undefined;
    $('chat-send').disabled = false;
    $('chat-stop-button').disabled = true;
  }
}

function setUpChat() {
  $('chat-form').addEventListener('submit', sendChat);
  $('chat-input').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      $('chat-form').requestSubmit();
    }
  });
  $('chat-stop-button').addEventListener('click', () => running && running.abort());
  $('chat-clear').addEventListener('click', () => {
    if (running) running.abort();
    conversation = [];
    $('chat-log').replaceChildren();
    status('');
  });
}

// ---- embeddings, speech, transcription, images ---------------------------------------------------

/** Runs a form's request with its output cleared first and its error shown in the output. */
function onSubmit(formId, output, run) {
  $(formId).addEventListener('submit', async (e) => {
    e.preventDefault();
    const button = e.target.querySelector('button[type=submit]');
    button.disabled = true;
    output.classList.remove('error');
    $('status').classList.remove('error');
    status('Working…');
    try {
      await run();
      status('');
    } catch (err) {
      status('');
      output.hidden = false;
      output.classList.add('error');
      output.textContent = err.message;
    } finally {
      button.disabled = false;
    }
  });
}

function setUpTasks() {
  const embeddings = $('embeddings-output');
  onSubmit('embeddings-form', embeddings, async () => {
    embeddings.textContent = '';
    const lines = $('embeddings-input').value.split('\n').filter((l) => l.trim() !== '');
    const res = await postJson('/v1/embeddings', { model: $('embeddings-model').value, input: lines.length === 1 ? lines[0] : lines });
    const body = await res.json();
    embeddings.textContent = body.data
      .map((d) => {
        const v = d.embedding;
        const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
        return '#' + d.index + ': ' + v.length + ' dimensions, norm ' + norm.toFixed(4) + '\n[' + v.slice(0, 8).map((x) => x.toFixed(4)).join(', ') + (v.length > 8 ? ', …' : '') + ']';
      })
      .join('\n\n') + '\n\n' + body.usage.prompt_tokens + ' tokens.';
  });

  const audio = $('speech-output');
  onSubmit('speech-form', $('status'), async () => {
    const res = await postJson('/v1/audio/speech', {
      model: $('speech-model').value,
      input: $('speech-input').value,
      voice: $('speech-voice').value,
      response_format: $('speech-format').value,
    });
    if (audio.src) URL.revokeObjectURL(audio.src);
    audio.src = URL.createObjectURL(await res.blob());
    audio.hidden = false;
    await audio.play().catch(() => undefined);
  });

  const transcript = $('transcription-output');
  onSubmit('transcription-form', transcript, async () => {
    transcript.textContent = '';
    const form = new FormData();
    form.append('file', $('transcription-file').files[0]);
    form.append('model', $('transcription-model').value);
    const language = $('transcription-language').value.trim();
    if (language) form.append('language', language);
    const res = await fetch('/v1/audio/transcriptions', { method: 'POST', headers: headers(), body: form });
    if (!res.ok) throw new Error(await errorOf(res));
    transcript.textContent = (await res.json()).text;
  });

  const images = $('images-output');
  onSubmit('images-form', images, async () => {
    images.replaceChildren();
    const res = await postJson('/v1/images/generations', {
      model: $('images-model').value,
      prompt: $('images-prompt').value,
      size: $('images-size').value,
      response_format: 'b64_json',
    });
    for (const d of (await res.json()).data) {
      const img = new Image();
      img.src = 'data:image/png;base64,' + d.b64_json;
      img.alt = d.revised_prompt || $('images-prompt').value;
      images.append(img);
    }
  });
}

// ---- start -------------------------------------------------------------------------------------

function setUpKey() {
  $('api-key').value = apiKey();
  $('key-status').textContent = apiKey() ? 'Key saved in this browser.' : '';
  $('key-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const key = $('api-key').value.trim();
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
    $('key-status').textContent = key ? 'Key saved in this browser.' : 'No key: requests go without one.';
    void loadModels();
  });
  $('forget-key').addEventListener('click', () => {
    localStorage.removeItem(KEY_STORAGE);
    $('api-key').value = '';
    $('key-status').textContent = 'Key forgotten.';
    void loadModels();
  });
}

setUpKey();
setUpTabs();
setUpChat();
setUpTasks();
void loadModels();
