// gankit explore: pictures of a trained G by seed, two selected, the path between them, truncation and class.
(() => {
  "use strict";
  const token = new URLSearchParams(location.search).get("token") || "";
  const $ = (id) => document.getElementById(id);
  const PER_PAGE = 32;
  let info = null, page = 0, picks = [], current = null, base = null;

  async function api(what, body) {
    const init = body ? { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) } : {};
    const response = await fetch(`/api/${what}?token=${encodeURIComponent(token)}`, init);
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  }
  const common = () => ({ truncation: Number($("psi").value), label: info.classes ? Number($("label").value) : undefined });

  async function showPage() {
    const seeds = Array.from({ length: PER_PAGE }, (_, i) => page * PER_PAGE + i);
    const drawn = await api("draw", { seeds, ...common() });
    $("grid").replaceChildren(...drawn.images.map((src, i) => {
      const img = new Image();
      img.src = src; img.alt = `seed ${seeds[i]}`; img.dataset.seed = seeds[i];
      img.onclick = () => select(img, drawn.z[i]);
      return img;
    }));
    $("page").textContent = `seeds ${seeds[0]}–${seeds[seeds.length - 1]}`;
    picks = [];
  }

  function select(img, z) {
    if (picks.length === 2) { picks.forEach((p) => p.img.classList.remove("a", "b")); picks = []; }
    picks.push({ img, z });
    img.classList.add(picks.length === 1 ? "a" : "b");
    setBase(img.src, z);
    if (picks.length === 2) between();
  }

  function path(a, b, t) {
    if (document.querySelector('input[name="path"]:checked').value === "linear") return a.map((v, i) => (1 - t) * v + t * b[i]);
    const dot = a.reduce((s, v, i) => s + v * b[i], 0), na = Math.hypot(...a), nb = Math.hypot(...b);
    const omega = Math.acos(Math.max(-1, Math.min(1, dot / (na * nb || 1))));
    if (omega < 1e-6) return a.map((v, i) => (1 - t) * v + t * b[i]);
    const s = Math.sin(omega), wa = Math.sin((1 - t) * omega) / s, wb = Math.sin(t * omega) / s;
    return a.map((v, i) => wa * v + wb * b[i]);
  }

  async function between() {
    if (picks.length < 2) return;
    const [a, b] = [picks[0].z, picks[1].z], t = Number($("t").value);
    const ts = Array.from({ length: 8 }, (_, i) => i / 7);
    const drawn = await api("draw", { z: [path(a, b, t), ...ts.map((s) => path(a, b, s))], ...common() });
    $("between").src = drawn.images[0];
    setBase(drawn.images[0], drawn.z[0]);
    $("strip").replaceChildren(...drawn.images.slice(1).map((src) => Object.assign(new Image(), { src })));
  }

  function npy(z) {  // a float32 [1, d] array in NumPy's .npy format
    const header = `{'descr': '<f4', 'fortran_order': False, 'shape': (1, ${z.length}), }`;
    const pad = 64 - ((10 + header.length + 1) % 64);
    const text = header + " ".repeat(pad % 64) + "\n";
    const bytes = new Uint8Array(10 + text.length + 4 * z.length);
    bytes.set([0x93, 78, 85, 77, 80, 89, 1, 0, text.length & 255, text.length >> 8]);
    bytes.set(new TextEncoder().encode(text), 10);
    const values = new DataView(bytes.buffer, 10 + text.length);
    z.forEach((v, i) => values.setFloat32(4 * i, v, true));
    return new Blob([bytes], { type: "application/octet-stream" });
  }

  function setCurrent(src, z) {
    current = { src, z };
    $("download-png").href = src;
    $("download-z").href = URL.createObjectURL(npy(z));
    guard(showNearest)();
  }

  function setBase(src, z) {  // a newly chosen picture: the direction sliders start again from it
    base = z;
    document.querySelectorAll("#directions input").forEach((r) => { r.value = "0"; });
    $("moved").src = src;
    setCurrent(src, z);
  }

  async function move() {
    if (!base) return;
    const z = base.slice();
    document.querySelectorAll("#directions input").forEach((r, k) => {
      const step = Number(r.value) * info.spreads[k];
      info.directions[k].forEach((v, i) => { z[i] += step * v; });
    });
    const drawn = await api("draw", { z: [z], ...common() });
    $("moved").src = drawn.images[0];
    setCurrent(drawn.images[0], drawn.z[0]);
  }

  async function showNearest() {
    const asked = current;
    const found = await api("nearest", { z: [asked.z], ...common() });
    if (asked !== current) return;  // a newer picture is on show
    $("nearest").replaceChildren(...found.images.map((src, i) =>
      Object.assign(new Image(), { src, title: `distance ${found.distances[i]}` })));
  }

  const guard = (f) => () => f().catch((e) => { $("error").textContent = e.message; });
  $("more").onclick = guard(async () => { page += 1; await showPage(); });
  $("psi").oninput = () => { $("psi-value").textContent = $("psi").value; };
  $("psi").onchange = guard(showPage);
  $("label").onchange = guard(showPage);
  $("t").oninput = guard(async () => { $("t-value").textContent = $("t").value; await between(); });
  document.querySelectorAll('input[name="path"]').forEach((r) => { r.onchange = guard(between); });

  guard(async () => {
    info = await api("info");
    $("about").textContent = `${info.run}: step ${info.step}, ${info.ema ? "EMA of G" : "G"}, z ∈ R^${info.z_dim} (${info.prior} prior), pictures ${info.shape.join("×")}`;
    $("directions").replaceChildren(...info.directions.map((_, k) => {
      const label = document.createElement("label");
      const range = Object.assign(document.createElement("input"), { type: "range", min: -3, max: 3, step: 0.25, value: 0 });
      range.oninput = guard(move);
      label.append(`direction ${k + 1} `, range);
      return label;
    }));
    if (info.classes) {
      $("class-box").hidden = false;
      $("label").replaceChildren(...Array.from({ length: info.classes }, (_, c) => new Option(`class ${c}`, c)));
    }
    await showPage();
  })();
})();
