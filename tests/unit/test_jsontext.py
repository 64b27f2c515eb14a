"""tap_gitlab/jsontext.py, through the client's `_body` and the transport's `Response`, gives
`requests.Response.json()`'s values (and errors) for every body, by orjson or not."""

from __future__ import annotations

import typing as t

import pytest
import requests

from tap_gitlab.client import _body
from tap_gitlab.transport import Headers, Response

BODIES = [
    b'{"a":1,"a":2}',  # duplicate keys: the last one
    b'{"id":1,"b":[0.1,1e-07,1E5,-0,-0.0,5e-324,1.7976931348623157e308,2.2250738585072011e-308],"c":"\\u00e9\\u0000"}',
    b"[9223372036854775807,18446744073709551615]",
    b"[18446744073709551616,-9223372036854775809,123456789012345678901234567890]",  # beyond 64 bits: orjson floats
    b'["1234567890123456789"]',  # 19 digits in a string: the fallback, same value
    b"[1e400,-1e400]",
    b"[NaN,Infinity,-Infinity]",
    b'["\\ud800","\\udc00\\ud800"]',
    b"\xef\xbb\xbf[1]",
    b'["\xff","\xed\xa0\x80"]',
    '["Zoë 日本語 😀"]'.encode(),
    b'["a\x01b"]',
    b"[1] x",
    b"",
    b"<html>login</html>",
    b"[" * 300 + b"]" * 300,
]


def ours(body: bytes, content_type: str | None) -> Response:
    return Response(200, Headers({} if content_type is None else {"content-type": content_type}), body, "http://x/")


def response(body: bytes, content_type: str | None) -> requests.Response:
    r = requests.Response()
    r.status_code = 200
    r._content = body
    if content_type is not None:
        r.headers["Content-Type"] = content_type
        r.encoding = requests.utils.get_encoding_from_headers(r.headers)
    return r


def outcome(decode, r: t.Any) -> tuple[str, str]:
    try:
        return "value", repr(decode(r))  # repr: 1 and 1.0, nan, -0.0 and surrogates compare exactly
    except ValueError as exc:
        return "error", type(exc).__name__


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", None, "text/html; charset=ISO-8859-1"]
)
@pytest.mark.parametrize("body", BODIES)
def test_the_same_values_and_errors_as_requests(body: bytes, content_type: str | None) -> None:
    expected = outcome(requests.Response.json, response(body, content_type))
    if content_type is None and body == b'["\xff","\xed\xa0\x80"]':
        # No charset named and not UTF-8: requests guessed one (charset_normalizer: "['\xa0', 'эаА']"); the
        # transport decodes as UTF-8 with replacement characters instead of inventing text.
        expected = ("value", repr(["\ufffd", "\ufffd\ufffd\ufffd"]))
    assert outcome(_body, ours(body, content_type)) == expected
    assert outcome(Response.json, ours(body, content_type)) == expected
