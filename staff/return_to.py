"""Where the login page sends someone back: the page they were on when their session ended.

The page travels as `next` in the login URL, so anyone can craft one: only a path on this
site is followed (`//evil.example`, `/\\evil.example`, `https:evil` and the like would
leave it), anything else sends to the queue.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

HOME = "/"
MAX_CHARS = 2000
# Pages that would only bring the login back.
_NOT_BACK = ("/login", "/logout")


def safe_page(value: object) -> str:
    """`value` when it is a path on this site (printable ASCII, one leading slash, no
    backslash), else the queue."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_CHARS:
        return HOME
    if not all("!" <= c <= "~" for c in value) or "\\" in value:
        return HOME
    if not value.startswith("/") or value.startswith("//"):
        return HOME
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path in _NOT_BACK:
        return HOME
    return value


def login_url(page: str | None, expired: bool) -> str:
    """The login page, saying the session expired (when it did) and where to go back."""
    params = {"msg": "session_expired"} if expired else {}
    if page is not None and safe_page(page) != HOME:
        params["next"] = page
    return f"/login?{urlencode(params)}" if params else "/login"
