"""Fetch a dataset listed in data/manifest.toml and verify it by sha256.

``fetch(name)`` looks in three places, in order:

1. the cache, ``data/raw/<name>/<member>``: used if its sha256 matches;
2. an offline mirror folder named by ``MATH4ML_DATA_MIRROR``,
   ``<mirror>/<name>/<member>``: copied, then verified;
3. the network: ``url`` is downloaded and verified, ``member`` is taken out
   of the archive and verified.

A file reaches the cache only after its sha256 matched: it is written in a
scratch folder beside its final path and moved there with ``os.replace``,
which is atomic on one file system. An interrupted or corrupted download
leaves nothing at the final path.
"""

import hashlib
import http.client
import logging
import os
import shutil
import sys
import tempfile
import tomllib
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from common.paths import DATA_DIR, RAW_DATA_DIR

log = logging.getLogger(__name__)

MANIFEST = DATA_DIR / "manifest.toml"
MIRROR_ENV = "MATH4ML_DATA_MIRROR"
TIMEOUT = 30.0  # seconds per connect or read, not for the whole download
USER_AGENT = f"math-for-ml-data-fetch (Python-urllib/{sys.version_info[0]}.{sys.version_info[1]})"
REQUIRED_KEYS = ("url", "sha256", "archive", "member", "member_sha256", "license", "citation")
# What a failing network raises; any other OSError comes from the local disk.
NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError)


class DataFetchError(RuntimeError):
    """No verified file could be had; the one-line message says what to do."""


class ChecksumError(DataFetchError):
    """A download's sha256 differs from the manifest's."""


def sha256_of(path: Path) -> str:
    """Hex sha256 digest of the file at ``path``."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def extract_zip(archive: Path, member: str, dest: Path) -> None:
    """Copy the file ``member`` out of the zip ``archive`` to ``dest``."""
    with zipfile.ZipFile(archive) as zf, zf.open(member) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out)


EXTRACT = {"zip": extract_zip}  # manifest `archive` -> how to take `member` out


def load_entry(name: str, manifest: Path = MANIFEST) -> dict:
    """The manifest's table for dataset ``name``, checked for the keys ``fetch`` needs."""
    with open(manifest, "rb") as f:
        try:
            tables = tomllib.load(f)
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{manifest}: {err}") from err
    if name not in tables:
        known = ", ".join(sorted(tables)) or "(none)"
        raise ValueError(f"unknown dataset {name!r}; {manifest} lists: {known}")
    entry = tables[name]
    missing = [key for key in REQUIRED_KEYS if key not in entry]
    if missing:
        raise ValueError(f"{manifest}: [{name}] lacks {', '.join(missing)}")
    if entry["archive"] not in EXTRACT:
        raise ValueError(
            f"{manifest}: [{name}] archive must be one of {sorted(EXTRACT)}, "
            f"got {entry['archive']!r}"
        )
    return entry


def is_cached(path: Path, sha256: str) -> bool:
    """True if ``path`` holds a file with digest ``sha256``; warn about one that does not."""
    try:
        got = sha256_of(path)
    except FileNotFoundError:
        return False
    except OSError as err:
        log.warning("cannot read cached %s (%s); fetching it again", path, err)
        return False
    if got != sha256:
        log.warning("cached %s has sha256 %s, expected %s; replacing it", path, got, sha256)
    return got == sha256


def copy_verified(source: Path, dest: Path, sha256: str) -> bool:
    """Copy ``source`` to ``dest`` and return True if the copy has digest ``sha256``."""
    try:
        shutil.copyfile(source, dest)
    except OSError as err:
        log.warning("%s: cannot copy %s (%s); trying the network", MIRROR_ENV, source, err)
        return False
    got = sha256_of(dest)
    if got != sha256:
        log.warning(
            "%s: %s has sha256 %s, expected %s; trying the network", MIRROR_ENV, source, got, sha256
        )
    return got == sha256


def download(url: str, dest: Path, timeout: float = TIMEOUT) -> None:
    """Write the body at ``url`` to ``dest``; raise ConnectionError if it arrives cut short."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out)
        size = out.tell()
        length = response.headers.get("Content-Length", "")
    # http.client returns a short body without complaint when the server hangs up early.
    if length.isdigit() and int(length) != size:
        raise ConnectionError(f"connection closed after {size} of {length} bytes")


def download_verified(name: str, entry: dict, dest: Path, timeout: float) -> None:
    """Download ``entry['url']``, verify it, extract ``entry['member']`` to ``dest``, verify it."""
    archive = dest.with_name(dest.name + ".download")
    log.info("downloading dataset %r from %s", name, entry["url"])
    download(entry["url"], archive, timeout)
    got = sha256_of(archive)
    if got != entry["sha256"]:
        raise ChecksumError(
            f"dataset {name!r}: the download of {entry['url']} has sha256 {got}, "
            f"expected {entry['sha256']}; it was corrupted or changed upstream: retry, "
            f"or set {MIRROR_ENV} to a folder holding {name}/{entry['member']}"
        )
    EXTRACT[entry["archive"]](archive, entry["member"], dest)
    got = sha256_of(dest)
    if got != entry["member_sha256"]:
        raise ChecksumError(
            f"dataset {name!r}: {entry['member']} in the verified download of {entry['url']} "
            f"has sha256 {got}, expected {entry['member_sha256']}; fix member_sha256 "
            "in the manifest"
        )


def describe(err: Exception) -> str:
    """A short reason for a network failure: 'HTTP Error 404: Not Found', 'timed out', ..."""
    if isinstance(err, urllib.error.URLError) and not isinstance(err, urllib.error.HTTPError):
        return str(err.reason)
    return str(err) or type(err).__name__


def fill_cache(name: str, entry: dict, target: Path, mirror_root: str | None, timeout: float):
    """Write the verified file to ``target``: a copy from the mirror if it holds a verified
    one, else a download; staged beside the cache, so ``target`` only ever holds a verified
    file (``os.replace`` is atomic)."""
    member, sha256 = target.name, entry["member_sha256"]
    mirror = Path(mirror_root).expanduser() / name / member if mirror_root else None
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-") as scratch:
        staged = Path(scratch) / member
        if mirror is None or not copy_verified(mirror, staged, sha256):
            download_verified(name, entry, staged, timeout)
        os.replace(staged, target)


def fetch(
    name: str,
    *,
    cache_dir: Path | str = RAW_DATA_DIR,
    manifest: Path | str = MANIFEST,
    timeout: float = TIMEOUT,
) -> Path:
    """Path of dataset ``name``'s verified file: from the cache, else the mirror, else the network.

    Raises ValueError for a name the manifest does not list, ChecksumError when
    the network delivers the wrong bytes and DataFetchError when neither the
    mirror nor the network gives a file.
    """
    entry = load_entry(name, Path(manifest))
    member = Path(entry["member"]).name  # a member nested in the archive is cached flat
    sha256 = entry["member_sha256"]
    target = Path(cache_dir) / name / member
    if is_cached(target, sha256):
        return target
    mirror_root = os.environ.get(MIRROR_ENV)
    try:
        fill_cache(name, entry, target, mirror_root, timeout)
    except NETWORK_ERRORS as err:
        mirror_state = (
            f"{MIRROR_ENV}={mirror_root} holds no verified {name}/{member}"
            if mirror_root
            else f"{MIRROR_ENV} is not set"
        )
        raise DataFetchError(
            f"cannot fetch dataset {name!r}: {entry['url']} failed ({describe(err)}) and "
            f"{mirror_state}; set {MIRROR_ENV} to a folder holding {name}/{member}, "
            f"or check your network (it would be cached at {target})"
        ) from None  # the message carries the cause; one traceback, not three
    except OSError as err:
        raise DataFetchError(
            f"cannot write dataset {name!r} to the cache {target.parent}: {err}; "
            "fix its permissions or free space, or pass another cache_dir"
        ) from None  # the message carries the cause; one traceback, not three
    return target
