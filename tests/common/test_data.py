"""common.data.fetch against a real HTTP server on 127.0.0.1 serving a zip built here."""

import hashlib
import io
import os
import re
import socket
import threading
import tomllib
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from common.data import (
    MANIFEST,
    MIRROR_ENV,
    ChecksumError,
    DataFetchError,
    fetch,
    load_entry,
)

REAL_MIRROR = os.environ.get(MIRROR_ENV)  # read before the autouse fixture clears it
NAME, MEMBER = "toy", "toy.tsv"
CONTENT = b"ham\thello there\nspam\tWIN a prize\n" * 50


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


ARCHIVE = zip_of({MEMBER: CONTENT, "readme": b"a toy dataset\n"})


def write_manifest(path: Path, url: str, **overrides: str) -> Path:
    entry = {
        "url": url,
        "sha256": sha256(ARCHIVE),
        "archive": "zip",
        "member": MEMBER,
        "member_sha256": sha256(CONTENT),
        "license": "CC0-1.0",
        "citation": "made up for this test",
    } | overrides
    path.write_text(f"[{NAME}]\n" + "".join(f'{k} = "{v}"\n' for k, v in entry.items()))
    return path


@dataclass
class Server:
    url: str
    files: dict[str, bytes] = field(default_factory=dict)  # path -> body
    lengths: dict[str, int] = field(default_factory=dict)  # path -> a lying Content-Length
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, User-Agent)


@pytest.fixture(autouse=True)
def no_mirror(monkeypatch):
    monkeypatch.delenv(MIRROR_ENV, raising=False)


@pytest.fixture
def server():
    """A real HTTP server on a free port of 127.0.0.1, stopped after the test."""
    served = Server(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            served.requests.append((self.path, self.headers.get("User-Agent", "")))
            body = served.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(served.lengths.get(self.path, len(body))))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    served.url = f"http://127.0.0.1:{httpd.server_port}"
    try:
        yield served
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def closed_url():
    """A URL on a port where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/toy.zip"


@pytest.fixture
def online(tmp_path, server):
    """The server serves the toy zip; the manifest points at it. Returns (manifest, cache)."""
    server.files["/toy.zip"] = ARCHIVE
    return write_manifest(tmp_path / "manifest.toml", f"{server.url}/toy.zip"), tmp_path / "raw"


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_extracts_and_verifies(online, server):
    manifest, cache = online
    path = fetch(NAME, cache_dir=cache, manifest=manifest)
    assert path == cache / NAME / MEMBER
    assert path.read_bytes() == CONTENT
    assert leftovers(path.parent) == [MEMBER]  # no scratch files left behind
    assert len(server.requests) == 1
    assert server.requests[0][1].startswith("math-for-ml")


def test_cache_hit_does_not_touch_the_network(online, server):
    manifest, cache = online
    (cache / NAME).mkdir(parents=True)
    (cache / NAME / MEMBER).write_bytes(CONTENT)
    assert fetch(NAME, cache_dir=cache, manifest=manifest).read_bytes() == CONTENT
    assert server.requests == []


def test_corrupted_cache_is_reported_and_replaced(online, server, caplog):
    manifest, cache = online
    (cache / NAME).mkdir(parents=True)
    (cache / NAME / MEMBER).write_bytes(b"truncated")
    assert fetch(NAME, cache_dir=cache, manifest=manifest).read_bytes() == CONTENT
    assert len(server.requests) == 1
    assert re.search(f"cached .*{MEMBER} has sha256 {sha256(b'truncated')}", caplog.text)


def test_archive_checksum_mismatch_leaves_nothing(online, server):
    manifest, cache = online
    served = zip_of({MEMBER: CONTENT + b"ham\tone more\n"})
    server.files["/toy.zip"] = served
    with pytest.raises(ChecksumError, match=f"sha256 {sha256(served)}, expected {sha256(ARCHIVE)}"):
        fetch(NAME, cache_dir=cache, manifest=manifest)
    assert leftovers(cache / NAME) == []


def test_member_checksum_mismatch_leaves_nothing(tmp_path, server):
    server.files["/toy.zip"] = ARCHIVE
    manifest = write_manifest(tmp_path / "m.toml", f"{server.url}/toy.zip", member_sha256="0" * 64)
    with pytest.raises(ChecksumError, match=f"{MEMBER} .* sha256 {sha256(CONTENT)}, expected 0+;"):
        fetch(NAME, cache_dir=tmp_path / "raw", manifest=manifest)
    assert leftovers(tmp_path / "raw" / NAME) == []


@pytest.fixture(params=["refused", "http-404", "timeout", "cut-short"])
def failing_url(request, server, closed_url):
    """(url, reason the error should give) for four ways a download fails."""
    if request.param == "refused":
        yield closed_url, "Connection refused"
    elif request.param == "http-404":
        yield f"{server.url}/missing.zip", "HTTP Error 404"
    elif request.param == "timeout":
        with socket.create_server(("127.0.0.1", 0)) as silent:  # listens, never answers
            yield f"http://127.0.0.1:{silent.getsockname()[1]}/toy.zip", "timed out"
    else:
        server.files["/toy.zip"] = ARCHIVE
        server.lengths["/toy.zip"] = len(ARCHIVE) + 100
        yield f"{server.url}/toy.zip", f"closed after {len(ARCHIVE)} of {len(ARCHIVE) + 100}"


def test_network_failure_gives_one_clear_error(tmp_path, failing_url):
    url, reason = failing_url
    manifest = write_manifest(tmp_path / "manifest.toml", url)
    cache = tmp_path / "raw"
    with pytest.raises(DataFetchError) as excinfo:
        fetch(NAME, cache_dir=cache, manifest=manifest, timeout=0.3)
    message = str(excinfo.value)
    assert "\n" not in message
    for part in (repr(NAME), url, reason, f"{MIRROR_ENV} is not set", str(cache / NAME / MEMBER)):
        assert part in message
    assert f"set {MIRROR_ENV} to a folder holding {NAME}/{MEMBER}" in message
    assert leftovers(cache / NAME) == []


def test_mirror_is_used_before_the_network(tmp_path, closed_url, monkeypatch):
    manifest = write_manifest(tmp_path / "manifest.toml", closed_url)  # the network would fail
    (tmp_path / "mirror" / NAME).mkdir(parents=True)
    (tmp_path / "mirror" / NAME / MEMBER).write_bytes(CONTENT)
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path / "mirror"))
    path = fetch(NAME, cache_dir=tmp_path / "raw", manifest=manifest)
    assert path == tmp_path / "raw" / NAME / MEMBER
    assert path.read_bytes() == CONTENT


@pytest.mark.parametrize("mirrored", [None, b"not the data"], ids=["missing", "corrupted"])
def test_bad_mirror_falls_back_to_the_network(
    online, server, tmp_path, monkeypatch, caplog, mirrored
):
    manifest, cache = online
    if mirrored is not None:
        (tmp_path / "mirror" / NAME).mkdir(parents=True)
        (tmp_path / "mirror" / NAME / MEMBER).write_bytes(mirrored)
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path / "mirror"))
    assert fetch(NAME, cache_dir=cache, manifest=manifest).read_bytes() == CONTENT
    assert len(server.requests) == 1
    assert f"{MIRROR_ENV}: " in caplog.text


def test_error_names_the_mirror_that_failed(tmp_path, closed_url, monkeypatch):
    manifest = write_manifest(tmp_path / "manifest.toml", closed_url)
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path / "no-such-mirror"))
    with pytest.raises(DataFetchError, match=f"{MIRROR_ENV}=.*no-such-mirror holds no verified"):
        fetch(NAME, cache_dir=tmp_path / "raw", manifest=manifest)


def test_unknown_name_lists_the_known_ones(tmp_path, closed_url):
    manifest = write_manifest(tmp_path / "manifest.toml", closed_url)
    with pytest.raises(ValueError, match=f"unknown dataset 'nope'; .* lists: {NAME}$"):
        fetch("nope", cache_dir=tmp_path / "raw", manifest=manifest)


def test_real_manifest_entries_are_complete():
    with open(MANIFEST, "rb") as f:
        names = list(tomllib.load(f))
    assert "sms_spam" in names
    for name in names:
        entry = load_entry(name)
        for key in ("sha256", "member_sha256"):
            assert re.fullmatch("[0-9a-f]{64}", entry[key]), (name, key)


def test_sms_spam_from_the_mirror(tmp_path, monkeypatch):
    if not REAL_MIRROR:
        pytest.skip(f"{MIRROR_ENV} is not set (e.g. {MIRROR_ENV}=/work/shared/data)")
    if not (Path(REAL_MIRROR) / "sms_spam" / "SMSSpamCollection").is_file():
        pytest.skip(f"{REAL_MIRROR}/sms_spam/SMSSpamCollection is missing")
    monkeypatch.setenv(MIRROR_ENV, REAL_MIRROR)
    data = fetch("sms_spam", cache_dir=tmp_path).read_bytes()
    # Reference values from the dataset's description (DESIGN.md, "Datasets").
    assert sha256(data) == "7d039a24a6083ed9ef0f806ebad56bbb976e3aeb8de05669173bfdc4996c239d"
    lines = data.decode("utf-8").splitlines()
    assert len(lines) == 5574
    labels = [line.split("\t", 1)[0] for line in lines]
    assert (labels.count("ham"), labels.count("spam")) == (4827, 747)
