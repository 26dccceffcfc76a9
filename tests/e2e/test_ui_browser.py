"""`make ui` end to end: a real MLflow server, a real headless Chromium, logged runs, a
sweep whose child runs unfold under their parent, and the README's walk-through (Model
training, Columns, Compare) clicked through as a learner would.

Slow (a server start, a browser start): deselected by default, run with
``pytest -m slow``. Needs the Debian packages ``chromium`` and ``chromium-driver``;
Selenium is pointed at their binaries and never downloads a driver.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image
from sklearn.datasets import load_sample_image

from common.paths import OUTPUTS_DIR, REPO_ROOT
from common.tracking import PARENT_TAG
from tests.servers import free_port, stop_group, wait_until_up

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # root in a container has no user namespaces to sandbox with
    "--disable-gpu",
    "--disable-dev-shm-usage",
    # No internet here: background fetches to Google stall on refused connections.
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1600,1000",
)
STAMP = ".venv/.install-stamp"  # the Makefile's install prerequisite of `ui`
SERVER_START_TIMEOUT = 90  # s, `mlflow ui` spawns workers and checks the database schema
PAGE_RENDER_TIMEOUT = 60  # s, the single-page app fetches the runs after it loads
EXPERIMENT = "week1"
RUNS = {"ui-e2e-rank-4": 4, "ui-e2e-rank-16": 16}  # run name -> low_rank.rank
SCREENSHOT_COPY = OUTPUTS_DIR / "e2e" / "mlflow_ui_week1.png"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SWEEP = ["tasks=[logistic]", "compare_steps=10", "progress=false", "optimizer.name=lbfgs,newton"]
SWEEP_EXPERIMENT = "week3"
SWEEP_SCREENSHOT_COPY = OUTPUTS_DIR / "e2e" / "mlflow_ui_sweep.png"
ROW_OF_RUN = "//div[@role='row'][.//a[contains(@href, '/runs/{run_id}')]]"  # ag-grid rows
UNFOLD_BUTTON = ".//button[contains(@data-component-id, 'runnamecellrenderer')]"  # the [+]


@pytest.fixture
def logged_runs(tracking_uri, runs_of, tmp_path):
    """Two real week-1 runs (the CLI, on a small crop) in a temporary store: ``{id: name}``."""
    crop = tmp_path / "crop.png"
    Image.fromarray(load_sample_image("china.jpg")[150:246, 250:378]).save(crop)
    for name, rank in RUNS.items():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "projects.week1_pca",
                f"images=[{crop}]",
                f"low_rank.rank={rank}",
                "low_rank.ranks=[2]",
                "patch_codec.curve_bpp=[2.0]",
                "jpeg.qualities=[20,80]",
                f"tracking.uri={tracking_uri}",
                f"tracking.run_name={name}",
                f"hydra.run.dir={tmp_path / name}",
            ],
            cwd=REPO_ROOT,
            check=True,
            capture_output=True,
            timeout=300,
        )
    runs = runs_of(EXPERIMENT)
    assert {run.info.status for run in runs} == {"FINISHED"}
    return {run.info.run_id: run.info.run_name for run in runs}


@pytest.fixture
def ui_server(tracking_uri, tmp_path):
    """``make ui`` on a free port of 127.0.0.1, serving ``tracking_uri``: its base URL.

    ``-o`` (``--assume-old``) keeps make from re-running the install recipe when the
    stamp is missing or older than pyproject.toml: this test is about the `ui` recipe.
    """
    port = free_port()
    log_path = tmp_path / "make_ui.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            ["make", "-o", STAMP, "ui", f"PORT={port}"],
            cwd=REPO_ROOT,
            env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: make, mlflow and the workers
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base_url}/health", process, log_path, SERVER_START_TIMEOUT)
        ready = f"MLflow UI ready: {base_url} (store {tracking_uri}); Ctrl-C stops it"
        deadline = time.monotonic() + 30  # its own poll may answer a moment after ours
        while ready not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ready in log_path.read_text().splitlines(), log_path.read_text()[-2000:]
        assert "StarletteDeprecationWarning" not in log_path.read_text()
        yield base_url
    finally:
        stop_group(process)


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium driven by the system chromedriver, on a fresh profile."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        pytest.skip(
            f"{', '.join(missing)} not found: install with "
            "`apt-get install chromium chromium-driver`"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(
        service=Service(executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "driver.log")),
        options=options,
    )
    driver.set_page_load_timeout(PAGE_RENDER_TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()


def test_make_ui_shows_logged_runs_in_a_browser(
    logged_runs, ui_server, browser, tracking_uri, tmp_path
):
    from mlflow.tracking import MlflowClient
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    experiment_id = MlflowClient(tracking_uri).get_experiment_by_name(EXPERIMENT).experiment_id
    names = sorted(logged_runs.values())
    # The HTML shell the server sends carries no run: names on screen come from rendering.
    with urllib.request.urlopen(f"{ui_server}/", timeout=10) as response:
        shell = response.read().decode()
    assert not any(name in shell for name in names)

    # MLflow 3 opens an experiment on its GenAI overview (/#/experiments/<id>/overview/usage);
    # the runs table of classic training lives at /runs, in the "Model training" view.
    browser.get(f"{ui_server}/#/experiments/{experiment_id}/runs?workflowType=machine_learning")
    screenshot = tmp_path / "mlflow_ui_week1.png"

    def page_text(driver) -> str:
        return driver.find_element(By.TAG_NAME, "body").text

    try:
        WebDriverWait(browser, PAGE_RENDER_TIMEOUT, poll_frequency=0.5).until(
            lambda driver: all(name in page_text(driver) for name in names)
        )
    except TimeoutException:
        browser.save_screenshot(str(screenshot))
        pytest.fail(
            f"runs {names} not on {browser.current_url} after {PAGE_RENDER_TIMEOUT} s "
            f"(screenshot {screenshot}); page text:\n{page_text(browser)[:2000]}"
        )
    # Each name is a link to its own run page: the runs table, not stray text.
    for run_id, name in logged_runs.items():
        links = browser.find_elements(By.LINK_TEXT, name)
        hrefs = [link.get_attribute("href") or "" for link in links]
        assert any(f"/runs/{run_id}" in href for href in hrefs), (name, hrefs)

    assert browser.save_screenshot(str(screenshot))
    check_screenshot(screenshot, SCREENSHOT_COPY)


def test_make_compare_prints_the_link_that_opens_both_runs_in_compare(
    logged_runs, ui_server, browser, tracking_uri, tmp_path
):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    result = subprocess.run(
        ["make", "-o", STAMP, "compare", "WEEK=1"],
        cwd=REPO_ROOT, env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "low_rank.rank" in result.stdout  # the param the two runs differ in
    [url] = [line.split(" then ")[1] for line in result.stdout.splitlines() if "then http" in line]
    browser.get(url.replace("http://127.0.0.1:5000", ui_server))  # make ui's default port there
    names = sorted(logged_runs.values())

    def page_text(driver) -> str:
        return driver.find_element(By.TAG_NAME, "body").text

    try:
        WebDriverWait(browser, PAGE_RENDER_TIMEOUT, poll_frequency=0.5).until(
            lambda driver: all(text in page_text(driver) for text in [*names, "low_rank.rank"])
        )
    except TimeoutException:
        screenshot = tmp_path / "mlflow_compare.png"
        browser.save_screenshot(str(screenshot))
        pytest.fail(
            f"{names} and low_rank.rank not on {browser.current_url} after "
            f"{PAGE_RENDER_TIMEOUT} s (screenshot {screenshot}):\n{page_text(browser)[:2000]}"
        )


def check_screenshot(screenshot: Path, copy: Path) -> None:
    """A real rendering (a PNG, big enough, not one flat colour), copied to ``copy``."""
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(screenshot, copy)
    png = screenshot.read_bytes()
    assert png.startswith(PNG_SIGNATURE)
    assert len(png) > 10_000, f"{len(png)} bytes: too small for a rendered runs table"
    with Image.open(screenshot) as image:
        assert image.width >= 800, image.size
        assert image.height >= 600, image.size
        colors = image.convert("RGB").getcolors(maxcolors=1 << 16)  # None: more than 65536
        assert colors is None or len(colors) > 16, "screenshot is nearly uniform: blank page"


@pytest.fixture
def logged_sweep(tracking_uri, runs_of, tmp_path):
    """A real two-job week-3 sweep (the CLI, ``-m``): (parent id, {child id: name})."""
    subprocess.run(
        [sys.executable, "-m", "projects.week3_regression", "-m", *SWEEP,
         f"tracking.uri={tracking_uri}", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        cwd=REPO_ROOT, check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    runs = runs_of(SWEEP_EXPERIMENT)
    [parent] = [run for run in runs if PARENT_TAG not in run.data.tags]
    children = {r.info.run_id: r.info.run_name for r in runs if r is not parent}
    assert len(children) == 2
    assert {r.info.status for r in runs} == {"FINISHED"}
    return parent.info.run_id, children


def test_a_sweeps_children_unfold_under_their_parent_in_a_browser(
    logged_sweep, ui_server, browser, tracking_uri, tmp_path
):
    from mlflow.tracking import MlflowClient
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    parent_id, children = logged_sweep
    client = MlflowClient(tracking_uri)
    experiment_id = client.get_experiment_by_name(SWEEP_EXPERIMENT).experiment_id
    browser.get(f"{ui_server}/#/experiments/{experiment_id}/runs?workflowType=machine_learning")
    screenshot = tmp_path / "mlflow_ui_sweep.png"
    wait = WebDriverWait(browser, PAGE_RENDER_TIMEOUT, poll_frequency=0.5)

    def row_of(run_id: str):
        """The table row holding the link to ``run_id``'s page, or None if not shown."""
        rows = browser.find_elements(By.XPATH, ROW_OF_RUN.format(run_id=run_id))
        return rows[0] if rows else None

    def until(condition, what: str):
        try:
            return wait.until(lambda _: condition())
        except TimeoutException:
            browser.save_screenshot(str(screenshot))
            text = browser.find_element(By.TAG_NAME, "body").text[:2000]
            pytest.fail(f"{what} after {PAGE_RENDER_TIMEOUT} s (screenshot {screenshot}):\n{text}")

    parent_row = until(lambda: row_of(parent_id), "no row for the parent run")
    # Folded: the children are in the experiment but shown only through their parent.
    assert all(row_of(child) is None for child in children), "children shown before unfolding"
    parent_row.find_element(By.XPATH, UNFOLD_BUTTON).click()
    until(lambda: all(row_of(child) for child in children), "children not shown on unfolding")
    parent_index = int(row_of(parent_id).get_attribute("row-index"))
    child_indexes = sorted(int(row_of(child).get_attribute("row-index")) for child in children)
    assert child_indexes == [parent_index + 1, parent_index + 2], "children right under the parent"
    for child, name in children.items():
        assert name in row_of(child).text

    assert browser.save_screenshot(str(screenshot))
    check_screenshot(screenshot, SWEEP_SCREENSHOT_COPY)


# The README's "Look at a run, compare runs" walk-through, step by step, with the labels
# MLflow 3.17 renders. The two runs a learner makes first: the defaults, another event model.
WEEK2_RUNS = {"defaults": [], "complement": ["model=complement"]}
WEEK2_EXPERIMENT = "week2"
METRIC, PARAM = "headline", "model.name"  # the columns the walk-through adds
LINK = "//a[normalize-space(.)='{text}']"
BUTTON = "//button[normalize-space(.)='{text}']"
MODEL_TRAINING = "//div[@role='button'][normalize-space(.)='Model training']"
GOT_IT = BUTTON.format(text="Got it")  # the "Detect Issues in Your Traces" popover, first visit
ASSISTANT_CLOSE = "//button[@data-component-id='mlflow.assistant.chat_panel.close']"
COLUMN_SEARCH = "//input[@placeholder='Search columns']"
COLUMN_CHECKBOX = (
    "//div[contains(@class, 'tree-treenode')][normalize-space(.)='{name}']"
    "//span[contains(@class, 'tree-checkbox')]"
)
CELL = "//div[@role='row'][@row-id='{run_id}']//div[@role='gridcell'][@col-id='{column}']"
ROW_CHECKBOX = (
    "//div[@role='row'][@row-id='{run_id}']//div[contains(@class, 'ag-selection-checkbox')]"
)
COMPARE_TITLE = "//*[normalize-space(text())='Comparing 2 Runs from 1 Experiment']"
COMPARE_ROW = "//tr[*[1][normalize-space(.)='{label}']]/*[position() > 1]"  # one cell a run
DIFF_ONLY = "//button[@aria-label='{section} - Show diff only']"
PARAM_NAMES = (
    "//button[@aria-label='Parameters - Show diff only']"
    "/ancestor::div[contains(@class, 'collapse-content-box')][1]//tr/th"
)
DISPLAY_ROUNDING = 5e-3  # relative: the Compare page rounds a metric (0.953 for 0.953284)


@pytest.fixture
def week2_runs(tracking_uri, runs_of, tmp_path):
    """``make week2`` and ``make week2 ARGS="model=complement"`` (the command they run) in a
    temporary store: the two runs, newest first."""
    if not os.environ.get("MATH4ML_DATA_MIRROR"):
        pytest.skip("set MATH4ML_DATA_MIRROR to the offline dataset copies (../shared/data)")
    for name, overrides in WEEK2_RUNS.items():
        subprocess.run(
            [sys.executable, "-m", "projects.week2_spam", *overrides,
             f"tracking.uri={tracking_uri}", f"hydra.run.dir={tmp_path / name}"],
            cwd=REPO_ROOT, check=True, capture_output=True, timeout=600,
        )  # fmt: skip
    runs = runs_of(WEEK2_EXPERIMENT)
    assert {run.info.status for run in runs} == {"FINISHED"}
    assert {run.data.params[PARAM] for run in runs} == {"bernoulli", "complement"}
    return runs


class Learner:
    """What a learner does on the page: press what is shown, wait for what should appear."""

    def __init__(self, browser, screenshot: Path):
        self.browser, self.screenshot = browser, screenshot

    def until(self, condition, what: str):
        """``condition()`` once it is truthy; else fail with a screenshot and the page's text."""
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            wait = WebDriverWait(self.browser, PAGE_RENDER_TIMEOUT, poll_frequency=0.5)
            return wait.until(lambda _: condition())
        except TimeoutException:
            self.browser.save_screenshot(str(self.screenshot))
            text = self.browser.find_element(By.TAG_NAME, "body").text[:2000]
            pytest.fail(
                f"{what} after {PAGE_RENDER_TIMEOUT} s (screenshot {self.screenshot}):\n{text}"
            )

    def shown(self, xpath: str):
        """The first element at ``xpath`` on screen, or None."""
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.common.by import By

        try:
            return next(e for e in self.browser.find_elements(By.XPATH, xpath) if e.is_displayed())
        except (StopIteration, StaleElementReferenceException):
            return None

    def press(self, xpath: str, what: str) -> None:
        """Click ``what`` once it is shown; a popover in the way is closed with "Got it"."""
        from selenium.common.exceptions import (
            ElementClickInterceptedException,
            StaleElementReferenceException,
        )

        def pressed() -> bool:
            try:
                self.until(lambda: self.shown(xpath), f"{what} not shown").click()
            except ElementClickInterceptedException:
                if got_it := self.shown(GOT_IT):
                    got_it.click()
                return False
            except StaleElementReferenceException:  # the page re-rendered it: find it again
                return False
            return True

        self.until(pressed, f"{what} never took a click")

    def texts(self, xpath: str) -> list[str]:
        from selenium.webdriver.common.by import By

        return [e.text for e in self.browser.find_elements(By.XPATH, xpath)]


def test_readme_walk_through_adds_metric_and_param_columns_then_compares_the_two_runs(
    week2_runs, ui_server, browser, tmp_path
):
    from selenium.webdriver.common.keys import Keys

    learner = Learner(browser, tmp_path / "walk_through.png")
    runs = {run.info.run_id: run for run in week2_runs}

    def cell(run_id: str, column: str) -> str | None:
        return next(iter(learner.texts(CELL.format(run_id=run_id, column=column))), None)

    # 1. http://127.0.0.1:<port>, Home: under "Recent Experiments", the experiment week2.
    browser.get(f"{ui_server}/")
    learner.press(LINK.format(text=WEEK2_EXPERIMENT), "the experiment week2")
    # 2. MLflow 3 opens it on the GenAI overview: "Model training" (top left) shows the runs.
    learner.press(MODEL_TRAINING, "Model training")
    learner.until(
        lambda: all(learner.shown(LINK.format(text=run.info.run_name)) for run in week2_runs),
        "the two runs not in the runs table",
    )
    headers = "//*[@role='columnheader']"
    assert not {METRIC, PARAM} & set(learner.texts(headers)), "no metric, no param by default"
    # 3. Close the MLflow Assistant (its X): the columns you add go to the right end.
    if learner.shown(ASSISTANT_CLOSE):
        learner.press(ASSISTANT_CLOSE, "the MLflow Assistant's Close")
    # 4. Columns: type in "Search columns", tick headline (Metrics), model.name (Parameters).
    learner.press(BUTTON.format(text="Columns"), "Columns")
    for name in (METRIC, PARAM):
        search = learner.until(lambda: learner.shown(COLUMN_SEARCH), "no Search columns")
        search.send_keys(Keys.CONTROL, "a")
        search.send_keys(name)
        learner.press(COLUMN_CHECKBOX.format(name=name), f"the checkbox of {name} in Columns")
    search.send_keys(Keys.ESCAPE)
    learner.until(lambda: {METRIC, PARAM} <= set(learner.texts(headers)), "no columns added")
    for run_id, run in runs.items():
        metric = learner.until(lambda run_id=run_id: cell(run_id, f"metrics.`{METRIC}`"), METRIC)
        assert float(metric) == run.data.metrics[METRIC], run.info.run_name
        assert cell(run_id, f"params.`{PARAM}`") == run.data.params[PARAM], run.info.run_name

    # 5. Tick the two runs (the checkbox left of each name), press Compare.
    for run_id, run in runs.items():
        learner.press(ROW_CHECKBOX.format(run_id=run_id), f"the checkbox of {run.info.run_name}")
    learner.press(BUTTON.format(text="Compare"), "Compare")
    learner.until(lambda: learner.shown(COMPARE_TITLE), "no Compare page")
    order = learner.texts(COMPARE_ROW.format(label="Run ID:"))  # one column per run
    assert sorted(order) == sorted(runs), order
    names = [runs[run_id].info.run_name for run_id in order]
    assert learner.texts(COMPARE_ROW.format(label="Run Name:")) == names
    # 6. Parameters, "Show diff only": model.name alone, each run's value under its name.
    learner.press(DIFF_ONLY.format(section="Parameters"), "Parameters - Show diff only")
    learner.until(lambda: learner.texts(PARAM_NAMES) == [PARAM], f"{PARAM} not alone")
    values = [runs[run_id].data.params[PARAM] for run_id in order]
    assert learner.texts(COMPARE_ROW.format(label=PARAM)) == values
    assert sorted(values) == ["bernoulli", "complement"]
    #    Metrics, "Show diff only": the headline of each run, side by side.
    learner.press(DIFF_ONLY.format(section="Metrics"), "Metrics - Show diff only")
    shown = learner.until(lambda: metric_row(browser, METRIC), f"no {METRIC} row in Metrics")
    expected = [runs[run_id].data.metrics[METRIC] for run_id in order]
    assert [float(value) for value in shown] == pytest.approx(expected, rel=DISPLAY_ROUNDING)
    assert browser.save_screenshot(str(learner.screenshot))


def metric_row(browser, metric: str) -> list[str] | None:
    """The values the Compare page's Metrics section shows for ``metric``, left to right.

    That section is two virtualized grids (names, values) whose cells sit at absolute
    offsets: a metric's values are the value cells at the same ``top`` as its name."""
    return browser.execute_script(
        """
        const button = document.querySelector("button[aria-label='Metrics - Show diff only']");
        const [names, values] = button.closest('.du-bois-light-collapse-content-box')
            .querySelectorAll('.ReactVirtualized__Grid__innerScrollContainer');
        const name = [...names.children].find(cell => cell.textContent.trim() === arguments[0]);
        if (!name) return null;
        return [...values.children].filter(cell => cell.style.top === name.style.top)
            .sort((a, b) => parseFloat(a.style.left) - parseFloat(b.style.left))
            .map(cell => cell.textContent.trim());
        """,
        metric,
    )
