"""Fetching image URLs: status codes, deadlines, byte limits, redirects, content types, and
the SSRF guard. Only loopback is ever connected to (see ``image_server.guard_connections``)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from ipaddress import IPv4Address, IPv6Address

import pytest
from aiohttp import web

from sglang_worker.errors import ImageError
from sglang_worker.images.address_policy import AddressPolicy
from sglang_worker.images.budget import ImageBudget
from sglang_worker.images.fetch import ImageFetcher
from sglang_worker.settings import Settings
from tests.support import image_corpus as corpus
from tests.support.image_server import ConnectionCounter, ImageServer, guard_connections, stub_dns

PNG = corpus.png()
MB = 1024 * 1024


def budget(per_image: int = 20 * MB, total: int = 64 * MB) -> ImageBudget:
    return ImageBudget(per_image=per_image, total=total)


def settings(**overrides) -> Settings:
    return Settings(**{"image_allow_private_urls": True, **overrides})


class LoopbackOnly(AddressPolicy):
    """The real policy, except that 127.0.0.1 (the test server) is allowed: lets a test reach
    its server with the guard on, to see where a redirect may go."""

    def refusal(self, ip: IPv4Address | IPv6Address) -> str | None:
        return None if ip == IPv4Address("127.0.0.1") else super().refusal(ip)


@pytest.fixture(autouse=True)
async def connection_attempts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return guard_connections(monkeypatch)


@pytest.fixture
async def fetcher_factory():
    made: list[ImageFetcher] = []

    def make(policy: AddressPolicy | None = None, **overrides) -> ImageFetcher:
        made.append(ImageFetcher(settings(**overrides), policy))
        return made[-1]

    yield make
    for fetcher in made:
        await fetcher.close()


async def fetch_error(fetcher: ImageFetcher, url: str, **budget_args) -> str:
    with pytest.raises(ImageError) as caught:
        await fetcher.fetch(url, budget(**budget_args))
    return caught.value.message


# --- Through the opt-in: what a server does ------------------------------------------------

async def test_an_image_is_downloaded(fetcher_factory) -> None:
    async with ImageServer() as server:
        url = server.serve("/cat.png", PNG)
        assert await fetcher_factory().fetch(url, budget()) == PNG


@pytest.mark.parametrize(("status", "words"), [(404, "URL returned HTTP 404 Not Found"),
                                               (500, "URL returned HTTP 500"),
                                               (403, "URL returned HTTP 403"),
                                               (204, "URL returned HTTP 204")])
async def test_http_errors_are_reported_with_their_status(fetcher_factory, status: int,
                                                          words: str) -> None:
    async with ImageServer() as server:
        url = server.serve("/x", b"", status=status)
        assert (await fetch_error(fetcher_factory(), url)).startswith(words)


async def test_a_trickling_server_is_cut_off_at_the_deadline(fetcher_factory) -> None:
    sent = []

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        await response.prepare(request)
        for _ in range(200):  # one byte every 50 ms: 10 s if nobody stops it
            await response.write(b"x")
            sent.append(1)
            await asyncio.sleep(0.05)
        return response

    async with ImageServer() as server:
        url = server.route("/slow.png", trickle)
        message = await fetch_error(fetcher_factory(image_fetch_timeout_s=0.5), url)
    assert message == "image URL did not finish downloading within 0.5 s (IMAGE_FETCH_TIMEOUT_S)"
    assert 0 < len(sent) < 200


async def test_a_declared_oversize_body_is_refused_before_reading(fetcher_factory) -> None:
    async with ImageServer() as server:
        url = server.serve("/big.png", b"\x00" * (2 * MB))
        message = await fetch_error(fetcher_factory(), url, per_image=MB)
    assert message == "image is 2 MB, over the 1 MB limit (MAX_IMAGE_BYTES)"


async def test_an_undeclared_oversize_stream_is_abandoned_at_the_limit(fetcher_factory) -> None:
    progress = {"written": 0, "finished": False}

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(800):  # 50 MB in 64 KiB chunks, no Content-Length
            await response.write(b"\x00" * 65536)
            progress["written"] += 65536
        progress["finished"] = True
        return response

    async with ImageServer() as server:
        url = server.route("/endless.png", endless)
        message = await fetch_error(fetcher_factory(), url, per_image=MB)
        await asyncio.sleep(0.1)
    assert message == "image is larger than the 1 MB limit (MAX_IMAGE_BYTES)"
    assert not progress["finished"]


async def test_the_request_total_stops_a_download(fetcher_factory) -> None:
    async with ImageServer() as server:
        url = server.serve("/a.png", b"\x00" * (400 * 1024))
        shared = budget(per_image=MB, total=MB)
        await fetcher_factory().fetch(url, shared)
        await fetcher_factory().fetch(url, shared)
        with pytest.raises(ImageError, match=r"total more than 1 MB.*MAX_TOTAL_IMAGE_BYTES"):
            await fetcher_factory().fetch(url, shared)


@pytest.mark.parametrize("content_type", ["text/html", "application/octet-stream",
                                          "image/jpeg", "text/plain"])
async def test_the_declared_content_type_is_ignored(fetcher_factory, content_type: str) -> None:
    # The bytes are what is sniffed later; a mislabelled PNG is still a PNG.
    async with ImageServer() as server:
        url = server.serve("/img", PNG, content_type=content_type)
        assert await fetcher_factory().fetch(url, budget()) == PNG


async def test_a_redirect_chain_is_followed(fetcher_factory) -> None:
    async with ImageServer() as server:
        server.serve("/final.png", PNG)
        server.redirect("/r1", "/final.png", status=301)
        server.redirect("/r2", server.url("/r1"), status=307)
        start = server.redirect("/r3", "r2", status=308)  # relative Location
        assert await fetcher_factory(image_max_redirects=3).fetch(start, budget()) == PNG
        assert server.paths == ["/r3", "/r2", "/r1", "/final.png"]


async def test_too_many_redirects_are_refused(fetcher_factory) -> None:
    async with ImageServer() as server:
        server.serve("/final.png", PNG)
        server.redirect("/r1", "/final.png")
        start = server.redirect("/r2", "/r1")
        loop = server.redirect("/loop", "/loop")
        fetcher = fetcher_factory(image_max_redirects=1)
        assert await fetch_error(fetcher, start) == (
            "image URL redirected more than 1 times (IMAGE_MAX_REDIRECTS)")
        assert "IMAGE_MAX_REDIRECTS" in await fetch_error(fetcher, loop)
        assert "/final.png" not in server.paths


async def test_a_redirect_without_location_is_refused(fetcher_factory) -> None:
    async with ImageServer() as server:
        url = server.serve("/r", b"", status=302)
        assert "with no Location" in await fetch_error(fetcher_factory(), url)


async def test_an_unresolvable_host_is_reported(fetcher_factory, monkeypatch) -> None:
    stub_dns(monkeypatch, {})
    assert await fetch_error(fetcher_factory(), "http://nowhere.test/a.png") == (
        "could not resolve host nowhere.test")


async def test_a_closed_port_is_reported(fetcher_factory) -> None:
    async with ConnectionCounter() as closed:
        port = closed.port
    message = await fetch_error(fetcher_factory(), f"http://127.0.0.1:{port}/a.png")
    assert message.startswith("could not connect to 127.0.0.1")


async def test_a_server_that_never_accepts_is_given_up_at_the_connect_deadline(
        fetcher_factory) -> None:
    # A listener whose accept queue is full: Linux drops further SYNs, so connecting hangs.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    try:
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(listener.getsockname())
            fillers.append(filler)
        await asyncio.sleep(0.05)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/a.png"
        message = await fetch_error(fetcher_factory(image_fetch_connect_timeout_s=0.3), url)
    finally:
        for sock in [*fillers, listener]:
            sock.close()
    assert message == ("could not connect to 127.0.0.1 within 0.3 s "
                       "(IMAGE_FETCH_CONNECT_TIMEOUT_S)")


async def test_the_session_is_created_lazily_and_shared(fetcher_factory) -> None:
    fetcher = fetcher_factory()
    assert fetcher._session.current is None  # constructing does no I/O
    async with ImageServer() as server:
        url = server.serve("/a.png", PNG)
        await fetcher.fetch(url, budget())
        session = fetcher._session.current
        await fetcher.fetch(url, budget())
        assert fetcher._session.current is session and not session.closed
    await fetcher.close()
    assert session.closed


# --- Allowed domains --------------------------------------------------------------------------

async def test_allowed_domains_limit_every_hop(fetcher_factory, monkeypatch) -> None:
    stub_dns(monkeypatch, {"img.example.com": ["127.0.0.1"], "example.com.evil.test":
                           ["127.0.0.1"], "notexample.com": ["127.0.0.1"]})
    async with ImageServer() as server:
        server.serve("/a.png", PNG)
        fetcher = fetcher_factory(image_allowed_domains=" Example.com , other.org")
        url = f"http://img.example.com:{server.port}/a.png"
        assert await fetcher.fetch(url, budget()) == PNG
        for host in ("example.com.evil.test", "notexample.com", "127.0.0.1"):
            message = await fetch_error(fetcher, f"http://{host}:{server.port}/a.png")
            assert message == f"image URL host {host} is not in IMAGE_ALLOWED_DOMAINS"
        server.redirect("/out", f"http://notexample.com:{server.port}/a.png")
        message = await fetch_error(fetcher, f"http://img.example.com:{server.port}/out")
        assert message == "redirect target host notexample.com is not in IMAGE_ALLOWED_DOMAINS"
        assert server.paths == ["/a.png", "/out"]


# --- The SSRF guard, with the opt-in off ------------------------------------------------------

SSRF_HOSTS = [
    ("127.0.0.1", "is a loopback address"),
    ("2130706433", "is a loopback address (127.0.0.1)"),
    ("0x7f.1", "is a loopback address (127.0.0.1)"),
    ("017700000001", "is a loopback address (127.0.0.1)"),
    ("0x7f.0.0.1", "is a loopback address (127.0.0.1)"),
    ("127.1", "is a loopback address (127.0.0.1)"),
    ("0", "is an unspecified address (0.0.0.0)"),
    ("0.0.0.0", "is an unspecified address"),
    ("[::1]", "is a loopback address"),
    ("[::ffff:127.0.0.1]", "is an IPv6 form of a loopback address"),
    ("[::ffff:7f00:1]", "is an IPv6 form of a loopback address"),
    ("[::127.0.0.1]", "is an IPv6 form of a loopback address"),
    ("[64:ff9b::7f00:1]", "is an IPv6 form of a loopback address"),
    ("[2002:7f00:1::1]", "is an IPv6 form of a loopback address"),
    ("169.254.169.254", "is a link-local address"),
    ("0xa9fea9fe", "is a link-local address (169.254.169.254)"),
    ("[::ffff:169.254.169.254]", "is an IPv6 form of a link-local address"),
    ("10.0.0.1", "is a private address"),
    ("172.16.5.4", "is a private address"),
    ("192.168.0.1", "is a private address"),
    ("100.64.0.1", "is a carrier-grade NAT address"),
    ("224.0.0.1", "is a multicast address"),
    ("255.255.255.255", "is a reserved address"),
    ("[fd00::1]", "is a private address"),
    ("[fe80::1]", "is a link-local address"),
    ("[ff02::1]", "is a multicast address"),
]
SSRF_NAMES = {
    "localhost.test": (["127.0.0.1"], "resolves to a loopback address (127.0.0.1)"),
    "metadata.test": (["169.254.169.254"], "resolves to a link-local address"),
    "intranet.test": (["10.20.30.40"], "resolves to a private address (10.20.30.40)"),
    "ula.test": (["fd00::5"], "resolves to a private address (fd00::5)"),
    "mapped.test": (["::ffff:127.0.0.1"], "resolves to an IPv6 form of a loopback address"),
    "cgnat.test": (["100.100.100.100"], "resolves to a carrier-grade NAT address"),
    # One bad address spoils the host: a connection could pick any of them.
    "mixed.test": (["93.184.216.34", "10.0.0.1"], "resolves to a private address (10.0.0.1)"),
}


async def test_ssrf_matrix_refuses_every_address_without_connecting(
        monkeypatch, connection_attempts: list[str]) -> None:
    lookups = stub_dns(monkeypatch, {name: answer for name, (answer, _) in SSRF_NAMES.items()})
    fetcher = ImageFetcher(Settings(image_allow_private_urls=False))
    try:
        async with ConnectionCounter() as listener:
            cases = [(host, "image URL host ", words) for host, words in SSRF_HOSTS]
            cases += [(name, f"host {name} ", words) for name, (_, words) in SSRF_NAMES.items()]
            for host, start, words in cases:
                message = await fetch_error(fetcher, f"http://{host}:{listener.port}/a.png")
                assert message.startswith(start) and words in message, host
                assert message.endswith("image URLs must point to public hosts")
            assert listener.connections == 0
        assert connection_attempts == []
        assert sorted(set(lookups)) == sorted(SSRF_NAMES)
    finally:
        await fetcher.close()


async def test_a_redirect_to_a_private_address_is_refused(
        fetcher_factory, monkeypatch, connection_attempts: list[str]) -> None:
    stub_dns(monkeypatch, {"internal.test": ["10.1.2.3"]})
    async with ImageServer() as server:
        server.serve("/a.png", PNG)
        targets = {
            "/to-metadata": ("http://169.254.169.254/latest/meta-data/",
                             "redirect target host 169.254.169.254 is a link-local address"),
            "/to-private": ("http://10.0.0.1/a.png",
                            "redirect target host 10.0.0.1 is a private address"),
            "/to-loopback-spelling": (f"http://0x7f.0.0.2:{server.port}/a.png",
                                      "redirect target host 0x7f.0.0.2 is a loopback address"),
            "/to-ipv6-loopback": (f"http://[::1]:{server.port}/a.png",
                                  "redirect target host ::1 is a loopback address"),
            "/to-name": ("http://internal.test/a.png",
                         "host internal.test resolves to a private address (10.1.2.3)"),
            "/to-file": ("file:///etc/passwd", "redirect target has unsupported scheme 'file'"),
            "/to-gopher": ("gopher://127.0.0.1/", "redirect target has unsupported scheme"),
        }
        fetcher = fetcher_factory(LoopbackOnly(), image_allow_private_urls=False)
        assert await fetcher.fetch(server.url("/a.png"), budget()) == PNG  # the door is open
        for path, (location, words) in targets.items():
            server.redirect(path, location)
            assert (await fetch_error(fetcher, server.url(path))).startswith(words), path
    assert set(connection_attempts) == {"127.0.0.1"}  # only the test server was ever dialled


async def test_dns_rebinding_cannot_slip_past(monkeypatch, connection_attempts) -> None:
    # The first answer is public, every later one loopback. A guard that resolved once to check
    # and again to connect would dial 127.0.0.1; this one connects to what it checked.
    lookups = stub_dns(monkeypatch, {"rebind.test": [["93.184.216.34"], ["127.0.0.1"]]})
    fetcher = ImageFetcher(Settings(image_allow_private_urls=False))
    try:
        async with ConnectionCounter() as listener:
            message = await fetch_error(fetcher, f"http://rebind.test:{listener.port}/a.png")
            assert listener.connections == 0
    finally:
        await fetcher.close()
    assert message.startswith("could not connect to rebind.test")  # the test guard refused it
    assert connection_attempts == ["93.184.216.34"]
    assert lookups == ["rebind.test"]


async def test_the_opt_in_reaches_private_names(fetcher_factory, monkeypatch) -> None:
    stub_dns(monkeypatch, {"images.internal.test": ["127.0.0.1"]})
    async with ImageServer() as server:
        server.serve("/a.png", PNG)
        url = f"http://images.internal.test:{server.port}/a.png"
        assert await fetcher_factory().fetch(url, budget()) == PNG


@pytest.mark.parametrize(("url", "words"), [
    ("http:///a.png", "has no host"),
    ("http://exa mple.com/a.png", "is not a valid host name"),
    ("http://[::1/a.png", "is not a valid URL"),
])
async def test_malformed_urls_are_refused(fetcher_factory, url: str, words: str) -> None:
    assert words in await fetch_error(fetcher_factory(), url)
