// The admin pages: one section per concern, each drawn by its own module in ./admin/.
//
// The page needs an admin's console session (log in at /console); without one it says so and shows
// nothing. Every change goes to /console/api/admin/... with the session's CSRF token, and leaves an
// audit entry the last section lists.

import { ApiError, get, setCsrfToken } from "./api.js";
import { $, h } from "./dom.js";
import { loadAudit } from "./admin/audit.js";
import { loadKeys } from "./admin/keys.js";
import { loadLimits } from "./admin/limits.js";
import { loadMembers } from "./admin/members.js";
import { loadServers } from "./admin/servers.js";
import { loadUnits } from "./admin/units.js";

// Section modules register here: name → async function(session) that draws the section.
export const sections = new Map([
  ["members", loadMembers],
  ["units", loadUnits],
  ["servers", loadServers],
  ["keys", loadKeys],
  ["limits", loadLimits],
  ["audit", loadAudit],
]);

export function toast(message) {
  const node = $("#admin-toast");
  node.textContent = message;
  node.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (node.hidden = true), 5000);
}

async function start() {
  let session;
  try {
    session = await get("/console/api/session");
  } catch (problem) {
    return deny(problem instanceof ApiError && problem.status === 401 ? "Log in to the console first." : problem.message);
  }
  if (!(session.roles || []).includes("admin")) return deny("These pages need the admin role.");
  setCsrfToken(session.csrfToken);
  $("#community-name").textContent = session.communityName;
  $("#admin").hidden = false;
  for (const [name, draw] of sections) {
    try {
      await draw(session);
    } catch (problem) {
      toast(`${name}: ${problem.message}`);
    }
  }
  document.body.dataset.ready = "true";
}

function deny(message) {
  $("#admin-denied-text").textContent = message;
  $("#admin-denied").hidden = false;
  document.body.dataset.ready = "true";
}

export { h };
start();
