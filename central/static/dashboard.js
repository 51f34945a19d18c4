"use strict";
// The fleet page: fetches JSON every few seconds and redraws; the charts of the fleet over
// time every minute (Chart.js). Data is only ever inserted with textContent, never as HTML.
// Words go through t() (staff-i18n.js), which loads before this script.
const REFRESH_MS = 3000;
const HISTORY_MS = 60000;
// functions, not tables: the words are known only once staff-i18n.js has loaded them
function kindWord(kind) {
  return {checkout: t("Borrowed"), checkin: t("Returned"), renew: t("Renewed"),
          void: t("Cancelled")}[kind] || kind;
}

function stateOf(state) {
  return {online: {icon: "●", word: t("online")}, offline: {icon: "▲", word: t("offline")},
          silent: {icon: "■", word: t("silent")}}[state] || {icon: "?", word: state};
}
const BLUE = "#0b4f6c", GREEN = "#1b7a3a", ORANGE = "#9a5b00";
const charts = {};
let span = "24h";

function when(iso) {
  if (!iso) return t("never");
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString(I18N.language);
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const s = Math.round(seconds);
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return t("{n} days", {n: Math.round(s / 86400)});
}

function stateCell(kiosk) {
  const td = el("td", null, `state state-${kiosk.state}`);
  const s = stateOf(kiosk.state);
  td.append(el("span", s.icon, "icon"), " ", el("span", s.word, "word"));
  if (kiosk.state === "silent") {
    td.append(el("div", kiosk.last_seen ? t("since {moment}", {moment: when(kiosk.last_seen)})
                                        : t("never seen"), "muted"));
  } else if (kiosk.silent_for_s !== null) {
    td.append(el("div", t("heard {duration} ago", {duration: duration(kiosk.silent_for_s)}),
                  "muted"));
  }
  return td;
}

// "0.2.0 on 38, 0.1.0 on 2": the fleet's versions, the most common first
function versionsLine(kiosks) {
  const counts = new Map();
  for (const k of kiosks) {
    const v = k.version || t("unknown");
    counts.set(v, (counts.get(v) || 0) + 1);
  }
  const parts = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([v, n]) => t("{version} on {n}", {version: v, n: n}));
  return parts.length ? t("Versions: {list}", {list: parts.join(", ")}) : "";
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
      queue.append(el("div", t("oldest {duration}", {duration: duration(k.oldest_pending_age_s)}),
                      "muted"));
    }
    if (k.quarantined) {
      queue.append(el("div", t("{n} quarantined", {n: k.quarantined}), "bad"));
    }
    const faults = el("td", k.faults.length ? k.faults.join(", ") : t("none"),
                      k.faults.length ? "faults bad" : "faults muted");
    if (k.clock_skew_s !== null && k.clock_skew_s !== undefined && k.faults.includes("clock")) {
      faults.append(el("div", t("clock off by {duration}",
                                {duration: duration(Math.abs(k.clock_skew_s))}), "muted"));
    }
    if (k.status_problem) {
      faults.append(el("div", t("status not understood: {fields}", {fields: k.status_problem}),
                       "muted"));
    }
    const conflicts = el("td", k.conflicts, k.conflicts ? "num bad" : "num");
    const version = el("td", k.version || t("unknown"), k.version ? "version" : "version muted");
    if (k.profile) {
      version.append(el("div", t("profile {version}", {version: k.profile.running}), "muted"));
      if (k.profile.pending) {
        version.append(el("div", t("profile {version} waits for a quiet moment",
                                   {version: k.profile.pending}), "muted"));
      }
      if (k.profile.problem) {
        const words = k.profile.problem.outcome === "refused" ?
          t("profile {version} refused", {version: k.profile.problem.version}) :
          t("profile {version} rolled back", {version: k.profile.problem.version});
        const problem = el("div", words, "bad");
        problem.title = k.profile.problem.why;
        version.append(problem);
      }
    }
    if (k.update_failed) {
      const back = el("div", t("{version} failed, went back", {version: k.update_failed.tried}),
                      "bad");
      back.title = k.update_failed.reason;
      version.append(back);
    }
    tr.append(el("td", k.branch), name, stateCell(k), queue, faults, conflicts,
              el("td", k.loans_today, "num"), el("td", k.returns_today, "num"), version);
    if (k.state !== "online" || k.faults.length || k.conflicts || k.quarantined ||
        k.update_failed || (k.profile && k.profile.problem)) {
      attention += 1;
      tr.classList.add("attention");
    }
    body.append(tr);
  }
  document.getElementById("summary").textContent =
    t("{kiosks} kiosk(s); {attention} need(s) attention.",
      {kiosks: data.kiosks.length, attention: attention});
  document.getElementById("versions").textContent = versionsLine(data.kiosks);
  document.getElementById("updated").textContent =
    t("updated {moment}", {moment: when(data.generated_at)});
  document.getElementById("staff-name").textContent = data.staff;
}

async function resolve(conflictId, button) {
  button.disabled = true;
  const reply = await fetch(`/staff/api/conflicts/${conflictId}/resolve`, {
    method: "POST", credentials: "same-origin", headers: {"X-Staff-Request": "1"},
  });
  if (!reply.ok && reply.status !== 409) {
    button.disabled = false;
    showError(t("Could not resolve conflict {id} (HTTP {status}).",
                {id: conflictId, status: reply.status}));
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
    item.append(el("div", c.title || t("(unknown title)")), el("div", c.item_id, "muted"));
    const kiosk = el("td");
    kiosk.append(el("div", c.kiosk_name), el("div", c.branch, "muted"));
    const what = el("td", kindWord(c.kind));
    if (c.offline) what.append(el("div", t("while offline"), "muted"));
    const button = el("button", t("Mark resolved"), "resolve");
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
    if (e.message !== "logged out") {
      showError(t("The server cannot be reached ({why}).", {why: e.message}));
    }
  }
}

function moment(iso, width) {
  const d = new Date(iso);
  const options = width >= 3600 && span === "7d"
    ? {weekday: "short", hour: "2-digit", minute: "2-digit"}
    : {hour: "2-digit", minute: "2-digit"};
  return d.toLocaleString(I18N.language, options);
}

function draw(id, config) {
  if (charts[id]) charts[id].destroy();
  config.options = Object.assign({responsive: true, maintainAspectRatio: false, animation: false},
                                 config.options || {});
  charts[id] = new Chart(document.getElementById(id), config);
}

function drawHistory(data) {
  const labels = data.fleet.map(p => moment(p.at, data.width_s));
  draw("fleet-chart", {
    type: "line",
    data: {labels, datasets: [
      {label: t("Kiosks online"), data: data.fleet.map(p => p.online), borderColor: GREEN,
       backgroundColor: GREEN, stepped: true, pointRadius: 0, yAxisID: "kiosks"},
      {label: t("Queued transactions"), data: data.fleet.map(p => p.queue), borderColor: ORANGE,
       backgroundColor: ORANGE, pointRadius: 0, yAxisID: "queue"},
    ]},
    options: {scales: {
      kiosks: {position: "left", beginAtZero: true, ticks: {precision: 0},
               title: {display: true, text: t("kiosks")}},
      queue: {position: "right", beginAtZero: true, ticks: {precision: 0},
              grid: {drawOnChartArea: false}, title: {display: true, text: t("queued")}},
      x: {ticks: {maxTicksLimit: 12}},
    }},
  });
  const hours = data.circulation.map(p => moment(p.at, 3600));
  draw("circulation-chart", {
    type: "bar",
    data: {labels: hours, datasets: [
      {label: t("Loans"), data: data.circulation.map(p => p.loans), backgroundColor: BLUE},
      {label: t("Returns"), data: data.circulation.map(p => p.returns), backgroundColor: GREEN},
    ]},
    options: {scales: {y: {beginAtZero: true, ticks: {precision: 0}},
                       x: {ticks: {maxTicksLimit: 12}}}},
  });
  const last = data.fleet[data.fleet.length - 1] || {online: 0, queue: 0};
  const most = Math.max(0, ...data.fleet.map(p => p.queue));
  document.getElementById("fleet-chart-summary").textContent =
    t("Now {online} kiosk(s) online and {queue} transaction(s) queued; at most {most} queued in this period.",
      {online: last.online, queue: last.queue, most: most});
  const sum = key => data.circulation.reduce((total, p) => total + p[key], 0);
  document.getElementById("circulation-chart-summary").textContent =
    t("{loans} loan(s) and {returns} return(s) in this period.",
      {loans: sum("loans"), returns: sum("returns")});
}

async function refreshHistory() {
  try {
    drawHistory(await getJson(`/staff/api/series?span=${span}`));
  } catch (e) {
    if (e.message !== "logged out") {
      showError(t("The server cannot be reached ({why}).", {why: e.message}));
    }
  }
}

for (const button of document.querySelectorAll("button.span")) {
  button.addEventListener("click", () => {
    span = button.dataset.span;
    for (const other of document.querySelectorAll("button.span")) {
      other.setAttribute("aria-pressed", String(other === button));
    }
    refreshHistory();
  });
}

document.getElementById("logout").addEventListener("click", async () => {
  await fetch("/staff/api/logout", {method: "POST", credentials: "same-origin",
                                     headers: {"X-Staff-Request": "1"}});
  window.location.assign("/staff/login");
});

wordsReady.then(() => {
  refresh();
  refreshHistory();
  setInterval(refresh, REFRESH_MS);
  setInterval(refreshHistory, HISTORY_MS);
});
