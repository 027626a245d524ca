"""Who is asking and may they: API keys, grants, expiry (rate limits: ``limiter``).

Grants are checked per dataset (and per verification question as ``verify:<q>``).
A key that does not authenticate is 401 naming the reason (missing, malformed,
unknown key, revoked, expired: ``civlake.agency.keys``) in the body and so in the
audit line; a valid key without the grant is 403, as OUTPUTS.md section 5 fixes.
Revocation and expiry are checked on every request against the register as it is now
(``Register`` notices other processes' commits).
"""

from __future__ import annotations

from datetime import date

from civlake.agency.keys import KeyRefused, check_active, check_key
from civlake.agency.store import Agency, Register
from civlake.serve.errors import ApiError

# The register as the server sees it (``agency create/revoke/rotate`` while serving).
Agencies = Register


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def require_agency(
    agencies: Register, header: str | None, today: date, *, audit: dict | None = None
) -> Agency:
    """The agency whose key ``header`` carries, valid on ``today``; else 401 with the reason.

    For a revoked or expired key the holder is known: it goes into ``audit`` (the
    request's audit record) so reviewers see who still uses an old key.
    """
    try:
        token = bearer(header)
        if token is None and header and header.strip():
            raise KeyRefused("malformed", "send the key as Authorization: Bearer <key>")
        return check_key(agencies.current(), token, today)
    except KeyRefused as refused:
        if refused.agency is not None and audit is not None:
            audit.update(agency=refused.agency.name, key_id=refused.agency.key_id)
        raise _unauthorised(refused) from None


def require_grant(agency: Agency, grant: str, today: date) -> None:
    try:
        check_active(agency, today)  # again: a request may outlive a key's last day
    except KeyRefused as refused:
        raise _unauthorised(refused) from None
    if not agency.has_grant(grant):
        raise ApiError(
            403,
            "Authorization Error",
            f"{agency.name} has no grant for {grant}; request one from the data team",
        )


def _unauthorised(refused: KeyRefused) -> ApiError:
    err = ApiError(401, "Authorization Error", refused.message, reason=refused.reason)
    challenge = 'Bearer realm="civlake"'
    if refused.reason != "missing":  # RFC 6750 section 3.1: no error code without a key
        challenge += f', error="invalid_token", error_description="{refused.reason}"'
    err.headers["WWW-Authenticate"] = challenge
    return err
