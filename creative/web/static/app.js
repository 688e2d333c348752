// Small, dependency-free helpers: drag-and-drop upload with per-file results, job progress polling,
// confirmation prompts. Every POST carries the page's CSRF token.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (ev) => { if (!confirm(form.dataset.confirm)) ev.preventDefault(); });
  });

  // ---- element upload: one request per file, so each file gets its own result
  const zone = document.getElementById("drop-zone");
  const input = document.getElementById("file-input");
  const list = document.getElementById("upload-results");
  const form = document.getElementById("upload-form");
  if (zone && input && list && form) {
    const show = (li, ok, text) => { li.className = ok ? "ok" : "bad"; li.textContent = text; };
    async function uploadOne(file) {
      const li = document.createElement("li");
      li.className = "busy";
      li.dataset.file = file.name;
      li.textContent = file.name + ": uploading";
      list.appendChild(li);
      const body = new FormData();
      body.append("kind", form.elements.kind.value);
      body.append("brand", form.elements.brand.value);
      body.append("files", file, file.name);
      try {
        const res = await fetch("/elements/upload", { method: "POST", body, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" });
        let data = null;
        try { data = await res.json(); } catch (_) { /* not JSON: reported below */ }
        if (data && data.results && data.results[0]) {
          const r = data.results[0];
          if (r.ok) show(li, true, `${file.name}: stored as ${r.code}${r.created ? "" : " (already in the library)"}${r.notes.length ? " — " + r.notes.join("; ") : ""}`);
          else show(li, false, r.error);
        } else {
          show(li, false, `${file.name}: ${(data && data.error) || "upload failed (HTTP " + res.status + ")"}`);
        }
      } catch (err) {
        show(li, false, `${file.name}: network error (${err})`);
      }
    }
    async function uploadAll(files) {
      for (const f of files) await uploadOne(f);  // sequential: keeps the server's memory use flat
      list.dataset.done = String(Number(list.dataset.done || 0) + files.length);
    }
    ["dragenter", "dragover"].forEach((t) => zone.addEventListener(t, (ev) => { ev.preventDefault(); zone.classList.add("over"); }));
    ["dragleave", "drop"].forEach((t) => zone.addEventListener(t, (ev) => { ev.preventDefault(); zone.classList.remove("over"); }));
    zone.addEventListener("drop", (ev) => uploadAll([...ev.dataTransfer.files]));
    zone.addEventListener("click", (ev) => { if (ev.target === zone) input.click(); });
    zone.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") input.click(); });
    input.addEventListener("change", () => { uploadAll([...input.files]); input.value = ""; });
  }

  // ---- copy generation: reload while a generation job is still running
  const busyCopy = document.querySelector('.copy-batch[data-status="queued"], .copy-batch[data-status="running"]');
  if (busyCopy) setTimeout(() => location.reload(), 1000);

  // ---- batch progress: poll until the job ends, then reload to show the gallery
  const job = document.getElementById("job");
  if (job && (job.dataset.status === "queued" || job.dataset.status === "running")) {
    const bar = document.getElementById("job-progress");
    const poll = async () => {
      const res = await fetch(`/batches/${job.dataset.job}/status.json`, { credentials: "same-origin" });
      if (!res.ok) return;
      const s = await res.json();
      document.getElementById("job-status").textContent = s.status;
      document.getElementById("job-message").textContent = s.message;
      bar.max = Math.max(1, s.total); bar.value = s.done;
      if (s.status === "done" || s.status === "failed") location.reload();
      else setTimeout(poll, 700);
    };
    setTimeout(poll, 400);
  }
})();

// ---- experiment results: the ten best creatives first, the rest one click away
(function () {
  const button = document.getElementById("show-all");
  const table = button && document.getElementById(button.dataset.rows);
  if (!table) return;
  table.classList.add("collapsed");
  button.hidden = false;
  button.addEventListener("click", () => { table.classList.remove("collapsed"); button.hidden = true; });
})();
