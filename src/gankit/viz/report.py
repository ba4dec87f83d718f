"""One self-contained HTML page per run: evaluation table, last training row, figures, timings, environment, config.

The page reports a run of Goodfellow et al. (2014), "Generative Adversarial Nets", or of a modern variant. It loads
nothing: figures are embedded as ``data:`` URIs, the CSS is inline, there are no scripts, and a Content-Security-Policy
forbids any other source. All text is HTML-escaped. The same inputs give the same string.
"""

from __future__ import annotations

import base64
import html
import json
import math
from typing import Any

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\xff\xd8\xff", "image/jpeg"),
)

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 70em; padding: 0 1em; color: #222; background: #fff; line-height: 1.4; }
h1 { font-size: 1.6em; border-bottom: 2px solid #ddd; padding-bottom: .3em; }
h2 { font-size: 1.2em; margin-top: 1.8em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #ccc; padding: .25em .7em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { display: inline-block; margin: .5em 1.5em 1em 0; vertical-align: top; }
figure img { max-width: 100%; image-rendering: pixelated; border: 1px solid #eee; }
figcaption { font-size: .9em; color: #555; }
pre { background: #f7f7f7; border: 1px solid #e3e3e3; padding: .8em; overflow-x: auto; font-size: .85em; }
code { background: #f3f3f3; padding: 0 .2em; }
"""


def image_mime(data: bytes) -> str:
    """MIME type of encoded image bytes from their magic number: image/png, image/gif or image/jpeg."""
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    raise ValueError(f"unrecognised image bytes (starting {data[:8]!r}); expected PNG, GIF or JPEG")


def data_uri(data: bytes) -> str:
    """A PNG/GIF/JPEG's bytes as a ``data:`` URL, for a page that loads nothing from anywhere."""
    return f"data:{image_mime(data)};base64,{base64.b64encode(data).decode('ascii')}"


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any) -> str:
    """Numbers to 4–6 significant digits, None and NaN to an em dash, anything else as text (unescaped)."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return "—" if math.isnan(value) else str(value)
    return f"{value:.6g}" if abs(value) >= 1000 else f"{value:.4g}"


def _key_value_table(items: dict[str, Any], table_id: str) -> str:
    if not items:
        return "<p>None recorded.</p>"
    rows = "".join(
        f'<tr><th scope="row">{_esc(k)}</th><td>{_esc(_fmt(v))}</td></tr>' for k, v in items.items()
    )
    return f'<table id="{table_id}"><tbody>{rows}</tbody></table>'


def _protocol_cell(stamp: Any) -> str:
    """A row's protocol stamp, folded: what was measured how (gankit.evaluation.protocol)."""
    if not isinstance(stamp, dict):
        return "none (an earlier gankit)"
    return f"<details><summary>stamp</summary><code>{_esc(json.dumps(stamp, sort_keys=True))}</code></details>"


def _metrics_section(eval_rows: list[dict] | None) -> str:
    if not eval_rows:
        return (
            "<p>No evaluation yet: run <code>gankit eval RUN</code> to score this run, then rebuild the "
            "report.</p>"
        )
    head = "".join(
        f'<th scope="col">{h}</th>'
        for h in ("metric", "value", "n", "reference", "checkpoint", "protocol")
    )
    body = []
    for row in eval_rows:
        value = _fmt(row.get("value"))
        if row.get("uncertainty") is not None:
            value += f" ± {_fmt(row['uncertainty'])}"
        cells = [
            f"<td>{_esc(row.get('metric', '?'))}</td>",
            f'<td class="num">{_esc(value)}</td>',
            f'<td class="num">{_esc(_fmt(row.get("n")))}</td>',
            f"<td>{_esc(_fmt(row.get('reference')))}</td>",
            f"<td>{_esc(_fmt(row.get('checkpoint')))}</td>",
            f"<td>{_protocol_cell(row.get('protocol'))}</td>",
        ]
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<table id="metrics-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _training_section(metrics_rows: list[dict]) -> str:
    if not metrics_rows:
        return "<p>No training steps logged yet.</p>"
    last = metrics_rows[-1]
    note = f"<p>The last logged row ({len(metrics_rows):,} in <code>metrics.jsonl</code>).</p>"
    return note + _key_value_table(last, "final-row")


def _figures_section(figures: list[tuple[str, bytes]]) -> str:
    if not figures:
        return "<p>No figures yet: run <code>gankit report RUN</code> after training.</p>"
    parts = []
    for caption, data in figures:
        uri = data_uri(data)
        parts.append(
            f'<figure><img src="{uri}" alt="{_esc(caption)}">'
            f"<figcaption>{_esc(caption)}</figcaption></figure>"
        )
    return "\n".join(parts)


def _doctor_section(rows: list[dict]) -> str:
    if not rows:
        return "<p>No warnings: the training doctor saw nothing wrong.</p>"
    body = "".join(
        f'<tr><td class="num">{_esc(_fmt(r.get("step")))}</td><td>{_esc(r.get("kind", "?"))}</td>'
        f"<td>{_esc(r.get('message', ''))}</td></tr>"
        for r in rows
    )
    return (
        '<table id="doctor-table"><thead><tr><th scope="col">step</th><th scope="col">kind</th>'
        f'<th scope="col">message</th></tr></thead><tbody>{body}</tbody></table>'
    )


def build_report(
    *,
    title: str,
    config_yaml: str,
    metrics_rows: list[dict],
    eval_rows: list[dict] | None,
    figures: list[tuple[str, bytes]],
    timings: dict[str, str],
    environment: dict[str, str],
    doctor_rows: list[dict] | None = None,
) -> str:
    """The run's report as one self-contained HTML document (a str; write it as UTF-8).

    ``metrics_rows``: the dicts of ``metrics.jsonl`` (the last one is summarised). ``eval_rows``: rows of
    ``eval.json`` (metric, value, uncertainty, n, reference, checkpoint), shown as ``<table id="metrics-table">``;
    None or empty gives a note to run ``gankit eval RUN``. ``figures``: (caption, PNG/GIF/JPEG bytes) in display
    order, embedded as ``data:`` URIs of the MIME type read from the magic bytes (ValueError for anything else).
    ``timings``, ``environment``: label → text. ``doctor_rows``: the training doctor's warnings (step, kind,
    message), shown as ``<table id="doctor-table">``. ``config_yaml`` is shown verbatim in a ``<pre>``.
    """
    sections = [
        ("Evaluation", _metrics_section(eval_rows)),
        ("Training", _training_section(metrics_rows)),
        ("Doctor", _doctor_section(doctor_rows or [])),
        ("Figures", _figures_section(figures)),
        ("Timings", _key_value_table(timings, "timings")),
        ("Environment", _key_value_table(environment, "environment")),
        ("Configuration", f'<pre id="config">{_esc(config_yaml)}</pre>'),
    ]
    body = "\n".join(
        f"<section><h2>{name}</h2>\n{content}\n</section>" for name, content in sections
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<header><h1>{_esc(title)}</h1></header>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )
