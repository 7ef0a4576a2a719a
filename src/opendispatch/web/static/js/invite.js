// The invite page: a one-time link from a community's admin. A join picks a username and password and
// becomes a member with the roles the admin chose; a reset sets the account's new password. Either way
// the browser is logged in afterwards and goes to the page its roles open.
import { post } from "./api.js";
import { $ } from "./dom.js";

const token = new URLSearchParams(window.location.search).get("token") || "";
let kind = null;

/** Where an account's roles take it: the board for a dispatcher, the admin pages, else its own page. */
export function home(roles) {
  if (roles.includes("dispatcher")) return "/console";
  if (roles.includes("admin")) return "/console/admin";
  return "/console/me";
}

async function start() {
  try {
    const info = await post("/console/api/invite/check", { token });
    kind = info.kind;
    if (info.kind === "reset") {
      $("#invite-title").textContent = `Set a new password for ${info.username} in ${info.communityName}.`;
      $("#invite-account").textContent = `Account: ${info.username}`;
      $("#invite-account").hidden = false;
      $("#invite-submit").textContent = "Set password";
    } else {
      $("#invite-title").textContent = `You are invited to ${info.communityName}. Pick a username and a password.`;
      $("#invite-roles").textContent = `Roles: ${info.roles.join(", ")}`;
      $("#invite-username-row").hidden = false;
      $("#invite-username").required = true;
    }
    $("#invite-submit").disabled = false;
    ($("#invite-username-row").hidden ? $("#invite-password") : $("#invite-username")).focus();
  } catch (failure) {
    $("#invite-title").textContent = "";
    $("#invite-error").textContent = failure.message;
  } finally {
    document.body.dataset.ready = "true";
  }
}

$("#invite-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  $("#invite-error").textContent = "";
  if (form.elements.password.value !== form.elements.repeat.value) {
    $("#invite-error").textContent = "The two passwords differ.";
    return;
  }
  const body = { token, password: form.elements.password.value };
  if (kind === "join") body.username = form.elements.username.value.trim();
  try {
    const accepted = await post("/console/api/invite/accept", body);
    if (!accepted.loggedIn) {
      $("#invite-error").textContent = "Your password is set, but the account is disabled: ask your admin.";
      $("#invite-submit").disabled = true;
      return;
    }
    window.location.assign(home(accepted.roles));
  } catch (failure) {
    $("#invite-error").textContent = failure.message;
  }
});

start();
