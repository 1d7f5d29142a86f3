// Fetch helpers: JSON in and out, the round-trip time measured here; error bodies are {error: {code, message}}.

export async function request(url, options = {}) {
  const t0 = performance.now();
  const r = await fetch(url, options);
  const body = await r.json().catch(() => ({error: {code: "http", message: `HTTP ${r.status}`}}));
  return {ok: r.ok, status: r.status, body, ms: performance.now() - t0};
}

export const getJSON = (url) => request(url);

export const postJSON = (url, payload) => request(url, {
  method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(payload),
});

export function errorText(response) {
  return response.body?.error?.message ?? `HTTP ${response.status}`;
}

// Trailing debounce that still fires at least every `maxWait` ms while calls keep coming (predict as you draw).
export function debounce(fn, wait, maxWait) {
  let timer = null, first = 0;
  return (...args) => {
    const now = performance.now();
    if (timer === null) first = now;
    clearTimeout(timer);
    const delay = Math.max(0, Math.min(wait, first + maxWait - now));
    timer = setTimeout(() => { timer = null; fn(...args); }, delay);
  };
}
