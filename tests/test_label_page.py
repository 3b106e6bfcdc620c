"""The labelling page, for real: a `digitocr label` server process on a loopback port, Debian's Chromium
driven by Selenium from the keyboard, and the files on disk checked afterwards."""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from digit_images import draw_digits
from privileges import without_root_powers
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from digitocr.modelio import save_model
from digitocr.models import build_model
from digitocr.preprocess import Preprocess

pytestmark = pytest.mark.slow
CHROMEDRIVER = "/usr/bin/chromedriver"
TEXTS = ["151", "27", "4561", "38", "9", "600", "1234", "50"]


def prefilling_model(folder: Path) -> Path:
    """A real model folder whose readings are mostly '1', with confidences that differ from crop to crop:
    the classifier favours class '1' (index 2) over small random weights, so every pre-fill is a label."""
    torch.manual_seed(0)
    model = build_model("tiny", 11).eval()
    with torch.no_grad():
        model.classifier.weight.mul_(0.5)
        model.classifier.bias.zero_()
        model.classifier.bias[2] = 4.0
    save_model(folder, model, {"charset": "0123456789", "preprocess": Preprocess().to_mapping()})
    return folder


def crop_folder(folder: Path, texts: list[str] = TEXTS) -> Path:
    """Unlabelled captures `crop_0.png`…, one text file and one PNG that is not a picture."""
    folder.mkdir(parents=True)
    for index, text in enumerate(texts):
        draw_digits(text).save(folder / f"crop_{index}.png")
    (folder / "notes.txt").write_text("not an image\n")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def label_server(folder: Path, *options: str, port: int | None = None) -> Iterator[tuple[str, list[str]]]:
    """`digitocr label FOLDER` in its own process; yields its address and the console lines before it."""
    command = [sys.executable, "-m", "digitocr", "label", str(folder), "--no-browser",
               "--port", str(port or free_port()), *options]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        lines = _lines_until(process, "labelling ", timeout=60)
        address = lines[-1].split(" at ", 1)[1].split()[0]
        yield address, lines
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _lines_until(process: subprocess.Popen, start: str, timeout: float) -> list[str]:
    """Console lines up to the one beginning with `start` (read by a thread: a pipe's buffer hides lines
    from select)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if line.startswith(start):
            return seen
    raise AssertionError(f"the server did not start: {seen}, exit {process.poll()}")


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    profile = tempfile.mkdtemp(prefix="digitocr-chromium-")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1200,800"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    service = Service(CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()
        if service.process and service.process.poll() is None:
            service.process.kill()
        shutil.rmtree(profile, ignore_errors=True)


def press(driver: webdriver.Chrome, *keys: str, ctrl: bool = False) -> None:
    """Keys into the focused field, as a person types them (no re-focus, no caret move)."""
    actions = ActionChains(driver)
    if ctrl:
        actions.key_down(Keys.CONTROL)
    actions.send_keys(*keys)
    if ctrl:
        actions.key_up(Keys.CONTROL)
    actions.perform()


def page_state(driver: webdriver.Chrome) -> dict:
    return driver.execute_script(
        "const s = window.digitocrLabel.state, c = s.crops[s.pos] || null;"
        "return {name: c && c.name, id: c && c.id, value: document.getElementById('text').value,"
        " message: document.getElementById('message').textContent, pos: s.pos,"
        " blocked: document.getElementById('blocked').textContent,"
        " broken: document.getElementById('broken').textContent};")


def open_page(driver: webdriver.Chrome, address: str) -> dict:
    driver.get(address)
    WebDriverWait(driver, 20).until(lambda d: d.execute_script(
        "return !!(window.digitocrLabel && window.digitocrLabel.state.page)"))
    return page_state(driver)


def settle(driver: webdriver.Chrome) -> None:
    """Wait until the page has sent every change (it sends them behind the crop it shows)."""
    WebDriverWait(driver, 20).until(lambda d: d.execute_script("return window.digitocrLabel.idle()"))


def names(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")
            if p.is_file() and not p.name.startswith(".")}


def test_keyboard_labelling_accept_correct_skip_undo_unreadable(tmp_path: Path, browser) -> None:
    folder = crop_folder(tmp_path / "crops")
    model = prefilling_model(tmp_path / "model")
    with label_server(folder, "--model", str(model)) as (address, console):
        assert any("notes.txt" in line for line in console)
        assert any("cannot decode broken.png" in line for line in console)
        state = open_page(browser, address)
        crops = browser.execute_script(
            "return window.digitocrLabel.state.crops.map(({preloaded, ...crop}) => crop)")
        confidences = [c["confidence"] for c in crops[1:]]
        assert confidences == sorted(confidences), "lowest confidence first"
        assert "notes.txt" in browser.find_element(By.ID, "skipped-files").get_attribute("textContent")

        # The undecodable PNG comes first, shown as such; Enter refuses it, Ctrl+U sets it aside.
        assert state["name"] == "broken.png" and "cannot" in state["broken"]
        press(browser, Keys.ENTER)
        assert "cannot be decoded" in page_state(browser)["message"]
        press(browser, "u", ctrl=True)

        accepted = page_state(browser)  # accept the model's reading as it stands
        assert accepted["value"] == crops[1]["reading"] and accepted["value"].isdigit()
        press(browser, Keys.ENTER)
        corrected = page_state(browser)  # type over the pre-fill (it is selected)
        press(browser, "151", Keys.ENTER)
        skipped = page_state(browser)
        press(browser, Keys.TAB)
        refused = page_state(browser)
        press(browser, "12a", Keys.ENTER)
        assert "not in the charset" in page_state(browser)["message"]
        assert page_state(browser)["name"] == refused["name"]
        press(browser, "a", ctrl=True)
        press(browser, "77", Keys.ENTER)
        settle(browser)
        stem = {s["name"]: s["name"][:-4] for s in (accepted, corrected, skipped, refused)}
        assert f"77_{stem[refused['name']]}.png" in names(folder)

        press(browser, "z", ctrl=True)  # undo the label '77': the file gets its name back
        back = page_state(browser)
        assert back["name"] == refused["name"] and back["value"] == "77"
        settle(browser)
        assert refused["name"] in names(folder)
        press(browser, "z", ctrl=True)  # undo the skip
        assert page_state(browser)["name"] == skipped["name"]
        press(browser, "38", Keys.ENTER)  # label the crop that was skipped
        press(browser, "600", Keys.ENTER)
        settle(browser)

    on_disk = names(folder)
    assert on_disk == {
        "notes.txt", "unreadable/broken.png",
        f"{accepted['value']}_{stem[accepted['name']]}.png", f"151_{stem[corrected['name']]}.png",
        f"38_{stem[skipped['name']]}.png", f"600_{stem[refused['name']]}.png",
        *(f"crop_{i}.png" for i in range(len(TEXTS))
          if f"crop_{i}.png" not in (accepted["name"], corrected["name"], skipped["name"], refused["name"])),
    }
    assert len([n for n in on_disk if n.endswith(".png")]) == len(TEXTS) + 1  # nothing lost or duplicated
    assert not (folder / ".digitocr-label.lock").exists()


def test_labels_tsv_store_and_enter_to_next_crop_latency(tmp_path: Path, browser, capsys) -> None:
    """40 crops accepted one after another; the page's own measure from the Enter key event to the next
    crop decoded and painted stays under 100 ms."""
    texts = [str(n) for n in range(100, 140)]
    folder = crop_folder(tmp_path / "crops", texts)
    (folder / "broken.png").unlink()
    with label_server(folder, "--model", str(prefilling_model(tmp_path / "model")), "--store", "tsv") as (
            address, _):
        open_page(browser, address)
        for _ in texts:
            press(browser, Keys.ENTER)
        WebDriverWait(browser, 20).until(lambda d: d.find_element(By.ID, "done").is_displayed())
        # each latency lands two animation frames after its crop is painted: wait for the last one
        WebDriverWait(browser, 5).until(
            lambda d: len(d.execute_script("return window.digitocrLabel.latencies")) >= len(texts))
        latencies = browser.execute_script("return window.digitocrLabel.latencies")
        press(browser, "z", ctrl=True)  # undo from the last screen: the last crop comes back
        settle(browser)
        assert page_state(browser)["pos"] == len(texts) - 1
        press(browser, Keys.ENTER)
        settle(browser)
    lines = (folder / "labels.tsv").read_text().splitlines()
    assert sorted(line.split("\t")[0] for line in lines) == sorted(f"crop_{i}.png" for i in range(len(texts)))
    assert all(line.split("\t")[1].isdigit() for line in lines)
    assert names(folder) == {"labels.tsv", "notes.txt", *(f"crop_{i}.png" for i in range(len(texts)))}
    assert len(latencies) == len(texts)
    median, worst = statistics.median(latencies), max(latencies)
    with capsys.disabled():
        print(f"\nEnter-to-next-crop latency over {len(latencies)} crops: median {median:.1f} ms, "
              f"90th percentile {sorted(latencies)[int(0.9 * len(latencies))]:.1f} ms, worst {worst:.1f} ms")
    assert median < 100 and sorted(latencies)[int(0.9 * len(latencies))] < 100


def test_a_second_page_cannot_clobber_the_first(tmp_path: Path, browser) -> None:
    folder = crop_folder(tmp_path / "crops", TEXTS[:4])
    with label_server(folder) as (address, _):
        first = open_page(browser, address)
        press(browser, Keys.ENTER)  # broken.png: refused, so set it aside
        press(browser, "u", ctrl=True)
        labelled = page_state(browser)
        press(browser, "151", Keys.ENTER)
        settle(browser)
        first_tab = browser.current_window_handle
        browser.switch_to.new_window("tab")
        second = open_page(browser, address)
        crops = browser.execute_script("return window.digitocrLabel.state.crops.map(c => c.name)")
        assert labelled["name"] not in crops and "broken.png" not in crops and first["name"] not in crops

        browser.switch_to.window(first_tab)  # the older page tries to write: refused, and it says so
        before = names(folder)
        press(browser, "27", Keys.ENTER)
        settle(browser)
        assert "another page" in page_state(browser)["blocked"]
        press(browser, "z", ctrl=True)  # nor can it undo the first page's work
        settle(browser)
        assert names(folder) == before

        browser.switch_to.window(next(h for h in browser.window_handles if h != first_tab))
        assert page_state(browser)["name"] == second["name"]
        press(browser, "27", Keys.ENTER)
        settle(browser)
        assert f"27_{second['name'][:-4]}.png" in names(folder)
        browser.close()
        browser.switch_to.window(first_tab)

        # A second server on the same folder is refused before it opens a page.
        refused = subprocess.run([sys.executable, "-m", "digitocr", "label", str(folder), "--no-browser",
                                  "--port", str(free_port())], capture_output=True, text=True, timeout=60,
                                 check=False)
        assert refused.returncode == 2 and "already open for labelling" in refused.stderr
    assert f"151_{labelled['name'][:-4]}.png" in names(folder)


def test_port_in_use_moves_to_the_next_free_one(tmp_path: Path) -> None:
    folder = crop_folder(tmp_path / "crops", TEXTS[:2])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with label_server(folder, port=port) as (address, console):
            assert any(f"port {port} is in use: using" in line for line in console)
            assert address != f"http://127.0.0.1:{port}/"
            import urllib.request

            with urllib.request.urlopen(address + "api/state", timeout=10) as response:
                assert response.status == 200


def test_unwritable_folder_is_an_error_before_the_page_opens(tmp_path: Path) -> None:
    folder = Path(tempfile.mkdtemp(prefix="digitocr-readonly-"))
    try:
        draw_digits("12").save(folder / "crop.png")
        folder.chmod(0o555)
        command = [sys.executable, "-m", "digitocr", "label", str(folder), "--no-browser",
                   "--port", str(free_port())]
        command = [*without_root_powers(), *command]  # root writes anywhere: not this child
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False,
                                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
        assert result.returncode == 2, result.stderr
        assert "not writable" in result.stderr and "labelling" not in result.stdout
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


def test_a_label_that_does_not_fit_the_format_is_refused_in_the_page(tmp_path: Path, browser) -> None:
    folder = crop_folder(tmp_path / "crops", ["1.5"])
    (folder / "broken.png").unlink()
    with label_server(folder, "--format", "decimal:1") as (address, _):
        open_page(browser, address)
        press(browser, "15", Keys.ENTER)
        assert "does not fit the format decimal:1" in page_state(browser)["message"]
        press(browser, "a", ctrl=True)
        press(browser, "1.5", Keys.ENTER)
        settle(browser)
    assert names(folder) == {"notes.txt", "1.5_crop_0.png"}
