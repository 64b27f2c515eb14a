"""tap_gitlab/transport.py against a raw socket server on 127.0.0.1 that answers exactly the bytes each test says.

What the client relies on: the request bytes requests sent, every body framing (length, chunked, to the close),
gzip/deflate, interim answers, keep-alive reuse and the replacement of a connection the server closed while it
was idle, and failures that are `TransportError`s carrying the socket's own exception (refused, timed out,
reset, cut short), never a short body taken for a whole one.
"""

from __future__ import annotations

import gzip
import socket
import ssl
import threading
import time
import typing as t
import zlib

import pytest
import trustme

from tap_gitlab import transport
from tap_gitlab.transport import BrokenAnswer, ConnectionFailed, Headers, InvalidHeader, Response, TimedOut, Transport

# The request's bytes -> the answer's bytes, or its pieces (sent 50 ms apart); None: close, say nothing.
Answer = t.Callable[[bytes], bytes | list[bytes] | None]


class RawServer:
    """Accepts connections; reads each request (up to its blank line) and writes what `answers` gives, in turn.

    `answers` is consumed across connections in order; after an answer, `close_after` closes the connection.
    """

    def __init__(self, answers: list[Answer], *, close_after: bool = False, tls: ssl.SSLContext | None = None):
        self.answers = list(answers)
        self.close_after = close_after
        self.requests: list[bytes] = []
        self.connections = 0
        self._tls = tls
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while self.answers:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        if self._tls is not None:
            try:
                conn = self._tls.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                conn.close()
                return
        buffer = b""
        with conn:
            while self.answers:
                while b"\r\n\r\n" not in buffer:
                    try:
                        data = conn.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    buffer += data
                request, _, buffer = buffer.partition(b"\r\n\r\n")
                self.requests.append(request)
                answer = self.answers.pop(0)(request)
                if answer is None:
                    return
                for index, piece in enumerate([answer] if isinstance(answer, bytes) else answer):
                    if index:
                        time.sleep(0.05)
                    conn.sendall(piece)
                if self.close_after:
                    return

    def url(self, path: str = "/api/v4/projects", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self._listener.close()


def fixed(raw: bytes | list[bytes]) -> Answer:
    return lambda _request: raw


def ok(body: bytes, *extra: str) -> bytes:
    head = ["HTTP/1.1 200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@pytest.fixture
def serve():
    servers: list[RawServer] = []

    def start(answers: list[Answer], **kw: t.Any) -> RawServer:
        server = RawServer(answers, **kw)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


HEADERS = {"User-Agent": "tap-gitlab/test", "Accept": "application/json", "PRIVATE-TOKEN": "glpat-secret"}


def test_the_request_bytes_are_what_requests_sent(serve):
    server = serve([fixed(ok(b"[]"))])
    Transport(timeout=5).send("GET", server.url("/api/v4/projects?per_page=100&page=2"), HEADERS)
    assert server.requests[0].split(b"\r\n") == [
        b"GET /api/v4/projects?per_page=100&page=2 HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}".encode(),
        b"User-Agent: tap-gitlab/test",
        b"Accept-Encoding: gzip, deflate",
        b"Accept: application/json",
        b"Connection: keep-alive",
        b"PRIVATE-TOKEN: glpat-secret",
    ]


def test_a_url_with_characters_to_quote_is_requoted_as_requests_does():
    from requests.utils import requote_uri

    for target in ["/api/v4/projects/a b", "/api/v4/x?search=zoë", "/api/v4/x?q=%41%2F", "/api/v4/x?q=100%"]:
        assert transport.requote(target) == requote_uri(target)
    assert transport.requote("/api/v4/projects?order_by=id&sort=asc") == "/api/v4/projects?order_by=id&sort=asc"


def test_a_header_value_with_a_line_break_is_refused_before_anything_is_sent(serve):
    server = serve([fixed(ok(b"[]"))])
    with pytest.raises(InvalidHeader):
        Transport(timeout=5).send("GET", server.url(), {**HEADERS, "PRIVATE-TOKEN": "x\r\nX-Evil: 1"})
    assert server.requests == []


def test_keep_alive_reuses_one_connection_for_many_requests(serve):
    server = serve([fixed(ok(b"[%d]" % i)) for i in range(5)])
    client = Transport(timeout=5)
    bodies = [client.send("GET", server.url(), HEADERS).content for _ in range(5)]
    assert bodies == [b"[0]", b"[1]", b"[2]", b"[3]", b"[4]"]
    assert server.connections == 1


def test_a_connection_the_server_closed_while_idle_is_replaced_before_use(serve):
    server = serve([fixed(ok(b"[1]")), fixed(ok(b"[2]"))], close_after=True)
    client = Transport(timeout=5)
    assert client.send("GET", server.url(), HEADERS).content == b"[1]"
    # The server closed it after answering: the next request notices before sending, and reconnects.
    for _ in range(100):
        if client._local.pool and not next(iter(client._local.pool.values()))._usable():
            break
        threading.Event().wait(0.01)
    assert client.send("GET", server.url(), HEADERS).content == b"[2]"
    assert server.connections == 2


def test_connection_close_in_the_answer_closes_it_after_the_body(serve):
    server = serve([fixed(ok(b"[1]", "Connection: close")), fixed(ok(b"[2]"))])
    client = Transport(timeout=5)
    client.send("GET", server.url(), HEADERS)
    client.send("GET", server.url(), HEADERS)
    assert server.connections == 2


def test_a_chunked_body_with_extensions_and_trailers(serve):
    raw = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4;ext=1\r\n[1,2\r\n"
        b"3\r\n,3]\r\n"
        b"0\r\nX-Trailer: yes\r\n\r\n"
    )
    server = serve([fixed(raw), fixed(ok(b"[4]"))])
    client = Transport(timeout=5)
    assert client.send("GET", server.url(), HEADERS).content == b"[1,2,3]"
    assert client.send("GET", server.url(), HEADERS).content == b"[4]"  # the connection stays in step
    assert server.connections == 1


def test_a_body_to_the_close_when_there_is_no_length(serve):
    server = serve([fixed(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n[1,2,3]")], close_after=True)
    assert Transport(timeout=5).send("GET", server.url(), HEADERS).content == b"[1,2,3]"


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send it
    ],
)
def test_compressed_bodies_are_decoded(serve, encoding, encode):
    body = b'[{"id":1,"title":"' + b"x" * 5000 + b'"}]'
    server = serve([fixed(ok(encode(body), f"Content-Encoding: {encoding}"))])
    assert Transport(timeout=5).send("GET", server.url(), HEADERS).content == body


def test_a_gzip_body_cut_short_is_a_broken_answer_not_a_short_page(serve):
    cut = gzip.compress(b"[" + b"1," * 5000 + b"1]")[:-20]
    server = serve([fixed(ok(cut, "Content-Encoding: gzip"))])
    with pytest.raises(BrokenAnswer):
        Transport(timeout=5).send("GET", server.url(), HEADERS)


def test_a_body_shorter_than_its_length_is_a_broken_answer(serve):
    server = serve([fixed(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n[1,2")], close_after=True)
    with pytest.raises(BrokenAnswer, match="4 of 100 bytes"):
        Transport(timeout=5).send("GET", server.url(), HEADERS)


def test_a_connection_closed_without_an_answer_fails_the_attempt(serve):
    server = serve([lambda _request: None])
    with pytest.raises(ConnectionFailed, match="without answering"):
        Transport(timeout=5).send("GET", server.url(), HEADERS)


def test_interim_answers_are_skipped(serve):
    server = serve([fixed(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + ok(b"[1]"))])
    response = Transport(timeout=5).send("GET", server.url(), HEADERS)
    assert (response.status_code, response.content) == (200, b"[1]")


def test_headers_are_case_insensitive_repeated_ones_joined_and_folded_ones_unfolded(serve):
    raw = ok(b"[]", "X-Total: 5", 'Link: <a>; rel="next"', 'link: <b>; rel="last"', "X-Long: one", "  two")
    server = serve([fixed(raw)])
    response = Transport(timeout=5).send("GET", server.url(), HEADERS)
    assert response.headers.get("x-total") == response.headers["X-TOTAL"] == "5"
    assert response.headers.get("Link") == '<a>; rel="next", <b>; rel="last"'
    assert response.headers.get("X-Long") == "one two"
    assert "content-type" in response.headers and "Content-Type" in response.headers
    assert response.headers.get("Missing") is None


@pytest.mark.parametrize("split", [None, 1, 17, 40, 120])
def test_a_head_arriving_in_pieces_or_whole_parses_the_same(serve, split):
    """One read usually brings the whole head (parsed at once); in pieces, it is read line by line."""
    raw = ok(b"[1]", "X-Total: 5", "Set-Cookie: a=1", "X-Empty:", "RateLimit-Remaining:  7 ")
    server = serve([fixed(raw) if split is None else fixed([raw[:split], raw[split:]])])
    response = Transport(timeout=5).send("GET", server.url(), HEADERS)
    assert response.content == b"[1]"
    assert dict(response.headers) == {
        "content-type": "application/json",
        "content-length": "3",
        "x-total": "5",
        "set-cookie": "a=1",
        "x-empty": "",
        "ratelimit-remaining": "7",
    }


def test_a_head_line_without_a_colon_is_a_broken_answer(serve):
    server = serve([fixed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nnonsense\r\n\r\n[]")])
    with pytest.raises(BrokenAnswer):
        Transport(timeout=5).send("GET", server.url(), HEADERS)


def test_error_statuses_are_answers_with_their_bodies(serve):
    body = b'{"message":"404 Project Not Found"}'
    server = serve(
        [
            fixed(
                b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                + b"Content-Length: %d\r\n\r\n" % len(body)
                + body
            )
        ]
    )
    response = Transport(timeout=5).send("GET", server.url(), HEADERS)
    assert (response.status_code, response.reason, response.json()) == (
        404,
        "Not Found",
        {"message": "404 Project Not Found"},
    )


def test_a_204_has_no_body_and_keeps_the_connection(serve):
    server = serve([fixed(b"HTTP/1.1 204 No Content\r\n\r\n"), fixed(ok(b"[1]"))])
    client = Transport(timeout=5)
    assert client.send("GET", server.url(), HEADERS).content == b""
    assert client.send("GET", server.url(), HEADERS).content == b"[1]"


def test_cookies_a_server_sets_are_sent_back_and_expired_ones_dropped(serve):
    server = serve(
        [
            fixed(
                ok(b"[]", "Set-Cookie: AWSALB=abc; Path=/; Expires=Tue, 01 Jan 2030 00:00:00 GMT", "Set-Cookie: b=2")
            ),
            fixed(ok(b"[]", "Set-Cookie: b=; Max-Age=0")),
            fixed(ok(b"[]")),
        ]
    )
    client = Transport(timeout=5)
    for _ in range(3):
        client.send("GET", server.url(), HEADERS)
    assert b"Cookie" not in server.requests[0]
    assert b"\r\nCookie: AWSALB=abc; b=2" in server.requests[1]
    assert server.requests[2].endswith(b"\r\nCookie: AWSALB=abc")


def test_garbage_instead_of_an_answer_is_a_broken_answer(serve):
    server = serve([fixed(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")])
    with pytest.raises(BrokenAnswer, match="not an HTTP answer"):
        Transport(timeout=5).send("GET", server.url(), HEADERS)


def test_no_answer_within_the_timeout_is_timed_out(serve):
    release = threading.Event()

    def stall(_request: bytes) -> None:
        release.wait(5)  # answer nothing until the client has given up

    server = serve([stall])
    with pytest.raises(TimedOut) as raised:
        Transport(timeout=0.3).send("GET", server.url(), HEADERS)
    release.set()
    assert isinstance(raised.value.__cause__, TimeoutError)


def test_a_refused_connection_keeps_its_cause():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    with pytest.raises(ConnectionFailed) as raised:
        Transport(timeout=2).send("GET", f"http://127.0.0.1:{port}/api/v4/projects", HEADERS)
    assert isinstance(raised.value.__cause__, ConnectionRefusedError)


def test_the_threads_use_their_own_connections(serve):
    server = serve([fixed(ok(b"[1]")) for _ in range(4)])
    client = Transport(timeout=5)
    results: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: results.append(client.send("GET", server.url(), HEADERS).content))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [b"[1]"] * 4
    assert server.connections == 4
    client.close()


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


def _tls_server(serve, ca, answers):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return serve(answers, tls=context)


def test_tls_verified_against_the_ca_bundle(serve, ca, tmp_path):
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    server = _tls_server(serve, ca, [fixed(ok(b"[1]")), fixed(ok(b"[2]"))])
    client = Transport(timeout=5, ca_bundle=str(bundle))
    assert client.send("GET", server.url(scheme="https"), HEADERS).content == b"[1]"
    assert client.send("GET", server.url(scheme="https"), HEADERS).content == b"[2]"
    assert server.connections == 1


def test_tls_with_an_untrusted_certificate_fails_with_the_verification_error(serve, ca):
    server = _tls_server(serve, ca, [fixed(ok(b"[1]"))])
    with pytest.raises(ConnectionFailed) as raised:
        Transport(timeout=5).send("GET", server.url(scheme="https"), HEADERS)  # certifi does not know trustme's CA
    assert isinstance(raised.value.__cause__, ssl.SSLCertVerificationError)


def test_response_encoding_and_text_follow_requests():
    def response(content_type: str | None, body: bytes = b"caf\xc3\xa9") -> Response:
        return Response(200, Headers({} if content_type is None else {"content-type": content_type}), body, "u")

    assert response("application/json").encoding == "utf-8"
    assert response("application/json; charset=ISO-8859-1").encoding == "ISO-8859-1"
    assert response("text/html").encoding == "ISO-8859-1"
    assert response('text/plain; charset="utf-8"').encoding == "utf-8"
    assert response(None).encoding is None
    assert response(None).text == "café"
    assert response("text/plain; charset=no-such-charset").text == "café"
