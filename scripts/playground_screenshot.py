"""Write docs/playground.png: the playground page mid-way through training ring8, taken by headless Chromium.

Starts `gankit playground --port 0` (runs folder in a temporary directory), presses play at 50 steps per frame,
pauses once the step counter passes --steps, and screenshots the page. Needs playwright and /usr/bin/chromium.

    python scripts/playground_screenshot.py [--out docs/playground.png] [--steps 1500]
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
SPEED_INDEX = 5  # the page's speed slider: 50 generator steps per frame


def screenshot(url: str, out: Path, steps: int) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 800})
            page.goto(url, wait_until="load")
            page.wait_for_function("document.getElementById('metric').dataset.updates >= 1")
            page.fill("#speed", str(SPEED_INDEX))
            page.click("#play")
            page.wait_for_function(f"document.getElementById('step').dataset.step >= {steps}", timeout=300_000)
            page.click("#pause")
            page.wait_for_function("document.body.dataset.running === 'false'")
            page.wait_for_timeout(500)  # the last frame's redraw
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
        finally:
            browser.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/playground.png")
    ap.add_argument("--steps", type=int, default=1500, help="pause after this many generator steps (default 1500)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as runs:
        proc = subprocess.Popen([sys.executable, "-m", "gankit", "playground", "--port", "0", "--runs-dir", runs],
                                stdout=subprocess.PIPE, text=True)
        try:
            found = re.search(r"http://\S+", proc.stdout.readline())
            if not found:
                raise SystemExit("the playground did not print its URL")
            screenshot(found.group(0), Path(args.out), args.steps)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
