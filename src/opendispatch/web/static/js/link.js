// The link page: a logged-in console user redeems the code a game server issued for a player.
import { api, get, setCsrfToken } from "./api.js";

const form = document.getElementById("link-form");
const codeInput = document.getElementById("link-code");
const who = document.getElementById("link-who");
const error = document.getElementById("link-error");
const done = document.getElementById("link-done");
const submit = document.getElementById("link-submit");
const login = document.getElementById("link-login");

codeInput.value = new URLSearchParams(window.location.search).get("code") || "";

async function start() {
  try {
    const session = await get("/console/api/session");
    setCsrfToken(session.csrfToken);
    who.textContent = `Logged in as ${session.username} (${session.communityName}).`;
  } catch (failure) {
    submit.disabled = true;
    login.hidden = false;
    if (failure.status !== 401) error.textContent = failure.message;
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.textContent = "";
  done.textContent = "";
  try {
    const linked = await api("POST", "/console/api/links/redeem", { code: codeInput.value.trim() });
    done.textContent = `Linked: your account now answers for ${linked.communityUserId}.`;
    submit.disabled = true;
  } catch (failure) {
    error.textContent = failure.message;
  }
});

start();
