"""Exchange-platform simulator: a generated city's API feeds over HTTP (SOURCE_FEEDS.md s.4).

``civlake exchange-sim --data DIR`` serves the JSONL deliveries of the ``api: true`` feeds in
the landing folder DIR as snapshots, with the platform's paging, auth and failure modes:

* ``GET /v1/datasets/{feed}/snapshots`` and ``GET /v1/datasets/{feed}/records`` as specified;
* ``Authorization: Bearer <CIVLAKE_EXCHANGE_TOKEN>`` on every request (401 otherwise);
* injected faults (see ``faults.FaultConfig``): 429 + Retry-After, 500/503, slow answers,
  a connection dropped mid-body, expired cursors (410);
* control endpoints for tests: ``GET/PUT /_control/faults``, ``GET /_control/requests``
  (the request log with times, e.g. to check Retry-After was honoured),
  ``POST /_control/expire-cursors`` (invalidate every cursor handed out so far).

Cursors are opaque to clients but simple inside: snapshot, offset and a generation number,
signed with a per-process key so a client cannot forge or reuse one across snapshots.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# FastAPI resolves the endpoints' string annotations (``Request``) in module globals.
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from civlake.exchange.faults import FaultConfig, FaultState
from civlake.exchange.snapshots import Snapshot, load_snapshots
from civlake.exchange.token import TOKEN_ENV
from civlake.settings import Settings

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000


class Cursors:
    def __init__(self) -> None:
        self._key = secrets.token_bytes(16)
        self.generation = 0

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()[:16]

    def issue(self, snapshot_id: str, offset: int) -> str:
        payload = f"{snapshot_id}|{offset}|{self.generation}"
        raw = f"{payload}|{self._sign(payload)}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def offset(self, cursor: str, snapshot_id: str) -> int | None:
        """Offset the cursor points at, or None when it is not valid for this snapshot."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            snap, offset, gen, sig = raw.rsplit("|", 3)
        except (ValueError, UnicodeDecodeError):
            return None
        ok = hmac.compare_digest(sig, self._sign(f"{snap}|{offset}|{gen}"))
        if not ok or snap != snapshot_id or gen != str(self.generation) or not offset.isdigit():
            return None
        return int(offset)


def create_app(feeds: dict[str, list[Snapshot]], *, token: str, faults: FaultConfig | None = None):
    """The ASGI app; ``app.state.faults`` is the FaultState (config, counters, request log)."""

    if not token:
        raise ValueError(f"the simulator needs a token: set {TOKEN_ENV}")
    app = FastAPI(title="civlake exchange-platform simulator", docs_url=None, redoc_url=None)
    state = FaultState(faults)
    cursors = Cursors()
    app.state.faults = state
    app.state.cursors = cursors

    def answer(request: Request, status: int, body: dict, fault: str | None, **headers):
        state.record(path=request.url.path, query=request.url.query, status=status, fault=fault)
        return JSONResponse(body, status_code=status, headers=headers or None)

    def authorised(request: Request) -> bool:
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())

    async def gate(request: Request, *, records: bool, has_cursor: bool):
        """Auth, then the injected fault for this request; a response to send, or the fault."""
        if not authorised(request):
            return answer(request, 401, {"error": "missing or invalid bearer token"}, None), None
        decision = state.decide(records=records, has_cursor=has_cursor)
        if decision.delay:
            await asyncio.sleep(decision.delay)
        if decision.status == 429:
            retry = str(state.config.retry_after)
            body = {"error": "rate limited"}
            return answer(request, 429, body, decision.name, **{"Retry-After": retry}), None
        if decision.status in (500, 503):
            body = {"error": "transient failure (simulated)"}
            return answer(request, decision.status, body, decision.name), None
        return None, decision

    @app.get("/v1/datasets/{feed_id}/snapshots")
    async def list_snapshots(feed_id: str, request: Request):
        early, decision = await gate(request, records=False, has_cursor=False)
        if early is not None:
            return early
        if feed_id not in feeds:
            return answer(request, 404, {"error": f"unknown dataset {feed_id!r}"}, None)
        body = {"snapshots": [s.listing() for s in feeds[feed_id]]}
        return answer(request, 200, body, decision.name)

    @app.get("/v1/datasets/{feed_id}/records")
    async def records(
        feed_id: str,
        request: Request,
        snapshot_id: str | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ):
        early, decision = await gate(request, records=True, has_cursor=bool(cursor))
        if early is not None:
            return early
        snaps = feeds.get(feed_id)
        if snaps is None:
            return answer(request, 404, {"error": f"unknown dataset {feed_id!r}"}, None)
        if not 1 <= limit <= MAX_LIMIT:
            return answer(request, 400, {"error": f"limit must be 1..{MAX_LIMIT}"}, None)
        by_id = {s.snapshot_id: s for s in snaps}
        snap = by_id.get(snapshot_id) if snapshot_id else (snaps[-1] if snaps else None)
        if snap is None:
            return answer(request, 404, {"error": f"unknown snapshot {snapshot_id!r}"}, None)
        if decision.status == 410:
            return answer(request, 410, {"error": "cursor expired"}, decision.name)
        start = 0
        if cursor:
            start = cursors.offset(cursor, snap.snapshot_id)
            if start is None or start > snap.rows:
                return answer(request, 410, {"error": "cursor not valid for snapshot"}, None)
        end = min(start + limit, snap.rows)
        body = {
            "records": list(snap.records[start:end]),
            "next_cursor": cursors.issue(snap.snapshot_id, end) if end < snap.rows else None,
            "snapshot_id": snap.snapshot_id,
        }
        if decision.drop:
            state.record(
                path=request.url.path, query=request.url.query, status=200, fault="dropped"
            )
            return _DroppedResponse(json.dumps(body, ensure_ascii=False).encode())
        return answer(request, 200, body, decision.name)

    @app.get("/_control/faults")
    async def get_faults(request: Request):
        if not authorised(request):
            return answer(request, 401, {"error": "missing or invalid bearer token"}, None)
        return state.config.to_dict()

    @app.put("/_control/faults")
    async def put_faults(request: Request):
        if not authorised(request):
            return answer(request, 401, {"error": "missing or invalid bearer token"}, None)
        try:
            config = FaultConfig.from_dict(await request.json())
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        state.configure(config)  # also resets counters and the request log
        return config.to_dict()

    @app.get("/_control/requests")
    async def get_requests(request: Request):
        if not authorised(request):
            return answer(request, 401, {"error": "missing or invalid bearer token"}, None)
        return {"requests": state.requests()}

    @app.post("/_control/expire-cursors")
    async def expire_cursors(request: Request):
        if not authorised(request):
            return answer(request, 401, {"error": "missing or invalid bearer token"}, None)
        cursors.generation += 1
        return Response(status_code=204)

    return app


class _DroppedResponse(Response):
    """Announce the full Content-Length, send half of it, then abort the connection."""

    def __init__(self, body: bytes) -> None:
        super().__init__(content=body, media_type="application/json")

    async def __call__(self, scope, receive, send) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self.body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        half = self.body[: len(self.body) // 2]
        await send({"type": "http.response.body", "body": half, "more_body": True})
        # uvicorn closes the socket when the app fails mid-response: the client sees a
        # truncated body, as with a proxy that drops a long transfer.
        raise ConnectionAbortedError("simulated connection drop mid-body")


def serve(data: Path, *, host: str, port: int, settings: Settings) -> None:
    """Run the simulator (blocking). Token and faults come from the settings
    (``CIVLAKE_EXCHANGE_TOKEN``, ``CIVLAKE_EXCHANGE_FAULTS``)."""
    import uvicorn

    data = Path(data)
    if not data.is_dir():
        raise FileNotFoundError(
            f"{data} is not a landing folder: write one with `civlake generate --out {data}`"
        )
    app = create_app(
        load_snapshots(data), token=settings.exchange_token or "",
        faults=FaultConfig.from_env(settings.exchange_faults),
    )  # fmt: skip
    uvicorn.run(app, host=host, port=port, log_level="warning")


@contextmanager
def running(
    feeds: dict[str, list[Snapshot]],
    *,
    token: str,
    faults: FaultConfig | None = None,
    host: str = "127.0.0.1",
) -> Iterator[tuple[str, object]]:
    """Serve on a free loopback port in a background thread; yields (base_url, app)."""
    import uvicorn

    app = create_app(feeds, token=token, faults=faults)
    # Bind first and hand the socket to uvicorn: no race for the port with other processes.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="critical", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.01)
        if not server.started:
            raise RuntimeError("exchange simulator did not start")
        yield f"http://{host}:{port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
