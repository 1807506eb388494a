// The API client: the token (from the URL fragment once, then sessionStorage), every request
// with "Authorization: Bearer", problem+json turned into an Error whose message is its detail.
// No cookies: a page of another site can make the browser send cookies, never this header.

const tokenKey = 'polynic.token';

export class ApiProblem extends Error {
  constructor(status, title, detail) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.title = title;
  }
}

/** Moves a token given as /#token=... into sessionStorage and out of the address bar (and history). */
export function takeTokenFromFragment() {
  const match = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (!match) return;
  sessionStorage.setItem(tokenKey, decodeURIComponent(match[1]));
  history.replaceState(null, '', location.pathname + location.search);
}

export const token = {
  get: () => sessionStorage.getItem(tokenKey),
  set: value => sessionStorage.setItem(tokenKey, value),
  clear: () => sessionStorage.removeItem(tokenKey),
};

/** Called when the server refuses the token (401); the app shows the sign-in box. */
export const onUnauthorized = { handler: () => {} };

/** fetch with the token; throws ApiProblem for any status outside 2xx. */
export async function request(method, path, body) {
  const headers = { Authorization: `Bearer ${token.get() ?? ''}` };
  const init = { method, headers, cache: 'no-store', credentials: 'omit' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) throw await problemOf(response);
  return response;
}

export async function getJson(path) {
  return (await request('GET', path)).json();
}

export async function sendJson(method, path, body) {
  const response = await request(method, path, body);
  return response.status === 204 ? null : response.json();
}

async function problemOf(response) {
  let title = response.statusText, detail = '';
  try {
    const problem = await response.json();
    title = problem.title ?? title;
    detail = problem.detail ?? '';
  } catch { /* not problem+json: keep the status line */ }
  if (response.status === 401) onUnauthorized.handler(detail);
  return new ApiProblem(response.status, title, detail);
}

/**
 * Reads a text/event-stream with fetch (EventSource cannot send the Authorization header) and
 * calls onEvent(type, data) per event until the stream ends or signal aborts.
 */
export async function readEvents(path, onEvent, signal) {
  const response = await fetch(path, {
    headers: { Authorization: `Bearer ${token.get() ?? ''}`, Accept: 'text/event-stream' },
    cache: 'no-store', credentials: 'omit', signal,
  });
  if (!response.ok) throw await problemOf(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let type = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue; // comment (keepalive)
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') type = text;
        else if (field === 'data') data.push(text);
      }
      if (data.length === 0) continue;
      let parsed;
      try { parsed = JSON.parse(data.join('\n')); } catch { parsed = { detail: data.join('\n') }; }
      onEvent(type, parsed);
    }
  }
}
