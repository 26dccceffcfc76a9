"""The logged filter over HTTP: MLflow's own scoring app, behind a guard on what it reads.

``make serve-week2`` loads the model and serves ``mlflow.pyfunc.scoring_server``'s app (the
one ``mlflow models serve`` runs: ``/invocations``, ``/ping``, ``/health``, ``/version``,
the same JSON in and out) with uvicorn, wrapped in :class:`RequestGuard`, which answers
before MLflow sees the request:

- a body over ``max_body_bytes`` (default 1 MiB, thousands of SMS): 413, never parsed.
  The rest of the body is read and dropped first (up to ``DRAIN_BYTES``), because most
  clients send the whole body before they read an answer and see only a broken pipe if
  the server closes first; a client that asks ``Expect: 100-continue`` (curl) is answered
  at once, before it sends the body;
- a JSON body nested deeper than Python's parser can follow: 400 (MLflow answers 500);

each with one line, as JSON ``{"error_code": ..., "message": ...}`` like MLflow's errors.
``mlflow models serve`` itself has no body limit and no hook to add one; uvicorn neither.
"""

from __future__ import annotations

import json

MAX_BODY_BYTES = 1 << 20  # 1 MiB
DRAIN_BYTES = 64 << 20  # read and drop at most this much of a refused body, then close
INVOCATIONS = "/invocations"


def json_problem(body: bytes) -> str | None:
    """Why ``body`` cannot be read as JSON by the scoring app without failing, or None.

    Only nesting is checked here: any other malformed JSON gets MLflow's own 400.
    """
    try:
        json.loads(body)
    except RecursionError:
        return (
            "request body: JSON nested too deeply to parse; "
            'send {"inputs": ["message", ...]}, a flat list of strings'
        )
    except ValueError:  # not JSON, or not UTF-8: MLflow's 400 says so
        return None
    return None


class RequestGuard:
    """ASGI middleware: a size limit and a nesting check on ``POST /invocations`` bodies."""

    def __init__(self, app, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] != INVOCATIONS or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length", "")
        size = int(declared) if declared.isdigit() else None
        if size is not None and size > self.max_body_bytes:
            if headers.get("expect", "").lower() != "100-continue":
                await drain(receive, DRAIN_BYTES)
            await refuse(send, 413, self.too_large(size))
            return
        body, more = await read_at_most(receive, self.max_body_bytes)
        if len(body) > self.max_body_bytes:  # chunked, without a Content-Length
            if more:
                await drain(receive, DRAIN_BYTES)
            await refuse(send, 413, self.too_large(size))
            return
        is_json = headers.get("content-type", "").split(";")[0].strip() == "application/json"
        problem = json_problem(body) if is_json else None
        if problem:
            await refuse(send, 400, problem)
            return
        await self.app(scope, replay(body, receive), send)

    def too_large(self, size: int | None) -> str:
        """The 413's line; ``size``: the declared Content-Length, if any."""
        body = "request body" if size is None else f"request body of {size:,} bytes"
        return (
            f"{body} is over this server's limit of {self.max_body_bytes:,} bytes; "
            "send fewer messages per request (or serve with --max-body-bytes)"
        )


async def read_at_most(receive, limit: int) -> tuple[bytes, bool]:
    """(the body, whether more is to come): all of it, or its first chunks past ``limit``."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return bytes(body), False
        body += message.get("body", b"")
        more = message.get("more_body", False)
        if not more or len(body) > limit:
            return bytes(body), more


async def drain(receive, limit: int) -> None:
    """Read and drop the rest of a request body, at most ``limit`` bytes of it."""
    read = 0
    while read <= limit:
        message = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            return
        read += len(message.get("body", b""))


def replay(body: bytes, receive):
    """An ASGI ``receive`` that gives the body already read, then defers to ``receive``."""
    sent = False

    async def receive_again():
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive_again


async def refuse(send, status: int, message: str) -> None:
    """Answer ``status`` with one line of JSON and close the connection."""
    code = "RESOURCE_EXHAUSTED" if status == 413 else "BAD_REQUEST"
    body = json.dumps({"error_code": code, "message": message}).encode() + b"\n"
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


CODE_LOADER = "mlflow.pyfunc.loaders.code_model"  # a model from code: our serving.py + files


def load_model(model_uri: str):
    """The logged filter at ``model_uri``, loaded only if it is a model from code (its
    JSON/.npy files are never unpickled); one line saying to re-run the week if it cannot be.

    MLflow picks the loader from the model's ``MLmodel`` file: an edited one could name a
    loader that unpickles (``mlflow.sklearn``, a pickled ``python_model``), so that is
    checked first.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        flavor = mlflow.models.Model.load(model_uri).flavors.get("python_function", {})
        if flavor.get("loader_module") != CODE_LOADER:
            raise ValueError(f"it is not a week-2 model from code ({flavor.get('loader_module')})")
        return mlflow.pyfunc.load_model(model_uri)
    except (MlflowException, ValueError, ImportError, KeyError, OSError) as error:
        why = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SystemExit(
            f"error: cannot load the filter at {model_uri}: {why}; re-run the week "
            "(make week2) to log a filter this version loads"
        ) from None


def serve(model, host: str, port: int, max_body_bytes: int = MAX_BODY_BYTES) -> None:
    """Serve a loaded filter (``load_model``) on ``host:port`` until stopped."""
    import uvicorn
    from mlflow.pyfunc import scoring_server

    app = scoring_server.init(model)
    uvicorn.run(RequestGuard(app, max_body_bytes), host=host, port=port)
