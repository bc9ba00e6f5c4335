"""Takes docs/chat-page.png: the customer chat page next to the agent's terminal, from a real demo.

    .venv/bin/python docs/screenshot.py

Runs ``errbot-support-demo run`` (the template, with a rating question) in a scratch folder,
chats on its page in headless Chromium while typing agent commands into the demo's terminal,
then shows both side by side and takes the picture.
"""

from __future__ import annotations

import base64
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
DEMO = Path(sys.executable).parent / "errbot-support-demo"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
PROMPT = "[@admin ➡ @support] >>> "


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    config = (ROOT / "config_template.py").read_text()
    config += '\nSUPPORT_RATING_QUESTION = "How did we do? Rate us from 1 to 5."\n'
    (folder / "config.py").write_text(config)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PUBNUB_", "SUPPORT_"))}
    demo = subprocess.Popen(
        [str(DEMO), "run", "--port", "0"],
        cwd=folder,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output: list[str] = []
    typed: list[tuple[int, str]] = []  # where the agent typed what (a pipe does not echo)
    threading.Thread(
        target=lambda: [output.append(line.decode()) for line in demo.stdout], daemon=True
    ).start()

    def terminal() -> str:
        return ANSI.sub("", "".join(output))

    def as_typed() -> str:
        """The terminal as the agent saw it: each command after a prompt, where it was typed
        (through a pipe the prompt comes out glued to the next output, and nothing echoes)."""
        text = terminal().replace(PROMPT, "")
        for offset, command in reversed(typed):
            text = f"{text[:offset]}{PROMPT}{command}\n{text[offset:]}"
        return text[text.index("#1 New conversation") :]

    def wait(fragment: str) -> None:
        deadline = time.monotonic() + 60
        while fragment not in terminal():
            if time.monotonic() > deadline:
                raise SystemExit(f"the demo never showed {fragment!r}:\n{terminal()}")
            time.sleep(0.1)

    def agent(command: str, then: str) -> None:
        typed.append((len(terminal().replace(PROMPT, "")), command))
        demo.stdin.write(f"{command}\n".encode())
        demo.stdin.flush()
        wait(then)

    try:
        wait("The bot is up")
        take_pictures(
            re.search(r"Customer chat page on (\S+)", terminal()).group(1), agent, wait, as_typed
        )
    finally:
        demo.terminate()
        demo.wait(30)
        shutil.rmtree(folder, ignore_errors=True)


def take_pictures(
    url: str,
    agent: Callable[[str, str], None],
    wait: Callable[[str], None],
    terminal: Callable[[], str],
) -> None:
    """Chat on the page while the agent answers, then picture both side by side."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"))
        page = browser.new_page(viewport={"width": 390, "height": 760})
        page.goto(url)
        expect(page.locator("#support-chat-connection")).to_have_text("Connected")
        page.get_by_text("Your name and email (optional)").click()
        page.get_by_label("Name").fill("Dana Smith")
        page.get_by_label("Email").fill("dana@example.com")
        page.get_by_label("Your message").fill("Hello, my parcel has not arrived")
        page.get_by_label("Your message").press("Enter")
        wait("Type !claim 1 to take it.")
        agent("!claim 1", "#1 is yours")
        agent("!reply 1 Sorry about that! What is your order number?", "[@admin")
        expect(page.get_by_text("What is your order number?")).to_be_visible()
        page.get_by_label("Your message").fill("It is 4411")
        page.get_by_label("Your message").press("Enter")
        wait("It is 4411")
        agent("!reply 1 Found it: it arrives tomorrow.", "[@admin")
        expect(page.get_by_text("arrives tomorrow")).to_be_visible()
        agent("!resolve 1", "resolved by admin")
        expect(page.locator("#support-chat-rating")).to_be_visible()
        page.get_by_text("Your name and email (optional)").click()  # folded again
        shot = ROOT / "docs" / "chat-page-only.png"
        page.screenshot(path=str(shot))
        side_by_side = browser.new_page(viewport={"width": 1280, "height": 760})
        side_by_side.set_content(composite(shot, terminal()))
        side_by_side.screenshot(path=str(ROOT / "docs" / "chat-page.png"))
        shot.unlink()
        browser.close()


def composite(page_shot: Path, terminal: str) -> str:
    shown = html.escape(terminal)
    image = base64.b64encode(page_shot.read_bytes()).decode()
    return f"""<!doctype html><html><body style="margin:0;display:flex;gap:16px;
      background:#e5e7eb;font-family:sans-serif;padding:16px;box-sizing:border-box;height:760px">
      <figure style="margin:0"><img style="border:1px solid #9ca3af;height:700px"
        src="data:image/png;base64,{image}">
        <figcaption style="font-size:13px">The customer, on the chat page (phone width)</figcaption>
      </figure>
      <figure style="margin:0;flex:1;display:flex;flex-direction:column">
        <pre style="margin:0;flex:1;background:#111827;color:#e5e7eb;padding:12px;font-size:12.5px;
          white-space:pre-wrap;overflow:hidden;border-radius:6px">{shown}</pre>
        <figcaption style="font-size:13px">The agent, in the terminal of make demo</figcaption>
      </figure></body></html>"""


if __name__ == "__main__":
    main()
