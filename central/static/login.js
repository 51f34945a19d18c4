"use strict";
// Staff login: posts JSON, the server answers with an HttpOnly session cookie.
document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("login-error");
  error.hidden = true;
  const body = {
    name: document.getElementById("name").value,
    password: document.getElementById("password").value,
  };
  try {
    const reply = await fetch("/staff/api/login", {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-Staff-Request": "1"},
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    if (reply.ok) {
      window.location.assign("/staff/");
      return;
    }
    const data = await reply.json().catch(() => ({}));
    const said = (data.error && data.error.message) || "";
    // the server's words are English; the common one is translated here
    error.textContent = said === "wrong name or password" ? t("wrong name or password")
      : said || t("Login failed.");
  } catch (e) {
    error.textContent = t("The server cannot be reached.");
  }
  error.hidden = false;
  document.getElementById("password").value = "";
});
