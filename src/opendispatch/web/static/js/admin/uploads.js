// What the servers, keys and limits sections share: a secret shown once, a file sent as the request
// body, a short note, and the audit log read again after each change.

import { ApiError } from "../api.js";
import { $, fill, h } from "../dom.js";
import { loadAudit } from "./audit.js";

let csrfToken = "";

export function useSession(session) {
  csrfToken = session.csrfToken;
}

/** Tell the admin what happened (the page's one toast); `ok` false for a refusal. */
export function note(message, ok = true) {
  const node = $("#admin-toast");
  node.classList.toggle("info", ok);
  node.textContent = message;
  node.hidden = false;
  clearTimeout(note.timer);
  note.timer = setTimeout(() => (node.hidden = true), 5000);
}

/** Run a change, then `redraw(answer)` the section, say so, and show the audit log's new entry (last:
 * once it shows, the section is drawn anew too); a refusal is said instead. Answers null when refused. */
export async function change(work, message, redraw) {
  let answer;
  try {
    answer = await work();
  } catch (problem) {
    note(problem.message, false);
    return null;
  }
  if (redraw) await redraw(answer);
  if (message) note(typeof message === "function" ? message(answer) : message);
  await loadAudit();
  return answer;
}

/** A secret (an API key, a signing secret) in `box`, with a warning that it will not be shown again. */
export function showOnce(box, title, secret) {
  fill(
    box,
    h("strong", {}, title),
    h("code", { class: "secret" }, secret),
    h("span", { class: "muted" }, "Copy it now: it is shown this once."),
    h("button", { type: "button", onclick: () => { fill(box); box.hidden = true; } }, "Done"),
  );
  box.hidden = false;
}

/** PUT `body` (a File or Blob) as the request body itself, with the session's CSRF token. */
export async function upload(path, body, contentType) {
  const answer = await fetch(path, {
    method: "PUT",
    headers: { Accept: "application/json", "Content-Type": contentType || "application/octet-stream", "X-CSRF-Token": csrfToken },
    body,
    credentials: "same-origin",
    cache: "no-store",
  });
  const text = await answer.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!answer.ok) throw new ApiError(answer.status, (parsed && parsed.detail) || `${answer.status} ${answer.statusText}`, parsed);
  return parsed;
}

export function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "never";
}
