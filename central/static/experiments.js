"use strict";
// The experiments page: each experiment's result (per variant: visits, the outcome with its
// 95 % interval, drawn with Chart.js as a floating bar; the test of the difference) and a form
// to start a new one. Text goes in with textContent only.

// as functions: the words are the staff member's language's, known once the page's words load
const FACTOR = {idle_message: () => t("the idle screen’s message"),
                receipt_default: () => t("the receipt question’s first choice"),
                feedback: () => t("whether “How did it go?” is asked")};
const OUTCOME = {completion: () => t("visits completed"),
                 satisfaction: () => t("satisfaction (1 to 4)"),
                 receipt_choice: () => t("visits choosing a receipt"),
                 visit_time: () => t("median visit time")};
// the service names its tests in English; the page says them in its reader's language
const TEST = {"two-proportion z-test": () => t("two-proportion z-test"),
              "Mann-Whitney U": () => t("Mann-Whitney U")};
const STATE = {planned: () => t("not started"), running: () => t("running"),
               ended: () => t("ended")};
const charts = [];

function shown(outcome, value) {
  if (value === null || value === undefined) return t("withheld");
  if (outcome === "completion" || outcome === "receipt_choice") return `${(value * 100).toFixed(1)} %`;
  if (outcome === "visit_time") return `${Math.round(value)} s`;
  return value.toFixed(2);
}

function valueText(factor, value) {
  if (factor === "idle_message") return value[I18N.language] || value.nl || Object.values(value)[0];
  return value;
}

function card(result) {
  const e = result.experiment;
  const box = el("section", null, "experiment");
  box.dataset.experiment = e.name;
  box.append(el("h2", `${e.name} \u2014 ${STATE[result.state]()}`));
  const where = e.kiosks.length ? t("kiosks {kiosks}", {kiosks: e.kiosks.join(", ")}) : t("every kiosk");
  box.append(el("p", t("Varies {factor}; measures {outcome}; {start} to {end}; {where}; planned {planned} visits per variant.",
    {factor: FACTOR[e.factor](), outcome: OUTCOME[e.outcome](), start: e.start, end: e.end, where,
     planned: e.planned}), "muted"));
  if (!result.plan_reached) {
    const smallest = result.smallest === null ? t("fewer than {n}", {n: result.min_visits})
                                              : result.smallest;
    box.append(el("p", `\u26a0 ${t("the planned {planned} sessions per variant are not reached yet (smallest: {smallest}): a difference now may be chance", {planned: e.planned, smallest})}`, "warn"));
  }
  const table = el("table");
  const head = el("tr");
  for (const h of [t("Variant"), t("Shows"), t("Visits"), OUTCOME[e.outcome](), t("95 % interval")]) {
    const th = el("th", h); th.scope = "col"; head.append(th);
  }
  table.append(el("thead")); table.tHead.append(head);
  const body = el("tbody");
  const values = Object.fromEntries(e.variants.map(v => [v.name, v.value]));
  for (const row of result.variants) {
    const tr = el("tr");
    const est = row.estimate;
    tr.append(el("td", row.variant), el("td", valueText(e.factor, values[row.variant])),
              el("td", row.sessions === null ? t("fewer than {n}", {n: result.min_visits}) : row.sessions, "num"),
              el("td", est ? shown(e.outcome, est.value) : t("withheld"), "num"),
              el("td", est ? `${shown(e.outcome, est.low)} \u2013 ${shown(e.outcome, est.high)}` : "", "num"));
    body.append(tr);
  }
  table.append(body);
  box.append(table);
  for (const test of result.tests) {
    const p = test.p_value < 0.001 ? "p < 0.001" : `p = ${test.p_value.toFixed(3)}`;
    const verdict = test.significant ? t("a difference unlikely to be chance (two-sided, 5 %).")
                                     : t("no difference shown (two-sided, 5 %).");
    box.append(el("p", t("{b} against {a}: {test}, {p} — {verdict}",
      {b: test.variants[1], a: test.variants[0], test: (TEST[test.test] || (() => test.test))(),
       p, verdict}),
      test.significant ? "ok" : ""));
  }
  const rows = result.variants.filter(r => r.estimate);
  if (rows.length) {
    const holder = el("div", null, "chart");
    const canvas = el("canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", t("{name}: {outcome} per variant with 95 % intervals",
      {name: e.name, outcome: OUTCOME[e.outcome]()}));
    holder.append(canvas);
    box.append(holder);
    charts.push(new Chart(canvas, {
      type: "bar",
      data: {labels: rows.map(r => r.variant), datasets: [
        {type: "bar", label: t("95 % interval"), data: rows.map(r => [r.estimate.low, r.estimate.high]),
         backgroundColor: "rgba(11, 79, 108, 0.35)", borderColor: "#0b4f6c", borderWidth: 1},
        {type: "line", label: t("estimate"), data: rows.map(r => r.estimate.value), showLine: false,
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
  if (!await sendForm("/staff/api/experiments", body)) return;
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

wordsReady.then(() => {
  addFleetChoices(document.getElementById("exp-where")).then(kiosks => { fleet = kiosks; });
  document.getElementById("new").addEventListener("submit", define);
  load().catch(exc => {
    const error = document.getElementById("load-error");
    error.textContent = t("Could not load the experiments: {error}", {error: exc.message});
    error.hidden = false;
  });
});
