"use strict";
// Kiosk profiles: the layers as TOML, the form that sets one, and who changed what.
// Text goes in with textContent only.

function layerName(scope, target) {
  if (scope === "library") return t("Every kiosk");
  if (scope === "branch") return t("Branch {branch}", {branch: target});
  return t("Kiosk {kiosk}", {kiosk: target});
}

function settingsCell(toml) {
  const td = el("td");
  td.append(toml ? el("pre", toml) : el("span", t("(none)"), "muted"));
  return td;
}

function when(iso) {
  return new Date(iso).toLocaleString(I18N.language);
}

async function load() {
  const data = await getJson("/staff/api/profiles");
  const layers = document.querySelector("#layers tbody");
  layers.replaceChildren(...data.layers.map(layer => {
    const tr = el("tr");
    tr.dataset.layer = `${layer.scope}:${layer.target}`;
    const changed = el("td");
    changed.append(el("div", layer.changed_by), el("div", when(layer.changed_at), "muted"));
    tr.append(el("td", layerName(layer.scope, layer.target)), settingsCell(layer.toml),
              el("td", layer.version, "version"), changed);
    return tr;
  }));
  document.getElementById("no-layers").hidden = data.layers.length > 0;
  const changes = document.querySelector("#changes tbody");
  changes.replaceChildren(...data.changes.map(c => {
    const tr = el("tr");
    tr.append(el("td", when(c.changed_at)), el("td", c.changed_by),
              el("td", layerName(c.scope, c.target)), settingsCell(c.before_toml),
              settingsCell(c.after_toml));
    return tr;
  }));
  window.layersByKey = Object.fromEntries(data.layers.map(l => [`${l.scope}:${l.target}`, l.toml]));
  document.body.dataset.loaded = String(Date.now());
}

// choosing a layer puts its settings in the box, to be changed rather than retyped
function fill() {
  const key = document.getElementById("layer-for").value;
  document.getElementById("layer-toml").value = (window.layersByKey || {})[key] || "";
}

async function save(event) {
  event.preventDefault();
  const chosen = document.getElementById("layer-for").value;
  const cut = chosen.indexOf(":");
  const body = {scope: chosen.slice(0, cut), target: chosen.slice(cut + 1),
                toml: document.getElementById("layer-toml").value};
  if (!await sendForm("/staff/api/profiles", body)) return;
  await load();
  fill();  // the layer as the service keeps it
}

wordsReady.then(async () => {
  document.getElementById("set").addEventListener("submit", save);
  document.getElementById("layer-for").addEventListener("change", fill);
  await addFleetChoices(document.getElementById("layer-for"));
  await load();
  fill();
});
