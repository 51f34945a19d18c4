"use strict";
// Messages to patrons: the list (with how often each was shown) and the form to publish one.
// Text goes in with textContent only.

// a category the form offers, as the list names it (another comes from the library system)
function audienceName(audience) {
  return {adult: t("adults"), child: t("children"), school: t("schools")}[audience]
    || audience || t("everyone");
}

async function load() {
  const data = await getJson("/staff/api/messages");
  const body = document.querySelector("#messages tbody");
  body.replaceChildren(...data.messages.map(m => {
    const tr = el("tr");
    tr.dataset.message = m.message_id;
    const where = [...m.branches.map(b => t("branch {branch}", {branch: b})), ...m.kiosks].join(", ")
      || t("every kiosk");
    const text = m.texts[I18N.language] || m.texts.nl || Object.values(m.texts)[0];
    tr.append(el("td", text), el("td", m.start), el("td", m.end), el("td", where),
              el("td", audienceName(m.audience)),
              el("td", m.shown));
    return tr;
  }));
  document.body.dataset.loaded = String(Date.now());
}

async function publish(event) {
  event.preventDefault();
  const texts = {};
  for (const lang of ["nl", "fr", "de", "en"]) {
    const text = document.getElementById(`msg-${lang}`).value.trim();
    if (text) texts[lang] = text;
  }
  const where = document.getElementById("msg-where").value;
  const body = {texts, start: document.getElementById("msg-start").value,
                end: document.getElementById("msg-end").value,
                audience: document.getElementById("msg-audience").value,
                kiosks: where.startsWith("kiosk:") ? [where.slice(6)] : [],
                branches: where.startsWith("branch:") ? [where.slice(7)] : []};
  if (!await sendForm("/staff/api/messages", body)) return;
  document.getElementById("new").reset();
  await load();
}

wordsReady.then(() => {
  document.getElementById("new").addEventListener("submit", publish);
  addFleetChoices(document.getElementById("msg-where"));
  load();
});
