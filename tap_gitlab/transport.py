"""HTTP/1.1 to the one configured GitLab: a keep-alive connection per thread, a GET, its answer read whole.

requests, urllib3 and http.client cost about 0.6 ms of CPU per request on the benchmark (issue 14: more than
half of a full sync's CPU, for 43,222 requests), in layers the client does not use: proxies and the
environment (the client never reads them), cookie policy, redirect resolution (the client follows redirects
by hand, on its own origin), retries (the client has its own loop), email-style header parsing, and a
connection pool per host with checks around every checkout. This module does what the client needs and
nothing more, and sends the same request bytes requests did:

- one connection per thread (`Transport` keeps them thread-local), to the scheme, host and port of a URL; TLS
  verified against `ca_bundle` or, like requests, certifi's bundle, with the host name checked and sent as SNI;
  `TCP_NODELAY`; the request timeout is the socket's timeout, for connecting and for every read, as requests'
  `timeout=` was;
- the request line and headers requests sent (`Host`, `User-Agent`, `Accept-Encoding: gzip, deflate`,
  `Accept`, `Connection: keep-alive`, then the call's headers), the target re-quoted as requests'
  `requote_uri` does; a header value holding CR or LF is refused (no header injection from a setting);
- the answer: the status line, headers (case-insensitive; repeated ones joined with ", " as urllib3 does),
  interim 1xx answers skipped, the body by `Content-Length`, chunked, or until the server closes; gzip and
  deflate decoded; a body shorter than announced is a failed attempt (`BrokenAnswer`), never a short page;
- an idle connection the server has closed (keep-alive timeout) is noticed before reuse by a zero-timeout
  poll, as urllib3 does, and replaced; any other failure is the caller's to retry (one budget, client.py);
- cookies a server sets (a load balancer's stickiness cookie) are sent back on that thread's connection.

Failures raise `TransportError` subclasses, with the socket's exception as `__cause__` (a refused connection,
an unresolvable host, an untrusted certificate), so the client can tell them apart.
"""

from __future__ import annotations

import contextlib
import io
import re
import select
import socket
import ssl
import threading
import typing as t
import zlib
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

import simplejson
from requests.utils import guess_json_utf, requote_uri

_MAX_LINE = 65_536
_MAX_HEADERS = 100
_NO_BODY = frozenset({204, 304})
# Characters requests' `requote_uri` leaves alone: with none other (and no "%") in a URL, it is unchanged.
_URI_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!#$&'()*+,/:;=?@[]")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# One header line of a head split at CRLF: name, colon, value without the surrounding blanks.
_FIELD = re.compile(r"([^:\r\n]+):[ \t]*([^\r\n]*?)[ \t]*(?:\r\n|$)")


class TransportError(Exception):
    """An attempt that got no complete answer; `reason` says what happened in a few words (for logs)."""

    reason = "no answer"


class ConnectionFailed(TransportError):
    """The connection could not be made, or broke (reset, closed) before the answer was complete."""

    reason = "connection failed"


class TimedOut(TransportError):
    """No connection, or no data, within the request timeout."""

    reason = "timed out"


class BrokenAnswer(TransportError):
    """An answer that is not valid HTTP, or a body shorter than announced."""

    reason = "incomplete answer"


class InvalidHeader(ValueError):
    """A header value with CR or LF (it would end the header and start another)."""


class Headers(dict[str, str]):
    """An answer's headers, by lower-case name (as `requests`' `CaseInsensitiveDict` looks them up)."""

    def get(self, name: str, default: t.Any = None) -> t.Any:
        return dict.get(self, name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return dict.__getitem__(self, name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and dict.__contains__(self, name.lower())


class Response:
    """One answer, its body read whole: what the client reads of `requests.Response`."""

    __slots__ = ("content", "headers", "reason", "status_code", "url")

    def __init__(self, status_code: int, headers: Headers, content: bytes, url: str, reason: str = "") -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self.url = url
        self.reason = reason

    @property
    def encoding(self) -> str | None:
        """The body's charset, as `requests.utils.get_encoding_from_headers` decides it."""
        content_type = self.headers.get("content-type")
        if not content_type:
            return None
        kind, _, rest = content_type.partition(";")
        for param in rest.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "charset" and value:
                return value.strip().strip("'\"")
        if "text" in kind:
            return "ISO-8859-1"
        if "application/json" in kind:
            return "utf-8"
        return None

    @property
    def text(self) -> str:
        """The body as text, in its charset (UTF-8 when it names none, where requests would guess one, or one
        Python does not know)."""
        encoding = self.encoding or "utf-8"
        try:
            return self.content.decode(encoding, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")

    def json(self) -> t.Any:
        """The body's JSON value as `requests.Response.json` decodes it (simplejson; `ValueError` if not JSON)."""
        if not self.encoding and len(self.content) > 3:
            guessed = guess_json_utf(self.content)
            if guessed is not None:
                try:
                    return simplejson.loads(self.content.decode(guessed))
                except UnicodeDecodeError:
                    pass
        return simplejson.loads(self.text)


def requote(target: str) -> str:
    """`requests.utils.requote_uri(target)`, without its work when there is nothing to quote."""
    return target if _URI_SAFE.issuperset(target) else requote_uri(target)


def _check(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise InvalidHeader("a header value holds a line break")
    return value


class Connection:
    """One keep-alive connection to one origin."""

    def __init__(self, scheme: str, host: str, port: int, timeout: float, context: ssl.SSLContext | None) -> None:
        self.origin = (scheme, host, port)
        self.timeout = timeout
        self._context = context
        self._sock: socket.socket | None = None
        self._reader: t.BinaryIO | None = None
        self._poll: select.poll | None = None
        self.cookies: dict[str, str] = {}
        default = _DEFAULT_PORTS.get(scheme)
        ascii_host = host if host.isascii() else host.encode("idna").decode("ascii")
        if ":" in ascii_host:
            ascii_host = f"[{ascii_host}]"  # an IPv6 literal
        self.host_header = ascii_host if port == default else f"{ascii_host}:{port}"

    def close(self) -> None:
        reader, sock = self._reader, self._sock
        self._reader = self._sock = self._poll = None
        for thing in (reader, sock):
            if thing is not None:
                with contextlib.suppress(OSError):
                    thing.close()

    def _usable(self) -> bool:
        """Whether the open connection can carry the next request: not closed by the server while idle."""
        if self._sock is None or self._poll is None:
            return False
        # Readable while idle: the server closed it (EOF) or sent what no request asked for.
        return not self._poll.poll(0)

    def _connect(self) -> None:
        scheme, host, port = self.origin
        try:
            sock = socket.create_connection((host, port), timeout=self.timeout)
        except TimeoutError as exc:
            raise TimedOut(f"connecting to {host}:{port} timed out") from exc
        except OSError as exc:
            raise ConnectionFailed(f"cannot connect to {host}:{port} ({type(exc).__name__})") from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":
                assert self._context is not None
                sock = self._context.wrap_socket(sock, server_hostname=host)
        except TimeoutError as exc:
            sock.close()
            raise TimedOut(f"the TLS handshake with {host}:{port} timed out") from exc
        except OSError as exc:  # ssl.SSLError, including certificate verification, is an OSError
            sock.close()
            raise ConnectionFailed(f"TLS with {host}:{port} failed ({type(exc).__name__})") from exc
        self._sock = sock
        self._reader = t.cast(t.BinaryIO, sock.makefile("rb", buffering=_MAX_LINE))
        self._poll = select.poll()
        self._poll.register(sock, select.POLLIN)

    def request(self, method: str, target: str, headers: t.Iterable[tuple[str, str]], url: str) -> Response:
        """Send one request (no body) and read its answer whole."""
        if not self._usable():
            self.close()
            self._connect()
        assert self._sock is not None and self._reader is not None
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host_header}"]
        lines += [f"{name}: {_check(value)}" for name, value in headers]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        try:
            self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            response, reusable = self._read_answer(method, url)
        except TimeoutError as exc:
            self.close()
            raise TimedOut(f"no answer within {self.timeout:g} s") from exc
        except TransportError:
            self.close()
            raise
        except OSError as exc:
            self.close()
            raise ConnectionFailed(f"the connection broke ({type(exc).__name__})") from exc
        except UnicodeEncodeError as exc:
            raise InvalidHeader("a header value is not Latin-1 text") from exc
        if not reusable:
            self.close()
        return response

    def _read_answer(self, method: str, url: str) -> tuple[Response, bool]:
        reader = self._reader
        assert reader is not None
        while True:
            head = _head(reader)
            if head is not None:  # the whole head was in the buffer: parsed in one go
                line, headers, cookies = head
            else:
                line = reader.readline(_MAX_LINE + 1)
                if not line:
                    raise ConnectionFailed("the server closed the connection without answering")
                headers, cookies = _headers(reader)
            version, status, reason = _status_line(line)
            if 100 <= status < 200 and status != 101:
                continue  # an interim answer (100 Continue, 103 Early Hints): the real one follows
            break
        connection = (headers.get("connection") or "").lower()
        reusable = "close" not in connection and (version != "HTTP/1.0" or "keep-alive" in connection)
        if method == "HEAD" or status in _NO_BODY or status < 200:
            body = b""
        elif "chunked" in (headers.get("transfer-encoding") or "").lower():
            body = _chunked(reader)
        elif (length := headers.get("content-length")) is not None:
            try:
                size = int(length.split(",")[0])
            except ValueError:
                raise BrokenAnswer(f"a Content-Length of {length!r}") from None
            body = reader.read(size)
            if len(body) < size:
                raise BrokenAnswer(f"the answer ended after {len(body)} of {size} bytes")
        else:
            body = reader.read()  # to the end: the server closes the connection after the body
            reusable = False
        encoding = (headers.get("content-encoding") or "").lower().strip()
        if encoding and body:
            body = _decode(body, encoding)
        if cookies:
            self._keep(cookies)
        return Response(status, headers, body, url, reason), reusable

    def _keep(self, set_cookies: list[str]) -> None:
        for text in set_cookies:
            try:
                parsed = SimpleCookie(text)
            except CookieError:
                continue
            for name, morsel in parsed.items():
                if morsel["max-age"] in ("0", "-1") or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value


def _status_line(line: bytes) -> tuple[str, int, str]:
    if len(line) > _MAX_LINE:
        raise BrokenAnswer("the status line is too long")
    parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise BrokenAnswer(f"not an HTTP answer: {line[:40]!r}")
    try:
        status = int(parts[1])
    except ValueError:
        raise BrokenAnswer(f"a status of {parts[1][:10]!r}") from None
    if not 100 <= status <= 999:
        raise BrokenAnswer(f"a status of {status}")
    return parts[0], status, parts[2] if len(parts) > 2 else ""


def _head(reader: t.BinaryIO) -> tuple[bytes, Headers, list[str]] | None:
    """The status line and headers when the reader's buffer holds the whole head (the usual case: one read
    brings the head and the start of the body); None, having consumed nothing, to read it line by line."""
    buffered = t.cast(io.BufferedReader, reader).peek(_MAX_LINE)
    end = buffered.find(b"\r\n\r\n")
    if end < 0 or b"\n " in buffered[:end] or b"\n\t" in buffered[:end]:
        return None  # incomplete, or folded lines: the slow path handles both
    block = reader.read(end + 4)
    first, _, rest = block.partition(b"\r\n")
    fields = _FIELD.findall(rest[:-4].decode("latin-1"))
    if len(fields) > _MAX_HEADERS or (rest[:-4].count(b"\n") + 1 != len(fields) and rest != b"\r\n"):
        raise BrokenAnswer("an answer's header lines are malformed or too many")
    headers = Headers()
    cookies: list[str] = []
    for name, value in fields:
        key = name.lower()
        if key == "set-cookie":
            cookies.append(value)
        previous = dict.get(headers, key)
        headers[key] = value if previous is None else f"{previous}, {value}"
    return first + b"\r\n", headers, cookies


def _headers(reader: t.BinaryIO) -> tuple[Headers, list[str]]:
    headers = Headers()
    cookies: list[str] = []
    last = ""
    for _ in range(_MAX_HEADERS + 1):
        line = reader.readline(_MAX_LINE + 1)
        if not line:
            raise ConnectionFailed("the connection closed inside the answer's headers")
        if len(line) > _MAX_LINE:
            raise BrokenAnswer("a header line is too long")
        if line in (b"\r\n", b"\n"):
            return headers, cookies
        text = line.decode("latin-1").rstrip("\r\n")
        if text[:1] in (" ", "\t") and last:  # an obsolete folded continuation line
            headers[last] = f"{dict.__getitem__(headers, last)} {text.strip()}"
            continue
        name, colon, value = text.partition(":")
        if not colon:
            raise BrokenAnswer(f"a header line without a colon: {text[:40]!r}")
        last = name.strip().lower()
        value = value.strip()
        if last == "set-cookie":
            cookies.append(value)
        previous = dict.get(headers, last)
        headers[last] = value if previous is None else f"{previous}, {value}"
    raise BrokenAnswer(f"more than {_MAX_HEADERS} headers")


def _chunked(reader: t.BinaryIO) -> bytes:
    parts: list[bytes] = []
    while True:
        line = reader.readline(_MAX_LINE + 1)
        if not line:
            raise BrokenAnswer("the chunked body ended early")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise BrokenAnswer(f"a chunk size of {line[:20]!r}") from None
        if size == 0:
            while (trailer := reader.readline(_MAX_LINE + 1)) not in (b"\r\n", b"\n"):
                if not trailer:
                    break  # no final CRLF: the body is complete all the same
            return b"".join(parts)
        chunk = reader.read(size)
        if len(chunk) < size:
            raise BrokenAnswer("a chunk ended early")
        parts.append(chunk)
        if reader.readline(_MAX_LINE + 1) not in (b"\r\n", b"\n"):
            raise BrokenAnswer("a chunk without its CRLF")


def _decode(body: bytes, encoding: str) -> bytes:
    try:
        if encoding in ("gzip", "x-gzip"):
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = inflater.decompress(body)
            if not inflater.eof:
                raise BrokenAnswer("the gzip body ended early")
            return data
        if encoding == "deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:
                return zlib.decompress(body, -zlib.MAX_WBITS)  # raw deflate, as some servers send it
        if encoding == "identity":
            return body
    except zlib.error as exc:
        raise BrokenAnswer(f"the {encoding} body does not decode ({exc})") from None
    raise BrokenAnswer(f"an answer in Content-Encoding {encoding!r}, which was not asked for")


def ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Verification as requests did it: `ca_bundle`, else certifi's bundle (else the system's store)."""
    cafile = ca_bundle
    if cafile is None:
        try:
            import certifi  # noqa: PLC0415

            cafile = certifi.where()
        except ImportError:
            cafile = None
    context = ssl.create_default_context(cafile=cafile)
    context.set_alpn_protocols(["http/1.1"])
    return context


class Transport:
    """Sends GETs for every thread of a client, each thread on its own connections."""

    BASE_HEADERS = (("Accept-Encoding", "gzip, deflate"), ("Connection", "keep-alive"))

    def __init__(self, *, timeout: float, ca_bundle: str | None = None) -> None:
        self.timeout = timeout
        self._ca_bundle = ca_bundle
        self._context: ssl.SSLContext | None = None
        self._lock = threading.Lock()
        self._local = threading.local()
        self._all: list[Connection] = []

    def _connection(self, scheme: str, host: str, port: int) -> Connection:
        pool: dict[tuple[str, str, int], Connection] | None = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = {}
        key = (scheme, host, port)
        connection = pool.get(key)
        if connection is None:
            context = None
            if scheme == "https":
                with self._lock:
                    if self._context is None:
                        self._context = ssl_context(self._ca_bundle)
                    context = self._context
            connection = pool[key] = Connection(scheme, host, port, self.timeout, context)
            with self._lock:
                self._all.append(connection)
        return connection

    def send(self, method: str, url: str, headers: t.Mapping[str, str]) -> Response:
        """One attempt: `method url` with `headers` (after the base ones), its answer read whole."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ConnectionFailed(f"not an http(s) URL: {scheme}://")
        port = parts.port or _DEFAULT_PORTS[scheme]
        target = requote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
        ordered = [(k, v) for k, v in headers.items() if k in ("User-Agent",)]
        ordered += list(self.BASE_HEADERS[:1])
        ordered += [(k, v) for k, v in headers.items() if k == "Accept"]
        ordered += list(self.BASE_HEADERS[1:])
        ordered += [(k, v) for k, v in headers.items() if k not in ("User-Agent", "Accept")]
        return self._connection(scheme, parts.hostname, port).request(method, target, ordered, url)

    def close(self) -> None:
        """Close every thread's connections."""
        with self._lock:
            connections, self._all = self._all, []
        for connection in connections:
            connection.close()
