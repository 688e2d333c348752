// Small, dependency-free helpers shared by the pages: confirmation prompts, job progress polling.
// Page-specific scripts sit beside this one (elements.js: uploads and live tiles).
"use strict";
(function () {
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (ev) => { if (!confirm(form.dataset.confirm)) ev.preventDefault(); });
  });

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
