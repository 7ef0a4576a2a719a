// What the Members and Units sections share: a short message at the bottom of the page, and refreshing
// the audit log after a change (each change leaves an entry there).

import { $ } from "../dom.js";
import { loadAudit } from "./audit.js";

export function notice(message) {
  const node = $("#admin-toast");
  node.textContent = message;
  node.hidden = false;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => (node.hidden = true), 5000);
}

/** Run a change; on success redraw with `after` and refresh the audit log, on failure say why. */
export async function changed(work, after) {
  let answer;
  try {
    answer = await work();
  } catch (problem) {
    notice(problem.message);
    return null;
  }
  await after(answer);
  await loadAudit().catch(() => {});
  return answer;
}
