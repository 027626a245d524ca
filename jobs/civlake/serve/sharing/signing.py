"""Short-lived signed URLs for the Parquet files a Delta Sharing ``query`` hands out.

A token names who may fetch what until when: the agency key id, dataset, version,
file kind (``data`` snapshot or ``cdf`` change file), row scope and expiry, as
base64url JSON (with a per-query nonce), followed by an HMAC-SHA256 of those bytes under the sharing secret
(``CIVLAKE_SHARING_SECRET``, else ``<home>/.secrets/sharing.secret``, generated on first
use like the audit secret). Changing any byte voids the MAC; the MAC is compared in
constant time. The key id is checked again when the file is fetched, so a revoked or
expired key's URLs stop working at once, not at their expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import astuple, dataclass
from datetime import UTC, datetime, timedelta

from civlake.secret_files import load_named_secret
from civlake.settings import Settings

SECRET_ENV = "CIVLAKE_SHARING_SECRET"
SECRET_FILE = "sharing.secret"
# Long enough for a client to list and read every file of a large answer, short enough
# that a URL copied into a ticket or a proxy log is dead by the time anyone reads it.
URL_LIFETIME = timedelta(minutes=15)
KINDS = ("data", "cdf")
_DOMAIN = b"civlake delta-sharing file v1\n"  # a MAC made for another purpose never fits


class TokenRefused(Exception):
    """A file URL is not (or no longer) valid; the message says why."""


@dataclass(frozen=True)
class FileGrant:
    key_id: str
    dataset: str
    version: int
    kind: str  # one of KINDS
    scope: str  # publish.scope.scope_label of the row scope
    expires: int  # unix seconds
    # One per query: the URLs of two queries differ even within a second, so each
    # query's fetches count their rows in the audit (shares.Sharing.first_fetch).
    nonce: str = ""


def load_sharing_secret(settings: Settings) -> bytes:
    return load_named_secret(
        settings.secrets_dir, value=settings.sharing_secret, env_var=SECRET_ENV,
        file_name=SECRET_FILE, if_lost="file URLs handed out before stop working",
    )  # fmt: skip


def sign(grant: FileGrant, secret: bytes) -> str:
    payload = _b64(json.dumps(astuple(grant), separators=(",", ":")).encode())
    return f"{payload}.{_b64(_mac(secret, payload))}"


def verify(token: str, secret: bytes, now: datetime) -> FileGrant:
    """The grant ``token`` carries, if its MAC is right and it has not expired."""
    payload, _, mac = token.partition(".")
    # The MAC as this server writes it, compared as text: base64 leaves the last character's
    # low bits unused, so comparing decoded bytes took four spellings of one signature.
    ok = hmac.compare_digest(mac.encode("ascii", "replace"), _b64(_mac(secret, payload)).encode())
    if not ok:
        raise TokenRefused("tampered: the file URL's signature does not match; run the query again")
    try:
        grant = FileGrant(*json.loads(_unb64(payload)))
    except (TypeError, ValueError) as exc:  # signed by us, so only a changed format gets here
        raise TokenRefused("malformed: the file URL is not one this server issued") from exc
    if now.timestamp() > grant.expires:
        raise TokenRefused(
            "expired: the file URL expired "
            f"{datetime.fromtimestamp(grant.expires, UTC).isoformat(timespec='seconds')}"
            "; run the query again for fresh URLs"
        )
    return grant


def _mac(secret: bytes, payload: str) -> bytes:
    return hmac.new(secret, _DOMAIN + payload.encode("ascii", "replace"), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
