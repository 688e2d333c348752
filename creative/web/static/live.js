// What the pages that change in place share: the page's CSRF token, one live status line, and a POST that
// answers with {message, kind, ...} whatever the server sent. Loaded before the page's own script.
"use strict";
window.creativeLive = (function () {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const main = document.querySelector("main") || document.body;

  // One live status line (the page's flash element), kept in view while the reader is scrolled down.
  function notify(message, kind) {
    let el = document.getElementById("flash");
    if (!el) {
      el = document.createElement("p");
      el.id = "flash";
      el.setAttribute("role", "status");
      main.prepend(el);
    }
    el.className = `flash live ${kind || "ok"}`;
    el.textContent = message;
  }

  async function post(url, body) {
    const res = await fetch(url, { method: "POST", body, credentials: "same-origin",
                                   headers: { "X-CSRF-Token": csrf, Accept: "application/json" } });
    let data = null;
    try { data = await res.json(); } catch (_) { /* not JSON: reported below */ }
    if (!data) data = { message: `the server answered HTTP ${res.status}; reload the page`, kind: "error" };
    if (!data.message && data.error) data = { ...data, message: data.error, kind: "error" };
    return data;
  }

  return { csrf, notify, post };
})();
