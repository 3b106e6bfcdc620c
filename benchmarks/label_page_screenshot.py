"""The README's picture of the labelling page: real game crops, pre-filled by a fitted model, in Chromium.

    .venv/bin/python benchmarks/label_page_screenshot.py --model runs/game/best -o docs/label/page.png

Copies the seed's refined crops (renamed as unlabelled captures) and the raw ones into a temporary folder,
runs `digitocr label` on it, accepts two crops from the keyboard so the counters move, and saves the window.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a model fitted to the game (digitocr fit)")
    parser.add_argument("-o", "--output", type=Path, default=Path("docs/label/page.png"))
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="digitocr-label-shot-"))
    crops = work / "captures"
    crops.mkdir()
    seed = sorted((REAL / "seed-refined").glob("*.png")) + sorted((REAL / "seed-raw").glob("*.png"))
    for index, path in enumerate(seed):
        shutil.copy(path, crops / f"capture-{index:03d}{path.suffix}")
    server = subprocess.Popen([sys.executable, "-m", "digitocr", "label", str(crops), "--model", args.model,
                               "--port", str(args.port), "--no-browser"], stdout=subprocess.PIPE, text=True)
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={work / 'profile'}", "--window-size=1000,560",
                 "--force-device-scale-factor=1"):
        options.add_argument(flag)
    driver = None
    try:
        assert server.stdout is not None
        ready = next(line for line in server.stdout if line.startswith("labelling "))
        address = ready.split(" at ")[1].split()[0]
        driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
        driver.get(address)
        time.sleep(1.0)
        for _ in range(2):
            ActionChains(driver).send_keys(Keys.ENTER).perform()
            time.sleep(0.4)
        time.sleep(0.5)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(args.output))
        print(f"saved {args.output}")
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        server.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
