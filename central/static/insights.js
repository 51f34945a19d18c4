"use strict";
// The insights page: asks /staff/api/insights for one period and draws it with Chart.js (and
// its matrix plugin for the heat map). The server has withheld every figure under k visits
// (null); the page shows those as gaps and says why. Text goes in with textContent only.

// a function, not a table: the words are the staff member's language's, known once they load
function wordsTable() {
  return {
    borrow: t("Borrow"), return: t("Return"), renew: t("Renew"), account: t("My account"),
    done: t("Finished"), timeout: t("Walked off (timed out)"), abandoned: t("Gave up"),
    refused: t("Card refused"), error: t("Kiosk fault"),
    idle: t("Start screen"), pin: t("PIN"), home: t("Home"), receipt: t("Receipt question"),
    goodbye: t("Goodbye"),
    large_text: t("Large text"), high_contrast: t("High contrast"), speech: t("Speech"),
    keypad: t("Keypad"), more_time: t("More time"),
    barcode: t("Card barcode"), "barcode+pin": t("Card barcode + PIN"), card_uid: t("RFID card"),
    "card_uid+pin": t("RFID card + PIN"), eid: t("eID"), "eid+pin": t("eID + PIN"),
    none: t("No card"), "none+pin": t("No card"), print: t("Printed"), email: t("E-mail"),
    too_slow: t("Too slow"), could_not_find: t("Could not find how"),
    machine_error: t("The machine made an error"), other: t("Other"),
    // refusals, by the reason the kiosk gave the patron
    unknown_patron: t("Card not known"), pin_required: t("PIN needed"), wrong_pin: t("Wrong PIN"),
    blocked: t("Card blocked"), card_expired: t("Card expired"), fines_too_high: t("Fines too high"),
    too_many_items: t("Too many items"), unknown_item: t("Item not known"),
    not_for_loan: t("Not for loan"), on_hold_for_other: t("Reserved for someone else"),
    already_on_loan: t("Already on loan"), not_on_loan: t("Not on loan"),
    renew_limit: t("Renewed too often"), incomplete_set: t("Set incomplete"),
    foreign_item: t("Another library’s item"), offline_not_allowed: t("Not possible offline"),
    offline_limit: t("Offline limit reached"), patron_not_verified: t("Card not checked"),
    invalid_card: t("Card unreadable"), journal_full: t("Kiosk storage full"),
    security_failed: t("Security tag not switched"),
    nl: "Nederlands", fr: "Français", de: "Deutsch", en: "English",  // each in its own words
  };
}
let WORDS = null;
let DAYS = [];
const HOURS = Array.from({length: 24}, (_, h) => `${String(h).padStart(2, "0")}:00`);
const BLUE = "#0b4f6c", GREEN = "#1b7a3a", ORANGE = "#9a5b00";
const charts = {};

function word(key) {
  WORDS = WORDS || wordsTable();
  return WORDS[key] || key.replaceAll("_", " ");
}

// which visits, in the reader's language (the service's own label is English)
function scopeLabel(scope) {
  const who = scope.kiosk_id ? t("kiosk {kiosk}", {kiosk: scope.kiosk_id})
    : scope.branch ? t("branch {branch}", {branch: scope.branch}) : t("the whole library");
  return t("{who}, {start} to {end}", {who, start: scope.start, end: scope.end});
}

function shown(value, unit = "") {
  return value === null || value === undefined ? t("withheld") : `${value}${unit}`;
}

function minutes(seconds) {
  if (seconds === null || seconds === undefined) return t("withheld");
  return seconds < 90 ? `${seconds} s` : `${(seconds / 60).toFixed(1)} min`;
}

function draw(id, config) {
  if (charts[id]) charts[id].destroy();
  config.options = Object.assign({responsive: true, maintainAspectRatio: false, animation: false},
                                 config.options || {});
  charts[id] = new Chart(document.getElementById(id), config);
}

function bars(id, table, color = BLUE, horizontal = false, words = {}) {
  const keys = Object.keys(table);
  draw(id, {
    type: "bar",
    data: {labels: keys.map(k => words[k] || word(k)),
           datasets: [{label: t("visits"), data: keys.map(k => table[k]), backgroundColor: color}]},
    options: {indexAxis: horizontal ? "y" : "x", plugins: {legend: {display: false}}},
  });
}

function heat(rows, k) {
  const cells = [];
  let most = 1;
  rows.forEach((row, day) => row.forEach((n, hour) => {
    if (n !== null) most = Math.max(most, n);
    cells.push({x: HOURS[hour], y: DAYS[day], v: n});
  }));
  draw("heat", {
    type: "matrix",
    data: {datasets: [{
      label: t("visits"), data: cells,
      backgroundColor: c => {
        const v = c.raw && c.raw.v;
        if (v === null || v === undefined) return "#eceff1";
        return `rgba(11, 79, 108, ${0.15 + 0.85 * v / most})`;
      },
      width: ({chart}) => (chart.chartArea || {}).width / 24 - 1,
      height: ({chart}) => (chart.chartArea || {}).height / 7 - 1,
    }]},
    options: {
      plugins: {legend: {display: false}, tooltip: {callbacks: {
        title: items => `${items[0].raw.y} ${items[0].raw.x}`,
        label: item => (item.raw.v === null ? t("fewer than {k} visits", {k})
                                            : t("{n} visits", {n: item.raw.v})),
      }}},
      scales: {
        x: {type: "category", labels: HOURS, offset: true, grid: {display: false}},
        y: {type: "category", labels: DAYS, offset: true, reverse: false, grid: {display: false}},
      },
    },
  });
}

function figures(data) {
  const list = document.getElementById("figures");
  list.replaceChildren();
  const offline = data.offline_share === null ? t("withheld")
    : `${Math.round(data.offline_share * 100)} %`;
  for (const [label, value] of [
    [t("Visits"), shown(data.visits)],
    [t("Median visit"), minutes(data.seconds.median)],
    [t("90 % of visits within"), minutes(data.seconds.p90)],
    [t("Satisfaction (1 to 4)"), shown(data.feedback.mean)],
    [t("Answers to “How did it go?”"), shown(data.feedback.answers)],
    [t("Visits while offline"), offline],
  ]) {
    const box = el("div");
    box.append(el("dt", label), el("dd", value));
    list.append(box);
  }
}

function render(data) {
  document.getElementById("scope-label").textContent = scopeLabel(data.scope);
  document.getElementById("demo").hidden = !data.demo;
  document.getElementById("privacy").textContent = t("Anonymous: no patron, card, item or title is ever recorded; start times are rounded to the quarter hour. Any figure resting on fewer than {k} visits is withheld.",
    {k: data.min_visits});
  figures(data);
  heat(data.heat, data.min_visits);
  const kinds = Object.keys(data.funnel);
  draw("funnel", {
    type: "bar",
    data: {labels: kinds.map(word), datasets: [
      {label: t("started"), data: kinds.map(k => data.funnel[k].started), backgroundColor: BLUE},
      {label: t("completed"), data: kinds.map(k => data.funnel[k].completed), backgroundColor: GREEN},
    ]},
  });
  bars("gave-up", data.gave_up_on, ORANGE);
  const weeks = data.satisfaction_by_week;
  draw("satisfaction", {
    type: "line",
    data: {labels: weeks.map(w => w.week), datasets: [{label: t("mean score"),
      data: weeks.map(w => w.mean), borderColor: GREEN, backgroundColor: GREEN, spanGaps: false}]},
    options: {scales: {y: {min: 1, max: 4}}, plugins: {legend: {display: false}}},
  });
  bars("reasons", data.feedback.reasons, ORANGE, true);
  bars("refusals", data.refusals, ORANGE, true);
  bars("languages", data.languages);
  bars("access", data.access, GREEN);
  bars("identified", data.identified);
  bars("receipt", data.receipt, BLUE, false, {none: t("No receipt")});
}

function query() {
  const params = new URLSearchParams();
  const start = document.getElementById("start").value;
  const end = document.getElementById("end").value;
  const where = document.getElementById("where").value;
  if (start) params.set("start", start);
  if (end) params.set("end", end);
  if (where.startsWith("kiosk:")) params.set("kiosk", where.slice(6));
  if (where.startsWith("branch:")) params.set("branch", where.slice(7));
  return params.toString();
}

function choices(data) {
  const select = document.getElementById("where");
  if (select.options.length > 1) return;
  for (const branch of data.branch_choices) {
    select.append(new Option(t("Branch {branch}", {branch}), `branch:${branch}`));
  }
  for (const k of data.kiosk_choices) {
    select.append(new Option(`${k.branch}: ${k.name}`, `kiosk:${k.kiosk_id}`));
  }
}

async function load() {
  const q = query();
  const error = document.getElementById("load-error");
  try {
    const reply = await fetch(`/staff/api/insights?${q}`, {credentials: "same-origin"});
    if (reply.status === 401) { window.location.assign("/staff/login"); return; }
    const data = await reply.json();
    if (!reply.ok) throw new Error(data.error ? data.error.message : `HTTP ${reply.status}`);
    error.hidden = true;
    choices(data);
    document.getElementById("start").value = data.scope.start;
    document.getElementById("end").value = data.scope.end;
    document.getElementById("export-csv").href = `/staff/api/insights/export.csv?${q}`;
    document.getElementById("export-json").href = `/staff/api/insights/export.json?${q}`;
    render(data);
    document.body.dataset.loaded = "1";
  } catch (exc) {
    error.textContent = t("Could not load the insights: {error}", {error: exc.message});
    error.hidden = false;
  }
}

wordsReady.then(() => {
  DAYS = [t("Mon"), t("Tue"), t("Wed"), t("Thu"), t("Fri"), t("Sat"), t("Sun")];
  document.getElementById("scope").addEventListener("submit", event => {
    event.preventDefault();
    load();
  });
  load();
});
