"""What the browser tests share (portal.py, sso.py): the checks' record, free loopback ports, a
headless Chromium, and reading the page."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.parse

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

SHOTS = os.environ.get("AGENTHOST_BROWSER_SCREENSHOTS") or ""

failures = []


def check(condition, message):
    print(("ok   " if condition else "FAIL ") + message, flush=True)
    if not condition:
        failures.append(message)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def browser(phone=False):
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,800",
                     "--no-first-run", "--disable-extensions", "--password-store=basic"):
        options.add_argument(argument)
    if phone:
        # A 320-pixel-wide phone: the narrowest the pages are meant for.
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": {"width": 320, "height": 640, "pixelRatio": 2}})
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(20)
    return driver


def text(driver, element_id):
    try:
        return driver.find_element(By.ID, element_id).text
    except Exception:
        return None


def path_of(driver):
    return urllib.parse.urlsplit(driver.current_url).path


def shot(driver, name):
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        driver.save_screenshot(os.path.join(SHOTS, name))


def stop(processes):
    """SIGTERM to each process, then waits for each; one that does not stop within 15 s is killed
    and counts as a failure."""
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            failures.append(f"{process.args[0]} did not stop within 15 s")


def show_logs(directory, skip=()):
    """The end of every log in `directory`, to standard error: after a failure."""
    for name in os.listdir(directory):
        if name.endswith(".log") and name not in skip:
            print(f"--- {name}", file=sys.stderr)
            with open(os.path.join(directory, name)) as file:
                print(file.read()[-3000:], file=sys.stderr)
