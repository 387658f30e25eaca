"""The dashboard in a real headless Chromium, against a real cluster: what a user sees and does.

Needs Debian's ``chromium`` and ``chromium-driver`` (installed by .ci/run) and selenium. With
``COREEMU_SCREENSHOT=docs/dashboard.png`` the partition test saves the page as the README shows it.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import tempfile
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cluster_harness import ClusterRun, emulator_pids, write_config

pytestmark = pytest.mark.cluster

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip(
        f"browser tests need {CHROMIUM} and {CHROMEDRIVER}: apt-get install chromium chromium-driver",
        allow_module_level=True,
    )
pytest.importorskip("selenium", reason="browser tests need selenium: pip install -e '.[test]'")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

WAIT_S = 20  # generous: only there to stop a hang; every wait ends as soon as its condition holds
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1300,1000",
)


@pytest.fixture(scope="module")
def browser():
    profile = tempfile.mkdtemp(prefix="coreemu-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    service = Service(CHROMEDRIVER)
    driver = webdriver.Chrome(service=service, options=opts)
    try:
        yield driver
    finally:
        driver.quit()  # ends chromium and chromedriver
        service.stop()
        assert service.process is None or service.process.poll() is not None
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory):
    """One 3-node cluster for the module (bringing one up is most of a test's time): (run, url)."""
    tmp = tmp_path_factory.mktemp("dashboard")
    run = ClusterRun(tmp, write_config(tmp))
    try:
        out = run.up().stdout
        url = next(line.split()[1] for line in out.splitlines() if line.startswith("dashboard: "))
        yield run, url
    finally:
        run.down()
        assert not emulator_pids(str(tmp)), "the shared cluster left processes behind"


def settled(status) -> bool:
    nodes = status["nodes"]
    return (
        not status["active_faults"]
        and all(
            n["state"] == "up" and all(p["reachable"] for p in n["peers"].values()) for n in nodes
        )
        and sum(n.get("role") == "leader" for n in nodes) == 1
    )


@pytest.fixture
def dashboard(shared_cluster, browser):
    """The cluster healed and settled, its dashboard open: (run, base URL, token, history mark).

    Each test starts from a whole cluster whatever the one before did to it; the history mark is
    where this test's entries in history.jsonl begin.
    """
    run, url = shared_cluster
    if not settled(run.status()):
        run.cli("fault", str(run.run_dir), "clear")
        run.wait_for(settled, timeout=WAIT_S * 2, what="the cluster to heal and settle")
    assert url == run.status()["dashboard"]
    browser.get(url)
    wait(browser, lambda: len(boxes(browser)) == 3, "the page to show the nodes")
    base, token = url.split("/?token=")
    return run, base, token, len(history(run))


def wait(driver, predicate, what):
    return WebDriverWait(driver, WAIT_S, poll_frequency=0.1).until(
        lambda _: predicate(), message=f"timed out waiting for {what}"
    )


def boxes(driver) -> dict[str, dict]:
    return driver.execute_script(
        """return Object.fromEntries([...document.querySelectorAll('.node')].map(b => [b.dataset.node,
             {state: b.dataset.state, role: b.dataset.role, leader: b.classList.contains('leader'),
              marked: !!b.querySelector('[data-leader]')}]))"""
    )


def links(driver) -> dict[str, str]:
    return driver.execute_script(
        """return Object.fromEntries([...document.querySelectorAll('#links [data-link]')]
             .map(g => [g.dataset.link, g.dataset.status]))"""
    )


def leaders(driver) -> list[str]:
    return [name for name, b in boxes(driver).items() if b["leader"] and b["marked"]]


def save_small_png(png: bytes, path: Path) -> None:
    """The README's picture: 256 colours are plenty for this page and keep it well under 200 KB."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        from PIL import Image  # comes with matplotlib
    except ImportError:
        path.write_bytes(png)
        return
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MAXCOVERAGE).save(path, optimize=True)


def history(run) -> list[dict]:
    lines = (run.run_dir / "history.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_lists_every_node_marks_the_leader_a_killed_leader_is_replaced_and_comes_back(
    dashboard, browser
):
    run, _, _, mark = dashboard
    wait(browser, lambda: len(leaders(browser)) == 1, "one leader marked")
    assert set(boxes(browser)) == {"core-01", "core-02", "core-03"}
    (old,) = leaders(browser)
    assert run.node(old)["role"] == "leader"

    browser.find_element("css selector", f'.node[data-node="{old}"] [data-action="kill"]').click()

    wait(browser, lambda: boxes(browser)[old]["state"] == "down", f"{old} shown down")
    wait(
        browser,
        lambda: len(leaders(browser)) == 1 and leaders(browser)[0] != old,
        "a new leader marked",
    )
    # the supervisor starts it again; the same page follows without a reload
    browser.find_element(
        "css selector", f'.node[data-node="{old}"] [data-action="restart"]'
    ).click()
    wait(browser, lambda: boxes(browser)[old]["state"] == "up", f"{old} shown up again")
    starts = [h for h in history(run)[mark:] if h["type"] == "fault" and h["phase"] == "start"]
    assert [(h["kind"], h["nodes"], h["origin"]) for h in starts] == [
        ("kill", [old], "dashboard"),
        ("restart", [old], "dashboard"),
    ]


def test_partition_shows_cut_links_then_heal_shows_them_whole(dashboard, browser):
    wait(browser, lambda: set(links(browser).values()) == {"ok"}, "all links whole")
    browser.find_element("css selector", 'input[data-node="core-01"][data-side="A"]').click()
    for name in ("core-02", "core-03"):
        browser.find_element("css selector", f'input[data-node="{name}"][data-side="B"]').click()
    browser.find_element("css selector", '#partition-form [data-action="partition"]').click()

    expected = {"core-01|core-02": "cut", "core-01|core-03": "cut", "core-02|core-03": "ok"}
    wait(browser, lambda: links(browser) == expected, "core-01 cut off from the others")
    wait(
        browser,
        lambda: (
            "partition core-01 | core-02,core-03"
            in browser.find_element("id", "active-faults").text
        ),
        "the partition listed as an active fault",
    )
    shot = os.environ.get("COREEMU_SCREENSHOT")
    if shot:
        majority = {"core-02", "core-03"}
        wait(browser, lambda: set(leaders(browser)) & majority, "a leader on the majority side")
        cut_off = browser.find_element("css selector", '.node[data-node="core-01"]')
        wait(browser, lambda: "no answer from" in cut_off.text, "core-01 hearing nobody")
        save_small_png(browser.get_screenshot_as_png(), Path(shot))

    browser.find_element("id", "heal-all").click()
    wait(browser, lambda: set(links(browser).values()) == {"ok"}, "the links whole again")
    assert "no active faults" in browser.find_element("id", "active-faults").text


def test_a_fault_without_the_secret_is_403_and_changes_nothing(dashboard, browser):
    run, base, _, mark = dashboard
    body = json.dumps({"kind": "kill", "targets": ["core-01"]}).encode()
    req = urllib.request.Request(
        f"{base}/api/fault", body, {"Content-Type": "application/json"}, method="POST"
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.HTTPError) as err:
        opener.open(req, timeout=5)
    assert err.value.code == 403
    # the page itself, same origin, cookie and all, but without the secret header
    status = browser.execute_async_script(
        """const done = arguments[arguments.length - 1];
           fetch('/api/fault', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                body: JSON.stringify({kind: 'kill', targets: ['core-01']})})
             .then(r => done(r.status), e => done(String(e)));"""
    )
    assert status == 403
    assert not [h for h in history(run)[mark:] if h["type"] == "fault"]
    assert {n["state"] for n in run.status()["nodes"]} == {"up"}


class _Elsewhere(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<!doctype html><title>elsewhere</title>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_cross_origin_post_is_refused_even_with_the_secret(dashboard, browser):
    run, base, token, mark = dashboard
    other = ThreadingHTTPServer(("127.0.0.1", 0), _Elsewhere)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        browser.get(f"http://127.0.0.1:{other.server_address[1]}/")
        # a form post is what a hostile page can send without a preflight; it knows the secret
        browser.execute_async_script(
            """const [url, token, done] = arguments;
               fetch(url, {method: 'POST', mode: 'no-cors',
                           headers: {'Content-Type': 'application/x-www-form-urlencoded'},
                           body: 'token=' + token + '&kind=kill&targets=core-01'})
                 .then(() => done(), () => done());""",
            f"{base}/api/fault",
            token,
        )
    finally:
        other.shutdown()
        other.server_close()
    log = run.run_dir / "supervisor.log"
    wait(browser, lambda: "cross-origin request refused" in log.read_text(), "the refusal logged")
    assert not [h for h in history(run)[mark:] if h["type"] == "fault"]
    assert {n["state"] for n in run.status()["nodes"]} == {"up"}


def test_the_page_says_so_when_the_supervisor_is_killed(cluster_factory, browser):
    run = cluster_factory()
    out = run.up().stdout
    url = next(line.split()[1] for line in out.splitlines() if line.startswith("dashboard: "))
    browser.get(url)
    wait(browser, lambda: len(boxes(browser)) == 3, "the page to show the nodes")
    os.kill(run.status()["supervisor_pid"], signal.SIGKILL)  # no goodbye: the stream just breaks
    banner = browser.find_element("id", "banner")
    wait(browser, lambda: banner.is_displayed() and "gone" in banner.text, "the banner")


# Last in the module on purpose: it stops the shared cluster (pytest keeps the file's order).
def test_the_page_says_so_when_the_run_stops(dashboard, browser):
    run = dashboard[0]
    run.down()
    banner = browser.find_element("id", "banner")
    wait(browser, lambda: banner.is_displayed() and "stopped" in banner.text, "the banner")
