"use strict";
// Canvas pictures of the playground, pure functions of the server's `setup` and `frame` messages.
// Colours follow the paper's Figure 1: data black, generator green, discriminator blue.
const Draw = (() => {
  const DATA = "#111", GEN = "#2e7d32", DISC = "#1565c0", GRID = "rgba(90, 90, 90, 0.45)";
  const HIGH = [21, 101, 192], LOW = [239, 108, 0];  // D(x) near 1 tints blue, near 0 orange, ½ white

  function tint(v) {  // v in [0, 1] → [r, g, b], light enough for points on top
    const t = Math.abs(v - 0.5) * 2 * 0.5, c = v >= 0.5 ? HIGH : LOW;
    return c.map(x => Math.round(255 + (x - 255) * t));
  }

  function heatmap(side, d) {  // D's side×side lattice, index i·side + j at (x_i, y_j), y upwards
    const c = document.createElement("canvas");
    c.width = c.height = side;
    const ctx = c.getContext("2d"), img = ctx.createImageData(side, side);
    for (let i = 0; i < side; i++) {
      for (let j = 0; j < side; j++) {
        const [r, g, b] = tint(d[i * side + j] / 255), p = 4 * ((side - 1 - j) * side + i);
        img.data[p] = r; img.data[p + 1] = g; img.data[p + 2] = b; img.data[p + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
    return c;
  }

  function dots(ctx, pts, px, py, color, r) {
    ctx.fillStyle = color;
    for (const p of pts) ctx.fillRect(px(p[0]) - r, py(p[1]) - r, 2 * r, 2 * r);
  }

  function data2d(canvas, setup, frame) {
    const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
    const [x0, y0] = setup.lo, [x1, y1] = setup.hi;
    const px = x => (x - x0) / (x1 - x0) * W, py = y => H - (y - y0) / (y1 - y0) * H;
    ctx.clearRect(0, 0, W, H);
    if (frame) {
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(heatmap(setup.side, frame.d), 0, 0, W, H);
      ctx.strokeStyle = GRID;
      ctx.lineWidth = 1;
      for (const line of frame.manifold) {
        ctx.beginPath();
        line.forEach((p, k) => (k ? ctx.lineTo(px(p[0]), py(p[1])) : ctx.moveTo(px(p[0]), py(p[1]))));
        ctx.stroke();
      }
    }
    dots(ctx, setup.real, px, py, DATA, 1.5);
    if (frame) dots(ctx, frame.samples, px, py, GEN, 1.5);
    canvas.dataset.realCount = setup.real.length;
    canvas.dataset.fakeCount = frame ? frame.samples.length : 0;
  }

  function polyline(ctx, xs, ys, color, dash, width) {
    ctx.strokeStyle = color;
    ctx.setLineDash(dash);
    ctx.lineWidth = width;
    ctx.beginPath();
    xs.forEach((x, k) => (k ? ctx.lineTo(x, ys[k]) : ctx.moveTo(x, ys[k])));
    ctx.stroke();
    ctx.setLineDash([]);
  }

  function data1d(canvas, setup, frame) {  // the paper's Figure 1: densities over the x line, arrows from z
    const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
    const top = 16, base = Math.round(H * 0.66), zline = H - 28, lo = setup.lo[0], hi = setup.hi[0];
    const px = x => (x - lo) / (hi - lo) * W;
    ctx.clearRect(0, 0, W, H);
    const gx = setup.grid.map(px);
    const peak = 1.1 * Math.max(...setup.p_data, ...(frame ? frame.p_g : [0]));
    const py = p => base - p / peak * (base - top), pd = v => base - v * (base - top);
    polyline(ctx, [0, W], [pd(0.5), pd(0.5)], "#ccc", [2, 4], 1);
    polyline(ctx, gx, setup.p_data.map(py), DATA, [2, 3], 2);
    if (frame) {
      polyline(ctx, gx, frame.p_g.map(py), GEN, [], 2);
      polyline(ctx, gx, frame.d.map(pd), DISC, [7, 5], 2);
    }
    ctx.fillStyle = DATA;
    for (const p of setup.real) ctx.fillRect(px(p[0]) - 0.5, base + 2, 1, 6);  // a rug of the real points
    canvas.dataset.realCount = setup.real.length;
    canvas.dataset.fakeCount = frame ? frame.samples.length : 0;
    polyline(ctx, [0, W], [base, base], "#444", [], 1);
    polyline(ctx, [0, W], [zline, zline], "#444", [], 1);
    ctx.fillStyle = "#444";
    ctx.font = "13px system-ui, sans-serif";
    ctx.fillText("x", W - 12, base - 4);
    ctx.fillText("z", W - 12, zline - 4);
    if (!frame) return;
    const z = frame.arrows.z, zlo = z[0], zhi = z[z.length - 1], margin = 0.08 * W;
    const pz = v => margin + (v - zlo) / (zhi - zlo || 1) * (W - 2 * margin);
    ctx.strokeStyle = "#555";
    for (let k = 0; k < z.length; k++) arrow(ctx, pz(z[k]), zline, px(frame.arrows.x[k]), base + 10);
  }

  function arrow(ctx, x0, y0, x1, y1) {
    const a = Math.atan2(y1 - y0, x1 - x0), h = 6;
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    ctx.lineTo(x1, y1);
    ctx.lineTo(x1 - h * Math.cos(a - 0.4), y1 - h * Math.sin(a - 0.4));
    ctx.moveTo(x1, y1);
    ctx.lineTo(x1 - h * Math.cos(a + 0.4), y1 - h * Math.sin(a + 0.4));
    ctx.stroke();
  }

  // history rows: [step, d_loss, g_loss, D(x), D(G(z))]; series: [[column, colour], ...]; range: [lo, hi] or null
  function curves(canvas, history, series, range) {
    const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height, pad = 30;
    ctx.clearRect(0, 0, W, H);
    if (history.length === 0) return;
    let [lo, hi] = range || [Infinity, -Infinity];
    if (!range) {
      for (const row of history) for (const [c] of series) { lo = Math.min(lo, row[c]); hi = Math.max(hi, row[c]); }
      const m = 0.05 * (hi - lo || 1);
      lo -= m; hi += m;
    }
    const s0 = history[0][0], s1 = history[history.length - 1][0];
    const px = s => pad + (s - s0) / (s1 - s0 || 1) * (W - pad - 6), py = v => H - 16 - (v - lo) / (hi - lo) * (H - 24);
    ctx.fillStyle = "#666";
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillText(hi.toPrecision(3), 2, 12);
    ctx.fillText(lo.toPrecision(3), 2, H - 18);
    ctx.fillText(`step ${s0}`, pad, H - 3);
    const last = `step ${s1}`;
    ctx.fillText(last, W - 6 - ctx.measureText(last).width, H - 3);
    if (range) polyline(ctx, [pad, W - 6], [py(0.5), py(0.5)], "#999", [4, 4], 1);
    for (const [c, color] of series) polyline(ctx, history.map(r => px(r[0])), history.map(r => py(r[c])), color, [], 1.5);
  }

  return { data2d, data1d, curves, DATA, GEN, DISC };
})();
