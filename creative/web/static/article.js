// Articles without full reloads: writing one (the model's runs report progress), and per section accept, write
// again and inline edit, each answered with the sections' new HTML swapped in place. Plain fetch calls; every
// POST carries the page's CSRF token.
"use strict";
(function () {
  const { csrf, notify, post } = window.creativeLive;

  // The part of the page a post answers with (the list, or the sections), kept open where the reader opened it.
  const part = document.getElementById("article-sections") || document.getElementById("article-list");
  if (!part) return;
  const polling = new Set();

  function swap(html) {
    const open = new Set([...part.querySelectorAll("details[open]")].map((d) => d.dataset.key));
    part.innerHTML = html;
    part.querySelectorAll("details").forEach((d) => { if (open.has(d.dataset.key)) d.open = true; });
    part.dataset.swaps = String(Number(part.dataset.swaps || 0) + 1);
    watchJobs();
  }

  async function refresh() {
    const res = await fetch(part.dataset.src, { credentials: "same-origin" });
    if (res.ok && !res.redirected) swap(await res.text());
    else notify("could not refresh the page's content; reload the page (log in again if asked)", "error");
  }

  function watchJobs() {
    part.querySelectorAll('.article-job[data-status="queued"], .article-job[data-status="running"]').forEach((el) => {
      const id = el.dataset.job;
      if (polling.has(id)) return;
      polling.add(id);
      const poll = async () => {
        const res = await fetch(`/copy/articles/jobs/${id}/status.json`, { credentials: "same-origin" });
        if (!res.ok || res.redirected) { polling.delete(id); return; }
        const s = await res.json();
        const current = part.querySelector(`.article-job[data-job="${id}"]`);
        if (current) {
          current.querySelector(".run-status").textContent = s.summary;
          const bar = current.querySelector(".run-progress");
          if (bar) { bar.max = Math.max(1, s.total); bar.value = s.done; }
        }
        if (s.status === "done" || s.status === "failed") {
          polling.delete(id);
          notify(s.message, s.status === "done" ? "ok" : "error");
          refresh();
        } else setTimeout(poll, 1000);
      };
      setTimeout(poll, 500);
    });
  }
  watchJobs();

  // ---- the articles page: write one -----------------------------------------------------------------
  document.getElementById("article-form")?.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const data = await post(ev.target.action, new FormData(ev.target));
    if (data.location) { location.assign(data.location); return; }  // written at once: open it
    notify(data.message, data.kind);
    if (data.html) swap(data.html);
  });

  // ---- the article view: one section's actions --------------------------------------------------------
  // After a swap, focus goes back to the same control of the same section, so a keyboard user keeps their place.
  function refocus(position, selector) {
    const section = document.getElementById(`section-${position}`);
    const target = section?.querySelector(selector) || section?.querySelector("button");
    target?.focus();
  }

  part.addEventListener("submit", async (ev) => {
    const form = ev.target.closest("form.section-actions");
    if (!form) return;
    ev.preventDefault();
    const button = ev.submitter;
    const body = new FormData(form);
    if (button && button.name) body.set(button.name, button.value);
    const url = button?.getAttribute("formaction") || form.action;
    if (url.endsWith("/regenerate")) body.set("engine", document.getElementById("regen-engine")?.value || "grammar");
    const position = form.closest(".art-section").dataset.position;
    const again = button?.classList.contains("regenerate") ? "button.regenerate" : "button.accept, button.unaccept";
    if (button) button.disabled = true;
    const data = await post(url, body);
    notify(data.message, data.kind);
    if (data.html) swap(data.html);
    else if (button) button.disabled = false;
    refocus(position, again);
  });

  part.addEventListener("click", async (ev) => {
    const edit = ev.target.closest("button.edit");
    if (edit) { openEditor(edit); return; }
    const copy = ev.target.closest("button.copy-out");
    if (copy) copyOut(copy);
  });

  function openEditor(button) {
    const section = button.closest(".art-section");
    if (section.querySelector(".section-editor")) { section.querySelector("textarea").focus(); return; }
    const position = section.dataset.position;
    const error = section.querySelector(".edit-error");
    const editor = document.createElement("div");
    editor.className = "section-editor";
    const label = Object.assign(document.createElement("label"), { htmlFor: `edit-text-${position}`, textContent: "New text of this section" });
    const field = Object.assign(document.createElement("textarea"), { id: `edit-text-${position}`, name: "text", maxLength: 4000,
                                                                      value: section.querySelector(".section-text").dataset.text });
    field.setAttribute("aria-describedby", error.id);
    const save = Object.assign(document.createElement("button"), { type: "button", textContent: "Save", className: "save-edit" });
    const cancel = Object.assign(document.createElement("button"), { type: "button", textContent: "Cancel", className: "secondary cancel-edit" });
    const bar = Object.assign(document.createElement("div"), { className: "actions" });
    bar.append(save, cancel);
    editor.append(label, field, bar);
    section.querySelector("form.section-actions").before(editor);
    field.focus();
    const close = () => { editor.remove(); error.hidden = true; button.focus(); };
    const submit = async () => {
      const body = new FormData();
      body.set("csrf", csrf);
      body.set("text", field.value);
      save.disabled = true;
      const data = await post(button.dataset.action, body);
      save.disabled = false;
      notify(data.message, data.kind);
      if (data.kind === "ok") {
        if (data.html) swap(data.html);
        refocus(position, "button.edit");
      } else {  // refused: the old text stays on the page and in the article; the attempt stays in the field to fix
        error.textContent = data.message;
        error.hidden = false;
        field.focus();
      }
    };
    save.addEventListener("click", submit);
    cancel.addEventListener("click", close);
    field.addEventListener("keydown", (e) => {
      if (e.key === "Escape") { e.preventDefault(); close(); }
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); submit(); }
    });
  }

  async function copyOut(button) {
    const res = await fetch(button.dataset.src, { credentials: "same-origin" });
    const text = await res.text();
    if (!res.ok) { notify(text || `could not fetch the article (HTTP ${res.status})`, "error"); return; }
    const what = button.id === "copy-html" ? "HTML" : "Markdown";
    try {
      await navigator.clipboard.writeText(text);
      notify(`the accepted sections are on the clipboard as ${what}`, "ok");
    } catch (_) {  // no clipboard (a page served over plain HTTP from another host): select the text to copy by hand
      let box = document.getElementById("copy-fallback");
      if (!box) {
        box = Object.assign(document.createElement("textarea"), { id: "copy-fallback", className: "copy-fallback", readOnly: true });
        box.setAttribute("aria-label", "the article to copy");
        button.closest(".publish").append(box);
      }
      box.value = text;
      box.focus();
      box.select();
      notify(`the browser gave no clipboard: the ${what} is selected below, press Ctrl+C (⌘C) to copy it`, "ok");
    }
  }
})();
