// The console API: JSON in and out, the session cookie sent by the browser, the CSRF token on changes.

let csrfToken = "";

export function setCsrfToken(token) {
  csrfToken = token || "";
}

export class ApiError extends Error {
  constructor(status, detail, body, retryAfter = null) {
    super(detail);
    this.status = status;
    this.body = body;
    this.retryAfter = retryAfter; // whole seconds, on a 429
  }
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const answer = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
  });
  if (answer.status === 204) return null;
  const text = await answer.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!answer.ok) {
    const detail = (parsed && (parsed.detail || parsed.message)) || `${answer.status} ${answer.statusText}`;
    const retryAfter = Number(answer.headers.get("Retry-After")) || null;
    throw new ApiError(answer.status, detail, parsed, retryAfter);
  }
  return parsed;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body ?? {});
export const patch = (path, body) => api("PATCH", path, body);
export const del = (path) => api("DELETE", path);
