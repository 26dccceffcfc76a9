"""`make serve-week2` for real: `mlflow models serve` on a free loopback port, raw text in.

Slow (a week-2 run, then a server start): run with ``pytest -m slow``.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.paths import REPO_ROOT
from projects.week2_spam import server as server_module
from tests.servers import free_port, stop_group, wait_until_up
from tests.weeks import run_in_own_store

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("MATH4ML_DATA_MIRROR"),
        reason="set MATH4ML_DATA_MIRROR to the offline dataset copies (../shared/data)",
    ),
]
SERVER_START_TIMEOUT = 120  # s: mlflow imports, loads the model, starts uvicorn


@pytest.fixture(scope="module")
def logged_filter(tmp_path_factory, empty_store):
    """A week-2 run in a store of this module's own: (tracking URI, run id)."""
    folder = tmp_path_factory.mktemp("serving")
    _, run, uri = run_in_own_store(
        "week2_spam", "week2", ["drill_samples=1000"], folder, empty_store
    )
    return uri, run.info.run_id


@pytest.fixture(scope="module")
def server(logged_filter, tmp_path_factory):
    """``make serve-week2`` on a free port: its base URL; the process group stopped after."""
    uri, run_id = logged_filter
    port = free_port()
    log_path = tmp_path_factory.mktemp("server") / "serve.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            ["make", "-o", ".venv/.install-stamp", "serve-week2", f"SERVE_PORT={port}"],
            cwd=REPO_ROOT,
            env={**os.environ, "MLFLOW_TRACKING_URI": uri},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # make, mlflow and uvicorn's workers in one group
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base_url}/ping", process, log_path, SERVER_START_TIMEOUT)
        yield base_url, run_id, log_path
    finally:
        stop_group(process)


def invoke(base_url: str, texts: list[str]) -> np.ndarray:
    body = json.dumps({"inputs": texts}).encode()
    request = urllib.request.Request(
        f"{base_url}/invocations", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return np.array(json.loads(response.read())["predictions"])


def test_the_server_scores_raw_messages_like_the_logged_filter(server, logged_filter):
    import mlflow

    base_url, run_id, log_path = server
    mlflow.set_tracking_uri(logged_filter[0])
    assert run_id in log_path.read_text()  # it serves the newest run: this one
    texts = ["Congratulations! You've won a FREE cruise. Text WIN to 80086", "ok see you at 7", ""]
    served = invoke(base_url, texts)
    model = mlflow.pyfunc.load_model(f"runs:/{run_id}/spam_filter")
    expected = model.unwrap_python_model().spam_filter.predict_proba(texts)[:, 1]
    np.testing.assert_allclose(served, expected, rtol=1e-12, atol=1e-15)
    assert served[0] > 0.9
    assert served[1] < 0.1


def test_long_and_strange_messages_get_a_probability(server):
    base_url, *_ = server
    texts = ["x" * 100_000, "😀🎉 free 🎁", "tab\tbell\x07null\x00", "\u202eRTL override"]
    served = invoke(base_url, texts)
    assert served.shape == (4,)
    assert np.all((served >= 0) & (served <= 1))


@settings(max_examples=25, deadline=None)
@given(texts=st.lists(st.text(), min_size=1, max_size=5))
def test_any_unicode_text_gets_a_probability(server, texts):
    base_url, *_ = server
    served = invoke(base_url, texts)
    assert served.shape == (len(texts),)
    assert np.all((served >= 0) & (served <= 1))


def post(base_url: str, body, headers: dict | None = None) -> tuple[int, dict]:
    """POST ``body`` (bytes or an iterable of chunks, sent chunked) to /invocations."""
    request = urllib.request.Request(
        f"{base_url}/invocations",
        data=body,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_an_empty_batch_gets_an_empty_list_of_predictions(server):
    base_url, *_ = server
    assert post(base_url, b'{"inputs": []}') == (200, {"predictions": []})


def test_a_deeply_nested_body_is_a_bad_request_in_one_line(server):
    base_url, *_ = server
    status, answer = post(base_url, b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert status == 400
    assert answer == {
        "error_code": "BAD_REQUEST",
        "message": "request body: JSON nested too deeply to parse; "
        'send {"inputs": ["message", ...]}, a flat list of strings',
    }
    assert invoke(base_url, ["still serving"]).shape == (1,)


def body_of(size: int) -> bytes:
    """A valid request of exactly ``size`` bytes: one message of x's."""
    frame = b'{"inputs": [""]}'
    return frame[:13] + b"x" * (size - len(frame)) + frame[13:]


def test_a_body_over_1_mib_is_refused_with_413_before_it_is_parsed(server):
    base_url, *_ = server
    limit = server_module.MAX_BODY_BYTES
    assert limit == 1 << 20  # the README's number
    huge = json.dumps({"inputs": ["Free entry! Text WIN to 80086 " * 200] * 8500}).encode()
    assert len(huge) > 50_000_000
    status, answer = post(base_url, huge)  # urllib sends all of it before reading an answer
    assert (status, answer) == (
        413,
        {
            "error_code": "RESOURCE_EXHAUSTED",
            "message": f"request body of {len(huge):,} bytes is over this server's limit of "
            "1,048,576 bytes; send fewer messages per request (or serve with --max-body-bytes)",
        },
    )
    assert post(base_url, body_of(limit + 1))[0] == 413
    status, answer = post(base_url, body_of(limit))
    assert status == 200
    assert len(answer["predictions"]) == 1


def test_a_chunked_body_over_the_limit_is_refused_too(server):
    base_url, *_ = server
    chunks = [b'{"inputs": ["', *[b"y" * 65536] * 20, b'"]}']  # 1.25 MiB, no Content-Length
    status, answer = post(base_url, iter(chunks), {"Transfer-Encoding": "chunked"})
    assert status == 413
    assert answer["message"].startswith("request body is over this server's limit of 1,048,576")
    assert invoke(base_url, ["ok see you at 7"]).shape == (1,)
