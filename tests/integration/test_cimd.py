"""Fetching a Client ID Metadata Document is no way into the server's own network (SSRF):
real lookups and a real local HTTP server, which must see no request from a refused fetch.

The server under test is ``cimd.Documents``, as the OAuth provider makes it: ``loopback`` when
orch itself runs on loopback (then plain HTTP to loopback is how the tests serve documents),
``networks`` from ``oauth: allow_document_networks``."""

from __future__ import annotations

import ipaddress
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
import pytest

from mcp_orch.domain.errors import InvalidInput
from mcp_orch.oauth.cimd import MAX_BYTES, Documents, Refused, networks_setting, refusal

pytestmark = pytest.mark.server


@dataclass
class Site:
    """A local web server: what it answers per path, and the requests it saw."""

    port: int = 0
    answers: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    seen: list[tuple[str, str]] = field(default_factory=list)  # (path, Host header)
    hang: threading.Event = field(default_factory=threading.Event)

    def document(self, path: str, host: str = "127.0.0.1") -> str:
        url = f"http://{host}:{self.port}{path}"
        body = {"client_id": url, "redirect_uris": ["https://client.example/cb"]}
        self.answers[path] = (200, {"Content-Type": "application/json"}, json.dumps(body).encode())
        return url


@contextmanager
def local_site() -> Iterator[Site]:
    site = Site()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site.seen.append((self.path, self.headers.get("Host", "")))
            if self.path == "/slow":  # headers and a first byte, then nothing
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"{")
                self.wfile.flush()
                site.hang.wait(30)
                return
            status, headers, body = site.answers.get(self.path, (404, {}, b""))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site.hang.set()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def site() -> Iterator[Site]:
    with local_site() as s:
        yield s


def fetch(documents: Documents, url: str) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        return await documents.fetch(url)

    return anyio.run(go)


def refused(documents: Documents, url: str) -> str:
    with pytest.raises(Refused) as caught:
        fetch(documents, url)
    return str(caught.value)


# ---------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("10.1.2.3", "a private address"),
        ("192.168.0.10", "a private address"),
        ("172.16.5.4", "a private address"),
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("169.254.169.254", "a link-local address"),  # the cloud's metadata service
        ("fe80::1", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("240.0.0.1", "a private address"),  # reserved (ipaddress counts it private too)
        ("0.0.0.0", "an unspecified address"),
        ("100.64.0.1", "a shared (carrier-grade NAT) address"),
        ("fc00::1", "a private address"),
        ("::ffff:10.0.0.1", "a private address (inside ::ffff:a00:1)"),
        ("2002:a00:1::", "a private address (inside 2002:a00:1::)"),  # 6to4 of 10.0.0.1
        ("64:ff9b::7f00:1", "a loopback address (inside 64:ff9b::7f00:1)"),  # NAT64
        ("93.184.215.14", ""),
        ("2606:4700::6810:84e5", ""),
    ],
)
def test_only_public_addresses_may_be_fetched_from(address: str, why: str) -> None:
    assert refusal(ipaddress.ip_address(address), loopback=False) == why


def test_loopback_is_allowed_only_to_a_server_on_loopback_and_a_setting_opens_a_network() -> None:
    home = ipaddress.ip_address("127.0.0.1")
    assert refusal(home, loopback=True) == ""
    assert refusal(ipaddress.ip_address("10.0.0.1"), loopback=True) == "a private address"
    office = networks_setting({"allow_document_networks": ["10.20.0.0/16", "fd00::/8"]})
    assert refusal(ipaddress.ip_address("10.20.3.4"), loopback=False, networks=office) == ""
    assert refusal(ipaddress.ip_address("fd00::5"), loopback=False, networks=office) == ""
    assert (
        refusal(ipaddress.ip_address("10.21.0.1"), loopback=False, networks=office)
        == "a private address"
    )


@pytest.mark.parametrize(
    ("section", "says"),
    [
        ("10.0.0.0/8", "oauth must be a mapping"),
        ({"allow_document_networks": ["10.0.0.0/33"]}, "'10.0.0.0/33' is not an IP network"),
        ({"allow_document_networks": {"a": 1}}, "must be a list of networks"),
        ({"allow_networks": ["10.0.0.0/8"]}, "unknown oauth key(s) allow_networks"),
    ],
)
def test_a_bad_setting_is_refused_naming_it(section: object, says: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        networks_setting(section)
    assert says in caught.value.message and "allow_document_networks" in str(caught.value.hint)


# ---------------------------------------------------------------------- real fetches


def test_a_name_that_resolves_to_loopback_is_refused_before_any_connection(site: Site) -> None:
    site.document("/client.json", host="localhost")
    why = refused(Documents(), f"https://localhost:{site.port}/client.json")
    assert why.startswith("localhost resolves to ") and "a loopback address" in why
    assert "oauth: allow_document_networks" in why
    assert refused(Documents(), "https://169.254.169.254/latest/meta-data") == (
        "169.254.169.254, a link-local address: documents are fetched only from public "
        "addresses (oauth: allow_document_networks in .mcp/config.yaml opens a network)"
    )
    assert "a private address" in refused(Documents(), "https://[::ffff:10.0.0.1]/c.json")
    assert site.seen == []  # nothing was sent anywhere


def test_the_connection_goes_to_the_address_checked_with_the_host_name_kept(site: Site) -> None:
    url = site.document("/client.json", host="localhost")
    document = fetch(Documents(loopback=True), url)
    assert document["client_id"] == url
    assert site.seen == [("/client.json", f"localhost:{site.port}")]


def test_a_redirect_is_not_followed(site: Site) -> None:
    site.answers["/moved"] = (302, {"Location": "http://169.254.169.254/latest"}, b"")
    why = refused(Documents(loopback=True), f"http://127.0.0.1:{site.port}/moved")
    assert why == "HTTP 302: redirects are not followed"
    assert [p for p, _ in site.seen] == ["/moved"]


def test_a_document_too_large_is_refused_with_or_without_its_length(site: Site) -> None:
    big = b" " * (MAX_BYTES + 1)
    site.answers["/said"] = (200, {"Content-Length": str(len(big))}, big)
    site.answers["/unsaid"] = (200, {}, big)  # HTTP/1.0: read to the close
    for path in ("/said", "/unsaid"):
        why = refused(Documents(loopback=True), f"http://127.0.0.1:{site.port}{path}")
        assert why == f"larger than {MAX_BYTES} bytes"


def test_a_server_that_dribbles_is_cut_off_at_the_deadline(site: Site) -> None:
    why = refused(Documents(loopback=True, timeout=0.5), f"http://127.0.0.1:{site.port}/slow")
    assert why == "no whole answer within 0.5 s"


def test_a_network_the_setting_opens_is_fetched_from(site: Site) -> None:
    """https to 127.0.0.1 with loopback opened by the setting: the address passes, and the
    fetch goes on to the TLS handshake, which this plain HTTP server cannot answer."""
    opened = Documents(networks=networks_setting({"allow_document_networks": "127.0.0.0/8"}))
    why = refused(opened, f"https://127.0.0.1:{site.port}/client.json")
    assert why.startswith("cannot fetch it (ConnectError")
    assert "loopback" not in why
