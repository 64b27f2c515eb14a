"""Following GitLab's pages: `Link rel="next"` (offset and keyset alike), else `X-Next-Page`.

GitLab builds `Link` URLs from its configured external URL, which on self-hosted instances often differs
from the address the tap is given (and a proxy may rewrite it). A next link is therefore followed by its
path below `/api/v4` and its query only, re-rooted on the configured `api_url`: the token never goes to any
other host. Pages are never computed from `X-Total-Pages`, which GitLab omits above 10,000 records.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import requests

_LINK_PART = re.compile(r'<([^>]*)>\s*;\s*rel="?([^",;]+)"?')
API_PREFIX = "/api/v4"


def next_link(response: requests.Response) -> str | None:
    """The raw `rel="next"` URL of a response's `Link` header, if any."""
    header = response.headers.get("Link") or response.headers.get("link")
    if not header:
        return None
    for url, rel in _LINK_PART.findall(header):
        if "next" in rel.split():
            return url
    return None


def reroot(url: str, api_root: str) -> str | None:
    """Move a GitLab API URL onto `api_root`: keep what follows `/api/v4` and the query; None if not an API URL."""
    parts = urlsplit(url)
    index = parts.path.find(API_PREFIX + "/")
    if index < 0:
        return None
    rest = parts.path[index + len(API_PREFIX) :]
    return api_root + rest + (f"?{parts.query}" if parts.query else "")


def next_page_url(response: requests.Response, api_root: str) -> str | None:
    """The URL of the page after `response`, on `api_root`, or None at the end."""
    link = next_link(response)
    if link is not None:
        return reroot(link, api_root)
    next_page = (response.headers.get("X-Next-Page") or "").strip()
    if not next_page:
        return None
    # No Link header but X-Next-Page: replace the page parameter of the request URL.
    request_url = response.request.url or ""
    rerooted = reroot(request_url, api_root)
    if rerooted is None:
        return None
    if re.search(r"([?&])page=\d+", rerooted):
        return re.sub(r"([?&])page=\d+", rf"\g<1>page={next_page}", rerooted)
    return rerooted + ("&" if "?" in rerooted else "?") + f"page={next_page}"
