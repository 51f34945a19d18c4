"use strict";
// The experiments page: each experiment's result (per variant: visits, the outcome with its
// 95 % interval, drawn with Chart.js as a floating bar; the test of the difference) and a form
// to start a new one. Text goes in with textContent only.

const FACTOR = {idle_message: "the idle screen's message",
                receipt_default: "the receipt question's first choice",
                feedback: "whether \u201cHow did it go?\u201d is asked"};
const OUTCOME = {completion: "visits completed", satisfaction: "satisfaction (1 to 4)",
                 receipt_choice: "visits choosing a receipt", visit_time: "median visit time"};
const STATE = {planned: "not started", running: "running", ended: "ended"};
const charts = [];

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function shown(outcome, value) {
  if (value === null || value === undefined) return "withheld";
  if (outcome === "completion" || outcome === "receipt_choice") return `${(value * 100).toFixed(1)} %`;
  if (outcome === "visit_time") return `${Math.round(value)} s`;
  return value.toFixed(2);
}

function valueText(factor, value) {
  if (factor === "idle_message") return value.nl || Object.values(value)[0];
  return value;
}

function card(result) {
  const e = result.experiment;
  const box = el("section", null, "experiment");
  box.dataset.experiment = e.name;
  box.append(el("h2", `${e.name} \u2014 ${STATE[result.state]}`));
  box.append(el("p", `Varies ${FACTOR[e.factor]}; measures ${OUTCOME[e.outcome]}; ` +
    `${e.start} to ${e.end}; ${e.kiosks.length ? "kiosks " + e.kiosks.join(", ") : "every kiosk"}; ` +
    `planned ${e.planned} visits per variant.`, "muted"));
  if (result.warning) box.append(el("p", `\u26a0 ${result.warning}`, "warn"));
  const table = el("table");
  const head = el("tr");
  for (const h of ["Variant", "Shows", "Visits", OUTCOME[e.outcome], "95 % interval"]) {
    const th = el("th", h); th.scope = "col"; head.append(th);
  }
  table.append(el("thead")); table.tHead.append(head);
  const body = el("tbody");
  const values = Object.fromEntries(e.variants.map(v => [v.name, v.value]));
  for (const row of result.variants) {
    const tr = el("tr");
    const est = row.estimate;
    tr.append(el("td", row.variant), el("td", valueText(e.factor, values[row.variant])),
              el("td", row.sessions === null ? "fewer than 5" : row.sessions, "num"),
              el("td", est ? shown(e.outcome, est.value) : "withheld", "num"),
              el("td", est ? `${shown(e.outcome, est.low)} \u2013 ${shown(e.outcome, est.high)}` : "", "num"));
    body.append(tr);
  }
  table.append(body);
  box.append(table);
  for (const t of result.tests) {
    const p = t.p_value < 0.001 ? "p < 0.001" : `p = ${t.p_value.toFixed(3)}`;
    box.append(el("p", `${t.variants[1]} against ${t.variants[0]}: ${t.test}, ${p} \u2014 ` +
      (t.significant ? "a difference unlikely to be chance (two-sided, 5 %)."
                     : "no difference shown (two-sided, 5 %)."), t.significant ? "ok" : ""));
  }
  const rows = result.variants.filter(r => r.estimate);
  if (rows.length) {
    const holder = el("div", null, "chart");
    const canvas = el("canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", `${e.name}: ${OUTCOME[e.outcome]} per variant with 95 % intervals`);
    holder.append(canvas);
    box.append(holder);
    charts.push(new Chart(canvas, {
      type: "bar",
      data: {labels: rows.map(r => r.variant), datasets: [
        {type: "bar", label: "95 % interval", data: rows.map(r => [r.estimate.low, r.estimate.high]),
         backgroundColor: "rgba(11, 79, 108, 0.35)", borderColor: "#0b4f6c", borderWidth: 1},
        {type: "line", label: "estimate", data: rows.map(r => r.estimate.value), showLine: false,
         pointRadius: 7, pointStyle: "rectRot", backgroundColor: "#1b7a3a", borderColor: "#1b7a3a"},
      ]},
      options: {responsive: true, maintainAspectRatio: false, animation: false,
                scales: {y: {beginAtZero: false, grace: "10%"}}},
    }));
  }
  return box;
}

async function load() {
  const reply = await fetch("/staff/api/experiments", {credentials: "same-origin"});
  if (reply.status === 401) { window.location.assign("/staff/login"); return; }
  const data = await reply.json();
  const list = document.getElementById("experiments");
  while (charts.length) charts.pop().destroy();
  list.replaceChildren(...data.experiments.map(card));
  document.getElementById("none").hidden = data.experiments.length > 0;
  document.body.dataset.loaded = String(Date.now());
}

function variant(prefix, factor) {
  const name = document.getElementById(`exp-${prefix}-name`).value.trim();
  const value = document.getElementById(`exp-${prefix}-value`).value.trim();
  return {name, value: factor === "idle_message" ? {nl: value} : value};
}

async function define(event) {
  event.preventDefault();
  const factor = document.getElementById("exp-factor").value;
  const body = {
    name: document.getElementById("exp-name").value.trim(), factor,
    outcome: document.getElementById("exp-outcome").value,
    start: document.getElementById("exp-start").value,
    end: document.getElementById("exp-end").value,
    planned: Number(document.getElementById("exp-planned").value),
    variants: [variant("a", factor), variant("b", factor)],
    kiosks: kiosksOf(document.getElementById("exp-where").value),
  };
  const error = document.getElementById("form-error");
  const reply = await fetch("/staff/api/experiments", {
    method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-Staff-Request": "1"},
    body: JSON.stringify(body)});
  if (!reply.ok) {
    const data = await reply.json().catch(() => ({}));
    error.textContent = data.error ? data.error.message : `HTTP ${reply.status}`;
    error.hidden = false;
    return;
  }
  error.hidden = true;
  document.getElementById("new").reset();
  await load();
}

let fleet = [];

function kiosksOf(where) {
  if (where.startsWith("kiosk:")) return [where.slice(6)];
  if (where.startsWith("branch:")) {
    return fleet.filter(k => k.branch === where.slice(7)).map(k => k.kiosk_id);
  }
  return [];
}

async function choices() {
  const reply = await fetch("/staff/api/fleet", {credentials: "same-origin"});
  if (!reply.ok) return;
  fleet = (await reply.json()).kiosks;
  const select = document.getElementById("exp-where");
  for (const branch of [...new Set(fleet.map(k => k.branch))].sort()) {
    select.append(new Option(`Branch ${branch}`, `branch:${branch}`));
  }
  for (const k of fleet) select.append(new Option(`${k.branch}: ${k.name}`, `kiosk:${k.kiosk_id}`));
}

document.addEventListener("DOMContentLoaded", () => {
  choices();
  document.getElementById("new").addEventListener("submit", define);
  load().catch(exc => {
    const error = document.getElementById("load-error");
    error.textContent = `Could not load the experiments: ${exc.message}`;
    error.hidden = false;
  });
});
