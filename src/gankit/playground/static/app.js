"use strict";
// The playground page: one WebSocket to the server (protocol in gankit/playground/server.py), the controls, and
// redraws on animation frames. Everything is computed server-side; this file only shows it and sends commands.
(() => {
  const SPEEDS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000], HISTORY_CAP = 2000;
  const $ = id => document.getElementById(id);
  const form = $("settings");
  const st = { session: null, setup: null, frame: null, history: [], presets: {}, ws: null, pending: false };
  const token = new URLSearchParams(location.search).get("token");  // the secret of the URL the server printed
  const withToken = query => token ? `${query}&token=${encodeURIComponent(token)}` : query;

  const send = msg => st.ws && st.ws.readyState === WebSocket.OPEN && st.ws.send(JSON.stringify(msg));
  const showError = text => { $("error").textContent = text; $("error").hidden = false; };
  const clearError = () => { $("error").hidden = true; };
  const notice = text => { $("notice").textContent = text || ""; };

  function fillChoices(choices) {
    for (const [name, values] of Object.entries(choices)) {
      const select = form.elements[name];
      select.replaceChildren(...values.map(v => new Option(v === "upload" ? "uploaded file" : v, v)));
    }
    form.elements.dataset.querySelector('option[value="upload"]').hidden = true;
  }

  function fillForm(settings) {
    for (const [name, value] of Object.entries(settings)) if (form.elements[name]) form.elements[name].value = value;
  }

  function readForm() {
    const s = {};
    for (const el of form.elements) if (el.name) s[el.name] = el.type === "number" ? Number(el.value) : el.value;
    return s;
  }

  function setStep(step) {
    $("step").textContent = step;
    $("step").dataset.step = step;
  }

  function describe(setup) {
    const s = setup.settings, z = s.z_dim;
    const manifold = setup.dim === 1
      ? (z === 1 ? "arrows: z → G(z) for evenly spaced z" : "arrows: z → G(z) along z₁, other noise coordinates 0")
      : (z === 1 ? "grey curve: G(z) over the noise line" : z === 2 ? "grey lines: G applied to a grid of z"
        : `grey lines: G applied to a grid of the (z₁, z₂) plane, other ${z - 2} coordinates 0`);
    $("legend").textContent = setup.dim === 1
      ? `black dots: p_data (rug: real points) · green: p_g · blue dashes: D(x) · ${manifold}`
      : `black: real points · green: G(z) for 2,000 fixed z · background: D(x), blue = "real", orange = "fake", ` +
        `white = ½ · ${manifold}`;
    const metric = s.dataset === "upload"
      ? "Metric: Jensen–Shannon divergence between histograms of real and generated points (lower is better)."
      : s.dataset === "gauss1d" ? "Metric: Jensen–Shannon divergence of p_g (KDE) to the data's Gaussian."
        : "Metric: modes with a sample within 3σ, and the share of such high-quality samples (PacGAN).";
    const source = s.dataset === "upload" ? setup.source : s.dataset;
    $("about").textContent = `${setup.n_real.toLocaleString()} training points (${source}). ${metric}`;
  }

  function redraw() {
    st.pending = false;
    if (!st.setup) return;
    (st.setup.dim === 2 ? Draw.data2d : Draw.data1d)($("data-view"), st.setup, st.frame);
    Draw.curves($("loss-view"), st.history, [[1, Draw.DISC], [2, Draw.GEN]], null);
    Draw.curves($("prob-view"), st.history, [[3, Draw.DATA], [4, Draw.GEN]], [0, 1]);
  }

  function schedule() {
    if (!st.pending) { st.pending = true; requestAnimationFrame(redraw); }
  }

  const handlers = {
    hello(m) {
      st.session = m.session;
      st.presets = m.presets;
      history.replaceState(null, "", withToken(`?session=${m.session}`));
      $("share").href = location.href;
      $("share").textContent = `session ${m.session}`;
      fillChoices(m.choices);
      notice(m.notice);
      $("status").textContent = "connected";
    },
    setup(m) {
      st.setup = m;
      st.frame = null;
      st.history = [];
      const upload = form.elements.dataset.querySelector('option[value="upload"]');
      if (m.settings.dataset === "upload") { upload.hidden = false; upload.textContent = `uploaded: ${m.source}`; }
      fillForm(m.settings);
      setStep(0);
      describe(m);
      schedule();
    },
    history(m) { st.history = m.points; schedule(); },
    state(m) {
      document.body.dataset.running = m.running;
      $("speed").value = Math.max(0, SPEEDS.indexOf(m.speed));
      $("speed-value").textContent = m.speed;
      setStep(m.step);
    },
    frame(m) {
      if (!st.setup || m.id !== st.setup.id) return;
      st.frame = m;
      setStep(m.step);
      $("metric").textContent = m.metric.text;
      $("metric").dataset.updates = Number($("metric").dataset.updates) + 1;
      if (m.point) {
        st.history.push(m.point);
        if (st.history.length > HISTORY_CAP) st.history = st.history.filter((_, k) => k % 2 === 0);
      }
      schedule();
    },
    error(m) { showError(m.message); },
    notice(m) { $("notice").textContent += ` ${m.message}.`; },
    saved(m) {
      $("saved").textContent = `saved step ${m.step} as ${m.path}`;
      $("saved").dataset.path = m.path;
    },
  };

  async function upload(file) {
    clearError();
    const pending = `uploading ${file.name}…`;  // replaced in place: the server's notices may already follow it
    const settle = text => { $("notice").textContent = $("notice").textContent.replace(pending, text); };
    notice(pending);
    const url = "/api/upload" +
      withToken(`?session=${encodeURIComponent(st.session)}&name=${encodeURIComponent(file.name)}`);
    try {
      const reply = await fetch(url, { method: "POST", body: file });
      const body = await reply.json();
      settle(reply.ok ? `${body.name}: ${body.rows.toLocaleString()} ${body.dim}-D points, training restarts on them.` : "");
      if (!reply.ok) showError(body.error);
    } catch (e) {
      settle("");
      showError(`upload failed: ${e.message}`);
    }
    $("upload").value = "";
  }

  function connect() {
    const session = new URLSearchParams(location.search).get("session") || "";
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    st.ws = new WebSocket(`${scheme}://${location.host}/ws` + withToken(`?session=${encodeURIComponent(session)}`));
    st.ws.onopen = () => { document.body.dataset.connected = "true"; };
    st.ws.onmessage = e => { const m = JSON.parse(e.data); if (handlers[m.type]) handlers[m.type](m); };
    st.ws.onclose = () => {
      document.body.dataset.connected = "false";
      $("status").textContent = st.session ? "disconnected: reload the page to start again"
        : "not connected: open the full URL that gankit playground printed (it ends in ?token=…)";
    };
  }

  $("play").onclick = () => send({ cmd: "play" });
  $("pause").onclick = () => send({ cmd: "pause" });
  $("step-once").onclick = () => send({ cmd: "step" });
  $("reset").onclick = () => { clearError(); notice(""); send({ cmd: "reset", settings: readForm() }); };
  $("save").onclick = () => send({ cmd: "save" });
  $("speed").oninput = () => {
    const speed = SPEEDS[Number($("speed").value)];
    $("speed-value").textContent = speed;
    send({ cmd: "speed", value: speed });
  };
  form.elements.dataset.onchange = () => {
    const preset = st.presets[form.elements.dataset.value];
    if (preset) fillForm(preset);
  };
  form.onsubmit = e => e.preventDefault();
  $("upload").onchange = () => { if ($("upload").files.length) upload($("upload").files[0]); };
  $("error").onclick = clearError;
  connect();
})();
