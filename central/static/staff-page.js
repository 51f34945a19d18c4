"use strict";
// What every staff page does the same way: make an element (text only through textContent,
// never as HTML), read the service's JSON (a lapsed login goes back to the login page), and
// send a form, showing the service's own words in #form-error when it says no.

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

async function getJson(url) {
  const reply = await fetch(url, {credentials: "same-origin"});
  if (reply.status === 401) {
    window.location.assign("/staff/login");
    throw new Error("logged out");
  }
  if (!reply.ok) throw new Error(`${url}: HTTP ${reply.status}`);
  return reply.json();
}

// POST `body` as a staff form; true when the service took it
async function sendForm(url, body) {
  const reply = await fetch(url, {
    method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-Staff-Request": "1"},
    body: JSON.stringify(body)});
  const error = document.getElementById("form-error");
  if (!reply.ok) {
    const data = await reply.json().catch(() => ({}));
    error.textContent = data.error ? data.error.message : `HTTP ${reply.status}`;
    error.hidden = false;
    return false;
  }
  error.hidden = true;
  return true;
}

// the "where" of a staff form: each branch, then each kiosk; the fleet's kiosks come back
async function addFleetChoices(select) {
  const kiosks = (await getJson("/staff/api/fleet")).kiosks;
  for (const branch of [...new Set(kiosks.map(k => k.branch))].sort()) {
    select.append(new Option(t("Branch {branch}", {branch}), `branch:${branch}`));
  }
  for (const k of kiosks) select.append(new Option(`${k.branch}: ${k.name}`, `kiosk:${k.kiosk_id}`));
  return kiosks;
}
