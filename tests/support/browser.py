"""A page rendered by a real browser: Debian's headless `chromium`, what it built (the DOM), what it
said on its console, and every network request it tried to make.

Every request goes to a proxy in this process that answers none (even loopback traffic is sent
through it), so nothing leaves the machine. Which requests the page made is read from the browser's
network log (`--log-net-log`): a request a document started carries that document's origin as its
initiator (`null` for a page opened from a file), one the browser makes for itself (Chromium still
reaches Google's services at start, whatever its flags) carries none. A page opened from a file
makes no request for itself. Console messages come from the browser's log
(`--enable-logging=stderr`), one per message of any level, uncaught exceptions included.

    python -m tests.support.browser screenshot report.html report.png
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM", "chromium")
TIMEOUT_SECONDS = 120
QUIET = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--disable-breakpad",
    "--disable-client-side-phishing-detection",
    "--disable-component-extensions-with-background-pages",
    "--disable-domain-reliability",
    "--disable-search-engine-choice-screen",
    "--no-default-browser-check",
    "--no-pings",
    "--metrics-recording-only",
    "--password-store=basic",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication,"
    "NetworkTimeServiceQuerying,SafeBrowsing,CertificateTransparencyComponentUpdater,DialMediaRouteProvider,"
    "InterestFeedContentSuggestions,PrivacySandboxSettings4,LensOverlay",
    "--enable-logging=stderr",
    "--v=0",
]
_CONSOLE = re.compile(r":CONSOLE(?:\(\d+\))?:?\d*\] (.*)$")


@dataclass(frozen=True)
class Rendered:
    dom: str
    console: list[str]
    requests: list[str]


class _Refuser(http.server.BaseHTTPRequestHandler):
    def _refuse(self) -> None:
        self.send_response(502)
        self.end_headers()

    do_GET = do_POST = do_HEAD = do_PUT = do_OPTIONS = do_CONNECT = _refuse

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def _proxy() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refuser)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _page_requests(net_log: Path) -> list[str]:
    """`METHOD url` of every request a document started, from a network log."""
    log = json.loads(net_log.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        f"{params.get('method', 'GET')} {params['url']}"
        for event in log["events"]
        if event["type"] == start
        and "url" in (params := event.get("params", {}))
        and params.get("initiator") != "not an origin"
    ]


def page_totals(html: str) -> dict[str, str]:
    """Each `data-total` cell of a report page (its HTML or a browser's DOM): its `data-value` when it
    has one (a size shown in readable units), else its text."""
    cells = re.findall(r'data-total="(\w+)"(?: data-value="(\d+)")?>([^<]*)<', html)
    return {key: value or shown for key, value, shown in cells}


def chromium() -> str:
    """The browser's path; a missing browser fails the caller (`make test` installs it)."""
    found = shutil.which(CHROMIUM)
    if found is None:
        raise RuntimeError(f"{CHROMIUM} is not installed: `make browser` (apt-get install chromium)")
    return found


def render(page: Path, *, screenshot: Path | None = None, width: int = 1280, height: int = 2400) -> Rendered:
    """Open `page` (a file) in headless chromium: its DOM after loading, its console, its requests."""
    url = page.resolve().as_uri()
    with _proxy() as proxy, tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        net_log = Path(profile) / "net-log.json"
        flags = [
            chromium(),
            *QUIET,
            f"--user-data-dir={profile}",
            f"--proxy-server={proxy}",
            "--proxy-bypass-list=<-loopback>",
        ]
        dumped = subprocess.run(
            [*flags, f"--log-net-log={net_log}", "--dump-dom", url],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=True,
        )
        requests = _page_requests(net_log)
        console = [match[1] for line in dumped.stderr.splitlines() if (match := _CONSOLE.search(line))]
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            shot = subprocess.run(
                [*flags, f"--screenshot={screenshot}", f"--window-size={width},{height}", url],
                capture_output=True,
                text=True,
                timeout=TIMEOUT_SECONDS,
                check=True,
            )
            console += [match[1] for line in shot.stderr.splitlines() if (match := _CONSOLE.search(line))]
        return Rendered(dumped.stdout, console, requests)


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "screenshot":
        print("usage: python -m tests.support.browser screenshot PAGE.html OUT.png", file=sys.stderr)
        return 2
    rendered = render(Path(argv[1]), screenshot=Path(argv[2]))
    for line in rendered.console:
        print(f"console: {line}", file=sys.stderr)
    for line in rendered.requests:
        print(f"request: {line}", file=sys.stderr)
    counts = f"{len(rendered.console)} console messages, {len(rendered.requests)} requests"
    print(f"{argv[2]}: the page rendered, {counts}")
    return 1 if rendered.console or rendered.requests else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
