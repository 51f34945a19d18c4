"use strict";
// The insights page: asks /staff/api/insights for one period and draws it with Chart.js (and
// its matrix plugin for the heat map). The server has withheld every figure under k visits
// (null); the page shows those as gaps and says why. Text goes in with textContent only.

const WORDS = {
  borrow: "Borrow", return: "Return", renew: "Renew", account: "My account",
  done: "Finished", timeout: "Walked off (timed out)", abandoned: "Gave up", refused: "Card refused",
  error: "Kiosk fault",
  idle: "Start screen", pin: "PIN", home: "Home", receipt: "Receipt question", goodbye: "Goodbye",
  large_text: "Large text", high_contrast: "High contrast", speech: "Speech", keypad: "Keypad",
  more_time: "More time",
  barcode: "Card barcode", "barcode+pin": "Card barcode + PIN", card_uid: "RFID card",
  "card_uid+pin": "RFID card + PIN", eid: "eID", "eid+pin": "eID + PIN", none: "No card",
  "none+pin": "No card", print: "Printed", email: "E-mail",
  too_slow: "Too slow", could_not_find: "Could not find how", machine_error: "The machine made an error",
  other: "Other",
  nl: "Nederlands", fr: "Français", de: "Deutsch", en: "English",
};
const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const HOURS = Array.from({length: 24}, (_, h) => `${String(h).padStart(2, "0")}:00`);
const BLUE = "#0b4f6c", GREEN = "#1b7a3a", ORANGE = "#9a5b00";
const charts = {};

function word(key) {
  return WORDS[key] || key.replaceAll("_", " ");
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function shown(value, unit = "") {
  return value === null || value === undefined ? "withheld" : `${value}${unit}`;
}

function minutes(seconds) {
  if (seconds === null || seconds === undefined) return "withheld";
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
    data: {labels: keys.map(k => words[k] || word(k)), datasets: [{label: "visits", data: keys.map(k => table[k]),
                                               backgroundColor: color}]},
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
      label: "visits", data: cells,
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
        label: item => item.raw.v === null ? `fewer than ${k} visits` : `${item.raw.v} visits`,
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
  const offline = data.offline_share === null ? "withheld" : `${Math.round(data.offline_share * 100)} %`;
  for (const [label, value] of [
    ["Visits", shown(data.visits)],
    ["Median visit", minutes(data.seconds.median)],
    ["90 % of visits within", minutes(data.seconds.p90)],
    ["Satisfaction (1 to 4)", shown(data.feedback.mean)],
    ["Answers to “How did it go?”", shown(data.feedback.answers)],
    ["Visits while offline", offline],
  ]) {
    const box = el("div");
    box.append(el("dt", label), el("dd", value));
    list.append(box);
  }
}

function render(data) {
  document.getElementById("scope-label").textContent = data.scope.label;
  document.getElementById("demo").hidden = !data.demo;
  document.getElementById("privacy").textContent =
    `Anonymous: no patron, card, item or title is ever recorded; start times are rounded to ` +
    `the quarter hour. Any figure resting on fewer than ${data.min_visits} visits is withheld.`;
  figures(data);
  heat(data.heat, data.min_visits);
  const kinds = Object.keys(data.funnel);
  draw("funnel", {
    type: "bar",
    data: {labels: kinds.map(word), datasets: [
      {label: "started", data: kinds.map(k => data.funnel[k].started), backgroundColor: BLUE},
      {label: "completed", data: kinds.map(k => data.funnel[k].completed), backgroundColor: GREEN},
    ]},
  });
  bars("gave-up", data.gave_up_on, ORANGE);
  const weeks = data.satisfaction_by_week;
  draw("satisfaction", {
    type: "line",
    data: {labels: weeks.map(w => w.week), datasets: [{label: "mean score",
      data: weeks.map(w => w.mean), borderColor: GREEN, backgroundColor: GREEN, spanGaps: false}]},
    options: {scales: {y: {min: 1, max: 4}}, plugins: {legend: {display: false}}},
  });
  bars("reasons", data.feedback.reasons, ORANGE, true);
  bars("refusals", data.refusals, ORANGE, true);
  bars("languages", data.languages);
  bars("access", data.access, GREEN);
  bars("identified", data.identified);
  bars("receipt", data.receipt, BLUE, false, {none: "No receipt"});
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
    select.append(new Option(`Branch ${branch}`, `branch:${branch}`));
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
    error.textContent = `Could not load the insights: ${exc.message}`;
    error.hidden = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("scope").addEventListener("submit", event => {
    event.preventDefault();
    load();
  });
  load();
});
