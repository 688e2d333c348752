// The marketer's pages without full reloads: copy review decisions swap the review in place, running
// jobs report progress and time left, the batch form counts its banners as it changes, the gallery
// filters and reviews banners in place. Plain fetch calls; every POST carries the page's CSRF token.
"use strict";
(function () {
  const { csrf, notify, post } = window.creativeLive;

  const mmss = (s) => (s < 60 ? `${Math.round(s)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`);

  // ---- copy review ------------------------------------------------------------------------------
  const review = document.getElementById("copy-review");
  if (review) {
    const polling = new Set();

    function swap(html) {
      const open = new Set([...review.querySelectorAll("details[open]")].map((d) => d.dataset.key));
      review.innerHTML = html;
      review.querySelectorAll("details").forEach((d) => { if (open.has(d.dataset.key)) d.open = true; });
      watchRuns();
      review.dataset.swaps = String(Number(review.dataset.swaps || 0) + 1);
    }

    async function refresh() {
      const res = await fetch(review.dataset.src, { credentials: "same-origin" });
      if (res.ok && !res.redirected) swap(await res.text());  // redirected: the session ended (the login page)
      else notify("could not refresh the review; reload the page (log in again if asked)", "error");
    }

    async function send(url, body) {
      const data = await post(url, body);
      notify(data.message, data.kind);
      if (data.html) swap(data.html);
    }

    function watchRuns() {
      review.querySelectorAll('.copy-run[data-status="queued"], .copy-run[data-status="running"]').forEach((run) => {
        const id = run.dataset.job;
        if (polling.has(id)) return;
        polling.add(id);
        const poll = async () => {
          const res = await fetch(`/copy/${id}/status.json`, { credentials: "same-origin" });
          if (!res.ok || res.redirected) { polling.delete(id); return; }
          const s = await res.json();
          const current = document.getElementById(`run-${id}`);
          if (current) {
            current.querySelector(".run-status").textContent = s.summary;
            const bar = current.querySelector(".run-progress");
            if (bar) { bar.max = Math.max(1, s.total); bar.value = s.done; }
          }
          if (s.status === "done" || s.status === "failed") { polling.delete(id); refresh(); }
          else setTimeout(poll, 1000);
        };
        setTimeout(poll, 500);
      });
    }
    watchRuns();

    document.getElementById("copy-form")?.addEventListener("submit", (ev) => {
      ev.preventDefault();
      send(ev.target.action, new FormData(ev.target));
    });

    // decisions: the row's own buttons (formaction) and the bulk buttons post the run's form
    review.addEventListener("submit", (ev) => {
      const form = ev.target.closest("form.copy-decisions");
      if (!form) return;
      ev.preventDefault();
      const button = ev.submitter;
      const body = new FormData(form);
      if (button && button.name) body.set(button.name, button.value);
      send(button?.getAttribute("formaction") || form.action, body);
    });

    review.addEventListener("change", (ev) => {
      if (!ev.target.classList.contains("select-all")) return;
      const form = ev.target.closest("form");
      form.querySelectorAll(".style-group > table input[name=ids]").forEach((box) => { box.checked = ev.target.checked; });
    });

    // inline edit: the text cell becomes a field; saving re-runs the guardrails on the server
    review.addEventListener("click", (ev) => {
      const button = ev.target.closest("button.edit");
      if (!button) return;
      const cell = button.closest("tr").querySelector("td.text");
      if (cell.querySelector("input")) return;
      const old = cell.textContent.trim();
      cell.innerHTML = "";
      const input = Object.assign(document.createElement("input"), { type: "text", value: old, maxLength: 500, className: "edit-text" });
      input.setAttribute("aria-label", "new title text");
      const save = Object.assign(document.createElement("button"), { type: "button", textContent: "Save", className: "save-edit" });
      const cancel = Object.assign(document.createElement("button"), { type: "button", textContent: "Cancel", className: "link cancel-edit" });
      cell.append(input, save, cancel);
      input.focus();
      const submit = () => {
        const body = new FormData();
        body.set("csrf", csrf);
        body.set("text", input.value);
        send(button.dataset.action, body);
      };
      save.addEventListener("click", submit);
      cancel.addEventListener("click", () => { cell.textContent = old; });
      input.addEventListener("keydown", (e) => {
        if (e.key === "Enter") { e.preventDefault(); submit(); }
        if (e.key === "Escape") cell.textContent = old;
      });
    });
  }

  // ---- batch form: a live count of the banners the selection makes ------------------------------
  const launch = document.getElementById("launch-form");
  const count = document.getElementById("banner-count");
  if (launch && count) {
    let timer = null;
    let asked = 0;
    const update = async () => {
      const n = ++asked;
      const params = new URLSearchParams();
      for (const [key, value] of new FormData(launch)) if (key !== "csrf") params.append(key, value);
      count.dataset.state = "counting";
      const res = await fetch(`/batches/count.json?${params}`, { credentials: "same-origin" });
      if (n !== asked) return;  // a newer choice is being counted
      let data = { ok: false, message: `cannot count (HTTP ${res.status}); reload the page` };
      if (res.ok && !res.redirected) data = await res.json();
      count.textContent = data.message;
      count.dataset.banners = String(data.banners ?? "");
      count.dataset.state = data.ok ? "ok" : "error";
      count.classList.toggle("bad", !data.ok);
    };
    launch.addEventListener("change", () => { clearTimeout(timer); timer = setTimeout(update, 150); });
    launch.addEventListener("input", (ev) => { if (ev.target.type === "number") { clearTimeout(timer); timer = setTimeout(update, 300); } });
    update();
  }

  // ---- batch rendering progress: poll, then show the batch under its own id ------------------------
  const job = document.getElementById("batch-job");
  if (job && (job.dataset.status === "queued" || job.dataset.status === "running")) {
    const bar = document.getElementById("job-progress");
    const poll = async () => {
      const res = await fetch(`/batches/${job.dataset.job}/status.json`, { credentials: "same-origin" });
      if (!res.ok || res.redirected) return;
      const s = await res.json();
      document.getElementById("job-status").textContent = s.status;
      document.getElementById("job-message").textContent = s.summary;
      bar.max = Math.max(1, s.total); bar.value = s.done;
      if (s.status === "done") location.replace(`/batches/${job.dataset.job}`);  // answers with the batch's own page
      else if (s.status !== "failed") setTimeout(poll, 700);
    };
    setTimeout(poll, 300);
  }

  // ---- gallery: filters and per-banner review, in place -------------------------------------------
  const gallery = document.getElementById("gallery");
  const filters = document.getElementById("gallery-filters");
  if (gallery && filters) {
    const apply = () => {
      const want = Object.fromEntries(new FormData(filters));
      let shown = 0;
      gallery.querySelectorAll("li.banner").forEach((tile) => {
        const ok = (!want.product || tile.dataset.product === want.product)
          && (!want.template || tile.dataset.template === want.template)
          && (!want.size || tile.dataset.size === want.size)
          && (!want.warnings || tile.dataset.warnings === want.warnings)
          && (!want.review || tile.dataset.review === want.review);
        tile.hidden = !ok;
        if (ok) shown += 1;
      });
      document.getElementById("gallery-shown").textContent = String(shown);
      filters.querySelectorAll("select").forEach((s) => s.classList.toggle("active", Boolean(s.value)));
    };
    filters.addEventListener("change", apply);
    filters.addEventListener("reset", () => setTimeout(apply, 0));
    apply();

    gallery.addEventListener("submit", async (ev) => {
      const form = ev.target.closest("form.banner-review");
      if (!form) return;
      ev.preventDefault();
      const body = new FormData(form);
      if (ev.submitter?.name) body.set(ev.submitter.name, ev.submitter.value);
      const data = await post(form.action, body);
      notify(data.message, data.kind);
      if (data.kind === "ok" && data.review !== undefined) {
        const tile = form.closest("li.banner");
        tile.dataset.review = data.review || "none";
        tile.querySelector(".review-state").textContent = data.label;
        apply();
      }
    });
  }
})();
