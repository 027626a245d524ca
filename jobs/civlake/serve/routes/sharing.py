"""Delta Sharing (``/delta-sharing/...``): the protocol's REST API over an agency's share.

The bearer token is the agency's API key, with every check the other agency routes
make (unknown, revoked, expired: 401; rate limits: 429). A share that is not the
caller's is 404; a table the caller holds no grant for, or that does not exist, is
403 (the answer does not tell which). Files are fetched from the signed URLs that
``query`` and ``changes`` hand out (``/delta-sharing/files/<token>``), each fetch
checked and audited again. See ``civlake.serve.sharing``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from civlake.agency.keys import KeyRefused, check_active
from civlake.agency.store import Agency
from civlake.publish.catalog import Dataset
from civlake.publish.scope import Scopes, scope_label
from civlake.serve.context import Serve, ServeContext, note
from civlake.serve.errors import ApiError
from civlake.serve.sharing import actions, params, signing
from civlake.serve.sharing.errors import SharingError
from civlake.serve.sharing.files import SharedFile
from civlake.serve.sharing.names import SCHEMA, object_id, same_name, share_name
from civlake.serve.sharing.shares import Sharing, parse_timestamp

router = APIRouter(prefix="/delta-sharing", include_in_schema=False)
TABLE = "/shares/{share}/schemas/{schema}/tables/{table}"


def _sharing(request: Request, serve: ServeContext) -> Sharing:
    state = request.app.state
    if getattr(state, "sharing", None) is None:
        state.sharing = Sharing(serve.settings, serve.directory)
    return state.sharing


def _caller(request: Request, serve: ServeContext, action: str) -> Agency:
    note(request, action=action)
    try:
        return serve.agency_for(request)
    except ApiError as err:
        raise SharingError.from_api(err) from None


def _own_share(agency: Agency, share: str) -> str:
    own = share_name(agency.name)
    if not same_name(share, own):
        raise SharingError(404, f"no share {share[:80]!r} for {agency.name}; yours is {own}")
    return own


def _table(
    request: Request, serve: ServeContext, action: str, share: str, schema: str, table: str
) -> tuple[Agency, str, Dataset, Scopes]:
    agency = _caller(request, serve, action)
    own = _own_share(agency, share)
    note(request, dataset=table[:80])
    ds = serve.directory.find(table.lower())
    if schema.casefold() != SCHEMA or ds is None or ds.is_open or not agency.has_grant(ds.name):
        raise SharingError(
            403, f"{agency.name} has no grant for table {schema[:40]}.{table[:80]} in {own}; "
            "request one from the data team",
        )  # fmt: skip
    note(request, dataset=ds.name)
    if not _sharing(request, serve).versions(ds):
        raise SharingError(404, f"{ds.name} has not been published yet")
    scopes = agency.row_scopes(ds.name)
    note(request, scope=scope_label(scopes))
    return agency, own, ds, scopes


def _table_item(share: str, ds: Dataset) -> dict:
    return {"name": ds.name, "schema": SCHEMA, "share": share, "shareId": object_id(share),
            "id": object_id(share, ds.name)}  # fmt: skip


@router.get("/shares")
def list_shares(
    request: Request, serve: Serve, maxResults: str | None = None, pageToken: str | None = None
) -> JSONResponse:
    agency = _caller(request, serve, "sharing_list")
    own = share_name(agency.name)
    item = {"name": own, "id": object_id(own), "displayName": agency.name}
    return JSONResponse(params.page([item], maxResults, pageToken))


@router.get("/shares/{share}")
def get_share(share: str, request: Request, serve: Serve) -> JSONResponse:
    agency = _caller(request, serve, "sharing_list")
    own = _own_share(agency, share)
    return JSONResponse({"share": {"name": own, "id": object_id(own), "displayName": agency.name}})


@router.get("/shares/{share}/schemas")
def list_schemas(
    share: str, request: Request, serve: Serve,
    maxResults: str | None = None, pageToken: str | None = None,
) -> JSONResponse:  # fmt: skip
    own = _own_share(_caller(request, serve, "sharing_list"), share)
    return JSONResponse(params.page([{"name": SCHEMA, "share": own}], maxResults, pageToken))


@router.get("/shares/{share}/schemas/{schema}/tables")
def list_tables(
    share: str, schema: str, request: Request, serve: Serve,
    maxResults: str | None = None, pageToken: str | None = None,
) -> JSONResponse:  # fmt: skip
    agency = _caller(request, serve, "sharing_list")
    own = _own_share(agency, share)
    if schema.casefold() != SCHEMA:
        raise SharingError(404, f"no schema {schema[:80]!r} in {own}; it has one: {SCHEMA}")
    items = [_table_item(own, ds) for ds in _sharing(request, serve).tables(agency)]
    return JSONResponse(params.page(items, maxResults, pageToken))


@router.get("/shares/{share}/all-tables")
def list_all_tables(
    share: str, request: Request, serve: Serve,
    maxResults: str | None = None, pageToken: str | None = None,
) -> JSONResponse:  # fmt: skip
    agency = _caller(request, serve, "sharing_list")
    own = _own_share(agency, share)
    items = [_table_item(own, ds) for ds in _sharing(request, serve).tables(agency)]
    return JSONResponse(params.page(items, maxResults, pageToken))


@router.api_route(TABLE + "/version", methods=["GET", "HEAD"])
@router.head(TABLE)  # the protocol's older form of the same question
def table_version(
    share: str, schema: str, table: str, request: Request, serve: Serve,
    startingTimestamp: str | None = None,
) -> Response:  # fmt: skip
    _, _, ds, _ = _table(request, serve, "sharing_version", share, schema, table)
    sharing = _sharing(request, serve)
    if startingTimestamp:
        version = sharing.version_since(ds, parse_timestamp(startingTimestamp, "startingTimestamp"))
    else:
        version = sharing.versions(ds)[-1]
    note(request, version=version)
    return Response(headers={"Delta-Table-Version": str(version)})


@router.get(TABLE + "/metadata")
def table_metadata(
    share: str, schema: str, table: str, request: Request, serve: Serve,
    version: str | None = None, timestamp: str | None = None,
) -> Response:  # fmt: skip
    _, own, ds, _ = _table(request, serve, "sharing_metadata", share, schema, table)
    sharing = _sharing(request, serve)
    asked = params.as_of(sharing, ds, params.int_param(version, "version"), timestamp)
    number = asked or sharing.versions(ds)[-1]
    note(request, version=number)
    schema_ = sharing.files.schema(ds, number)
    lines = [actions.protocol(), actions.metadata(own, ds, schema_, version=asked)]
    return actions.ndjson(lines, table_version=number, headers=_capabilities())


@router.post(TABLE + "/query")
async def query_table(
    share: str, schema: str, table: str, request: Request, serve: Serve
) -> Response:
    body = await params.json_body(request)
    # The rest reads the register, Parquet files and maybe writes a derived one: off the
    # event loop, as the other (plain def) routes are.
    return await run_in_threadpool(_query, share, schema, table, body, request, serve)


def _query(
    share: str, schema: str, table: str, body: dict, request: Request, serve: ServeContext
) -> Response:
    agency, own, ds, scopes = _table(request, serve, "sharing_query", share, schema, table)
    sharing = _sharing(request, serve)
    versions = sharing.versions(ds)
    version = params.int_param(body.get("version"), "version")
    starting = params.int_param(body.get("startingVersion"), "startingVersion")
    if sum(x is not None for x in (version, body.get("timestamp"), starting)) > 1:
        raise SharingError(400, "give at most one of version, timestamp and startingVersion")
    link = _signer(request, serve, sharing, agency, ds, scopes)
    if starting is None:
        asked = params.as_of(sharing, ds, version, body.get("timestamp"))
        number = asked or versions[-1]
        note(request, version=number)
        schema_ = sharing.files.schema(ds, number)
        lines = [actions.protocol(), actions.metadata(own, ds, schema_, version=asked),
                 link("file", "data", number, sharing.files.snapshot(ds, number, scopes))]  # fmt: skip
        return actions.ndjson(lines, table_version=number, headers=_capabilities())
    # Since a version: each version as a whole new file replacing the previous one
    # (a published version is a rewrite of the dataset).
    first, last = params.version_range(
        versions, starting, params.int_param(body.get("endingVersion"), "endingVersion")
    )
    note(request, version=last)
    lines = [
        actions.protocol(),
        actions.metadata(own, ds, sharing.files.schema(ds, last), version=first),
    ]
    for number in range(first, last + 1):
        lines.append(link("add", "data", number, sharing.files.snapshot(ds, number, scopes)))
        if number > first:
            old = sharing.files.snapshot(ds, number - 1, scopes)
            lines.append(link("remove", "data", number, old, file_version=number - 1))
    return actions.ndjson(lines, table_version=first, headers=_capabilities())


@router.get(TABLE + "/changes")
def table_changes(
    share: str, schema: str, table: str, request: Request, serve: Serve,
    startingVersion: str | None = None, startingTimestamp: str | None = None,
    endingVersion: str | None = None, endingTimestamp: str | None = None,
) -> Response:  # fmt: skip
    agency, own, ds, scopes = _table(request, serve, "sharing_changes", share, schema, table)
    sharing = _sharing(request, serve)
    versions = sharing.versions(ds)
    starting = params.int_param(startingVersion, "startingVersion")
    if startingTimestamp and starting is None:
        starting = sharing.version_since(
            ds, parse_timestamp(startingTimestamp, "startingTimestamp")
        )
    if starting is None:
        raise SharingError(400, "give startingVersion or startingTimestamp")
    ending = params.int_param(endingVersion, "endingVersion")
    if endingTimestamp and ending is None:
        ending = sharing.version_as_of(ds, parse_timestamp(endingTimestamp, "endingTimestamp"))
    first, last = params.version_range(versions, starting, ending)
    note(request, version=last)
    link = _signer(request, serve, sharing, agency, ds, scopes)
    lines = [
        actions.protocol(),
        actions.metadata(own, ds, sharing.files.schema(ds, last), version=None),
    ]
    for number in range(first, last + 1):
        shared = sharing.files.changes(ds, number, scopes)
        if shared.rows:  # a version may change nothing in a district's rows
            lines.append(link("cdf", "cdf", number, shared))
    return actions.ndjson(lines, table_version=first, headers=_capabilities())


@router.api_route("/files/{token}", methods=["GET", "HEAD"])
def fetch_file(token: str, request: Request, serve: Serve) -> FileResponse:
    note(request, action="sharing_file")
    sharing = _sharing(request, serve)
    now = serve.clock()
    try:
        grant = signing.verify(token, sharing.secret, now)
    except signing.TokenRefused as refused:
        raise SharingError(403, str(refused)) from None
    note(request, key_id=grant.key_id, dataset=grant.dataset, version=grant.version,
         scope=grant.scope)  # fmt: skip
    agency = serve.agencies.current().get(grant.key_id)
    if agency is None:
        raise SharingError(403, "the key this URL was issued to is unknown; run the query again")
    note(request, agency=agency.name)
    try:
        check_active(agency, now.date())
    except KeyRefused as refused:
        raise SharingError(403, refused.message) from None
    ds = serve.directory.find(grant.dataset)
    scopes = agency.row_scopes(grant.dataset)
    if ds is None or not agency.has_grant(ds.name) or scope_label(scopes) != grant.scope:
        raise SharingError(
            403, f"{agency.name}'s grant for {grant.dataset} changed; run the query again"
        )
    if grant.version not in sharing.versions(ds):
        raise SharingError(404, f"{ds.name} has no version {grant.version}")
    files = sharing.files
    shared = (files.snapshot if grant.kind == "data" else files.changes)(ds, grant.version, scopes)
    if request.method == "GET" and _from_start(request) and sharing.first_fetch(token):
        note(request, rows=shared.rows)
    return FileResponse(shared.path, media_type="application/vnd.apache.parquet")


def _from_start(request: Request) -> bool:
    # A fetch of the footer alone (a range from the end) carries no rows.
    range_ = request.headers.get("range", "")
    return not range_ or range_.replace(" ", "").startswith("bytes=0-")


def _signer(
    request: Request,
    serve: ServeContext,
    sharing: Sharing,
    agency: Agency,
    ds: Dataset,
    scopes: Scopes,
) -> Callable[..., dict]:
    """``link(kind, file_kind, version, file)``: one action line with a signed URL; the
    URLs of one answer share an expiry and a nonce."""
    base = (serve.settings.public_url or str(request.base_url)).rstrip("/")
    expires = serve.clock() + signing.URL_LIFETIME
    nonce = secrets.token_hex(8)

    def link(
        kind: str,
        file_kind: str,
        number: int,
        shared: SharedFile,
        *,
        file_version: int | None = None,
    ) -> dict:
        grant = signing.FileGrant(agency.key_id, ds.name, file_version or number, file_kind,
                                  scope_label(scopes), int(expires.timestamp()), nonce)  # fmt: skip
        url = f"{base}/delta-sharing/files/{signing.sign(grant, sharing.secret)}"
        return actions.file_action(
            kind, url, shared, version=number, timestamp_ms=sharing.timestamp_ms(ds, number),
            expires_ms=int(expires.timestamp() * 1000),
        )  # fmt: skip

    return link


def _capabilities() -> dict:
    # Only the "parquet" response format is served; saying so lets a client that offers
    # both (the Python connector does) take it without guessing.
    return {"delta-sharing-capabilities": "responseformat=parquet"}
