"use strict";
// The staff pages' words in the staff member's language (central/staff_i18n.py). Elements
// marked data-t="English words" get the translation as text, data-t-label as aria-label; t()
// translates in scripts, with {name} placeholders. The choice is a cookie the server reads.
const I18N = {language: "en", strings: {}, names: {}};

function t(words, values = {}) {
  const text = I18N.strings[words] || words;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : `{${name}}`));
}

function applyWords(root = document) {
  for (const node of root.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
  for (const node of root.querySelectorAll("[data-t-label]")) {
    node.setAttribute("aria-label", t(node.dataset.tLabel));
  }
  document.documentElement.lang = I18N.language;
  if (document.body.dataset.title) document.title = t(document.body.dataset.title);
}

function languageChoice() {
  const box = document.getElementById("language-choice");
  if (!box) return;
  const select = document.createElement("select");
  select.id = "language";
  select.setAttribute("aria-label", "Language / Taal / Langue / Sprache");
  for (const [code, name] of Object.entries(I18N.names)) {
    const option = document.createElement("option");
    option.value = code;
    option.textContent = name;
    option.lang = code;
    option.selected = code === I18N.language;
    select.append(option);
  }
  select.addEventListener("change", () => {
    document.cookie = `kiosk_staff_lang=${select.value}; path=/staff; max-age=31536000; samesite=strict`;
    window.location.reload();
  });
  box.replaceChildren(select);
}

// A promise the pages wait for before their first drawing; English when the words cannot load.
const wordsReady = fetch("/staff/api/strings", {credentials: "same-origin"})
  .then(reply => (reply.ok ? reply.json() : null))
  .then(data => {
    if (data) Object.assign(I18N, {language: data.language, strings: data.strings, names: data.languages});
  })
  .catch(() => {})
  .then(() => {
    applyWords();
    languageChoice();
  });
