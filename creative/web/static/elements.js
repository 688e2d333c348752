// The element library: one upload request per file, each with its own result line; a new element's tile
// (rendered by the server from the page's own tile template) goes straight into the grid, no reload.
// Bytes already stored as another kind are held back with a button to add them as this kind too.
// Search updates the grid as one types, from the same server-rendered page a submitted search gives.
"use strict";
(function () {
  const search = document.getElementById("search-form");
  if (!search) return;
  let timer = null, asked = 0;
  async function refresh() {
    const query = new URLSearchParams(new FormData(search));
    for (const [k, v] of [...query.entries()]) if (!v) query.delete(k);
    const url = "/elements" + (query.toString() ? "?" + query : "");
    const mine = ++asked;
    const res = await fetch(url, { credentials: "same-origin" });
    if (!res.ok || mine !== asked) return;  // a later keystroke's answer wins
    const fresh = new DOMParser().parseFromString(await res.text(), "text/html");
    for (const id of ["element-grid", "element-count"]) document.getElementById(id)?.replaceWith(fresh.getElementById(id));
    document.getElementById("empty-hint")?.remove();
    const hint = fresh.getElementById("empty-hint");
    if (hint) document.getElementById("element-count").after(hint);
    history.replaceState(null, "", url);
  }
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refresh, 250); });
  search.addEventListener("submit", (ev) => { ev.preventDefault(); clearTimeout(timer); refresh(); });
})();

(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const zone = document.getElementById("drop-zone");
  const input = document.getElementById("file-input");
  const list = document.getElementById("upload-results");
  const form = document.getElementById("upload-form");
  if (!zone || !input || !list || !form) return;
  const grid = () => document.getElementById("element-grid");  // search may have replaced it

  function addTile(html, kind) {
    if (grid().dataset.kind && grid().dataset.kind !== kind) return;  // the grid shows another kind
    const holder = document.createElement("ul");
    holder.innerHTML = html;  // server-rendered, escaped by the template
    const tile = holder.firstElementChild;
    if (!tile || document.getElementById(tile.id)) return;
    tile.classList.add("new");
    grid().prepend(tile);
    document.getElementById("empty-hint")?.remove();
    const n = document.getElementById("element-n");
    if (n) n.textContent = String(Number(n.textContent) + 1);
  }

  function show(li, kind, text) {
    li.className = kind;
    li.textContent = text;
  }

  async function send(file, kind, brand, li, also) {
    const body = new FormData();
    body.append("kind", kind);
    body.append("brand", brand);
    if (also) body.append("also_as_kind", "1");
    body.append("files", file, file.name);
    li.className = "busy";
    li.textContent = file.name + ": uploading";
    try {
      const res = await fetch("/elements/upload", { method: "POST", body, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" });
      let data = null;
      try { data = await res.json(); } catch (_) { /* not JSON: reported below */ }
      const r = data && data.results && data.results[0];
      if (!r) return show(li, "bad", `${file.name}: ${(data && data.error) || "the upload failed (HTTP " + res.status + "); try again"}`);
      if (!r.ok) return show(li, "bad", r.error);
      show(li, r.held ? "held" : "ok", r.message);
      li.dataset.code = r.code;
      if (r.tile) addTile(r.tile, kind);
      if (r.held) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "secondary add-anyway";
        button.textContent = r.offer;
        button.addEventListener("click", () => send(file, kind, brand, li, true));
        li.append(" ", button);
      }
    } catch (err) {
      show(li, "bad", `${file.name}: the network failed (${err}); try again`);
    }
  }

  async function uploadAll(files) {
    const kind = form.elements.kind.value, brand = form.elements.brand.value;
    for (const file of files) {  // one at a time: keeps the server's memory use flat
      const li = document.createElement("li");
      li.dataset.file = file.name;
      list.appendChild(li);
      await send(file, kind, brand, li, false);
    }
    list.dataset.done = String(Number(list.dataset.done || 0) + files.length);
  }

  ["dragenter", "dragover"].forEach((t) => zone.addEventListener(t, (ev) => { ev.preventDefault(); zone.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => zone.addEventListener(t, (ev) => { ev.preventDefault(); zone.classList.remove("over"); }));
  zone.addEventListener("drop", (ev) => uploadAll([...ev.dataTransfer.files]));
  zone.addEventListener("click", (ev) => { if (ev.target === zone || ev.target.tagName === "P") input.click(); });
  zone.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); input.click(); } });
  input.addEventListener("change", () => { uploadAll([...input.files]); input.value = ""; });
})();
