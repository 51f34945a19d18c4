"use strict";
// The fleet page: fetches JSON every few seconds and redraws. Data is only ever inserted with
// textContent, never as HTML.
const REFRESH_MS = 3000;
const KIND = {checkout: "Borrowed", checkin: "Returned", renew: "Renewed", void: "Cancelled"};
const STATE = {
  online: {icon: "●", word: "online"},
  offline: {icon: "▲", word: "offline"},
  silent: {icon: "■", word: "silent"},
};

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function when(iso) {
  if (!iso) return "never";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString();
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const s = Math.round(seconds);
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
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

function stateCell(kiosk) {
  const td = el("td", null, `state state-${kiosk.state}`);
  const s = STATE[kiosk.state] || {icon: "?", word: kiosk.state};
  td.append(el("span", s.icon, "icon"), " ", el("span", s.word, "word"));
  if (kiosk.state === "silent") {
    td.append(el("div", kiosk.last_seen ? `since ${when(kiosk.last_seen)}` : "never seen",
                  "muted"));
  } else if (kiosk.silent_for_s !== null) {
    td.append(el("div", `heard ${duration(kiosk.silent_for_s)} ago`, "muted"));
  }
  return td;
}

function drawFleet(data) {
  const body = document.querySelector("#fleet tbody");
  body.replaceChildren();
  let attention = 0;
  for (const k of data.kiosks) {
    const tr = el("tr");
    tr.dataset.kiosk = k.kiosk_id;
    tr.dataset.state = k.state;
    const name = el("td");
    name.append(el("div", k.name), el("div", k.kiosk_id, "muted"));
    const queue = el("td", k.queue_depth, k.queue_depth ? "num warn" : "num");
    if (k.queue_depth && k.oldest_pending_age_s) {
      queue.append(el("div", `oldest ${duration(k.oldest_pending_age_s)}`, "muted"));
    }
    if (k.quarantined) {
      queue.append(el("div", `${k.quarantined} quarantined`, "bad"));
    }
    const faults = el("td", k.faults.length ? k.faults.join(", ") : "none",
                      k.faults.length ? "faults bad" : "faults muted");
    if (k.clock_skew_s !== null && k.clock_skew_s !== undefined && k.faults.includes("clock")) {
      faults.append(el("div", `clock off by ${duration(Math.abs(k.clock_skew_s))}`, "muted"));
    }
    if (k.status_problem) {
      faults.append(el("div", `status not understood: ${k.status_problem}`, "muted"));
    }
    const conflicts = el("td", k.conflicts, k.conflicts ? "num bad" : "num");
    tr.append(el("td", k.branch), name, stateCell(k), queue, faults, conflicts,
              el("td", k.loans_today, "num"), el("td", k.returns_today, "num"));
    if (k.state !== "online" || k.faults.length || k.conflicts || k.quarantined) {
      attention += 1;
      tr.classList.add("attention");
    }
    body.append(tr);
  }
  document.getElementById("summary").textContent =
    `${data.kiosks.length} kiosk(s); ${attention} need(s) attention.`;
  document.getElementById("updated").textContent = `updated ${when(data.generated_at)}`;
  document.getElementById("staff-name").textContent = data.staff;
}

async function resolve(conflictId, button) {
  button.disabled = true;
  const reply = await fetch(`/staff/api/conflicts/${conflictId}/resolve`, {
    method: "POST", credentials: "same-origin", headers: {"X-Staff-Request": "1"},
  });
  if (!reply.ok && reply.status !== 409) {
    button.disabled = false;
    showError(`Could not resolve conflict ${conflictId} (HTTP ${reply.status}).`);
    return;
  }
  await refresh();
}

function drawConflicts(data) {
  const body = document.querySelector("#conflicts tbody");
  body.replaceChildren();
  for (const c of data.conflicts) {
    const tr = el("tr");
    tr.dataset.conflict = c.conflict_id;
    const item = el("td");
    item.append(el("div", c.title || "(unknown title)"), el("div", c.item_id, "muted"));
    const kiosk = el("td");
    kiosk.append(el("div", c.kiosk_name), el("div", c.branch, "muted"));
    const what = el("td", KIND[c.kind] || c.kind);
    if (c.offline) what.append(el("div", "while offline", "muted"));
    const button = el("button", "Mark resolved", "resolve");
    button.addEventListener("click", () => resolve(c.conflict_id, button));
    const action = el("td");
    action.append(button);
    tr.append(el("td", when(c.happened_at)), kiosk, what, item, el("td", c.patron_id || "–"),
              el("td", c.reason), action);
    body.append(tr);
  }
  document.getElementById("no-conflicts").hidden = data.conflicts.length > 0;
  document.getElementById("conflicts").hidden = data.conflicts.length === 0;
}

function showError(message) {
  const box = document.getElementById("load-error");
  box.textContent = message;
  box.hidden = !message;
}

async function refresh() {
  try {
    const [fleet, conflicts] = await Promise.all([
      getJson("/staff/api/fleet"), getJson("/staff/api/conflicts")]);
    drawFleet(fleet);
    drawConflicts(conflicts);
    showError("");
  } catch (e) {
    if (e.message !== "logged out") showError(`The server cannot be reached (${e.message}).`);
  }
}

document.getElementById("logout").addEventListener("click", async () => {
  await fetch("/staff/api/logout", {method: "POST", credentials: "same-origin",
                                     headers: {"X-Staff-Request": "1"}});
  window.location.assign("/staff/login");
});

refresh();
setInterval(refresh, REFRESH_MS);
