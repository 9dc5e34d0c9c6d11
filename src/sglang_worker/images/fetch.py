"""Download image URLs without letting a URL reach what it should not (SSRF) or stall the worker.

Contract:
- One aiohttp session per fetcher, created lazily inside the running event loop (the RunPod SDK
  owns the loop) and shared by every request until ``close()``. It sends no cookies and ignores
  proxy variables.
- Before each hop (the URL, then every redirect target) the URL must be http(s) with a host; the
  host must be in ``IMAGE_ALLOWED_DOMAINS`` when that is set (a domain allows its subdomains);
  a host that is an IP address, in any spelling (``2130706433``, ``0x7f.1``, ``[::ffff:...]``),
  must pass the ``AddressPolicy``.
- A DNS name is resolved by the connector's resolver, which refuses the host if ANY address it
  resolves to is refused, and hands aiohttp only the addresses it checked. The connection goes
  to exactly those addresses, so a DNS answer that changes between check and connect (DNS
  rebinding) cannot slip past.
- Redirects are followed by hand, at most ``IMAGE_MAX_REDIRECTS``. Anything but 200 is refused
  with its status ("URL returned HTTP 404").
- Deadlines: ``IMAGE_FETCH_CONNECT_TIMEOUT_S`` per connection, ``IMAGE_FETCH_TIMEOUT_S`` for the
  whole download, redirects included, so a server that trickles bytes is cut off.
- The body is streamed into the request's ``ImageBudget``: a Content-Length over a limit is
  refused before reading, and a body that passes one is abandoned at the chunk that crosses it.
- The declared Content-Type is ignored: the bytes are sniffed afterwards, the same as for data
  URLs. Object stores and CDNs often serve images as ``application/octet-stream``, and an HTML
  error page served as ``image/png`` is still refused, as "detected HTML".
"""

from __future__ import annotations

import asyncio
import re
import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from sglang_worker.errors import media_error
from sglang_worker.images.address_policy import AddressPolicy, parse_ip_host
from sglang_worker.images.budget import ImageBudget
from sglang_worker.loop_session import LoopSession
from sglang_worker.settings import Settings

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK_BYTES = 64 * 1024
_HOSTNAME = re.compile(r"[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?\.?")
_HEADERS = {"User-Agent": "sglang-worker-image-fetch/1", "Accept": "image/*"}


class _VettedResolver(AbstractResolver):
    """Resolves with the system resolver and returns only addresses the policy allows."""

    def __init__(self, policy: AddressPolicy, noun: str) -> None:
        self._policy = policy
        self._noun = noun
        self._system = aiohttp.ThreadedResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        answers = await self._system.resolve(host, port, family)
        for answer in answers:
            ip = parse_ip_host(answer["host"])
            reason = "an unparsable address" if ip is None else self._policy.refusal(ip)
            if reason:
                raise media_error(self._noun, f"host {host} resolves to {reason} "
                                  f"({answer['host']}); {self._noun} URLs must point to public "
                                  "hosts")
        return answers

    async def close(self) -> None:
        await self._system.close()


class ImageFetcher:
    def __init__(self, settings: Settings, policy: AddressPolicy | None = None,
                 noun: str = "image") -> None:
        self._noun = noun  # "video", "audio": the same guard, worded for that medium
        self._policy = policy or AddressPolicy(allow_private=settings.image_allow_private_urls)
        self._allowed_domains = tuple(
            d.strip().lower().strip(".") for d in settings.image_allowed_domains.split(",")
            if d.strip()
        )
        self._max_redirects = settings.image_max_redirects
        self._total_s = {"image": settings.image_fetch_timeout_s,
                         "video": settings.video_fetch_timeout_s,
                         "audio": settings.audio_fetch_timeout_s}[noun]
        self._connect_s = settings.image_fetch_connect_timeout_s
        self._session = LoopSession(self._new_session)

    async def close(self) -> None:
        await self._session.close()

    async def fetch(self, url: str, budget: ImageBudget) -> bytes:
        """The body of ``url`` after the checks in the module contract."""
        try:
            async with asyncio.timeout(self._total_s):
                return await self._follow(url, budget)
        except TimeoutError:
            raise media_error(self._noun, f"{self._noun} URL did not finish downloading within "
                              f"{self._total_s:g} s ({self._noun.upper()}_FETCH_TIMEOUT_S)"
                              ) from None

    def _new_session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=_VettedResolver(self._policy, self._noun)),
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={**_HEADERS, "Accept": f"{self._noun}/*"},
            # sock_connect rather than connect: waiting for a free pooled connection is not the
            # server's fault, and the total deadline bounds it anyway.
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._connect_s),
            trust_env=False,
        )

    async def _follow(self, url: str, budget: ImageBudget) -> bytes:
        session = self._session.get()
        for hop in range(self._max_redirects + 1):
            host = self._check_url(url, redirected=hop > 0)
            try:
                async with session.get(url, allow_redirects=False) as response:
                    if response.status in _REDIRECT_STATUSES:
                        url = _redirect_target(response, self._noun)
                        continue
                    if response.status != 200:
                        raise media_error(self._noun, f"URL returned HTTP {response.status} "
                                         f"{response.reason or ''}".rstrip())
                    return await _read_body(response, budget)
            except aiohttp.ServerTimeoutError:
                raise media_error(self._noun, f"could not connect to {host} within "
                                  f"{self._connect_s:g} s (IMAGE_FETCH_CONNECT_TIMEOUT_S)"
                                  ) from None
            except aiohttp.ClientConnectorError as exc:
                if isinstance(exc.os_error, socket.gaierror):
                    raise media_error(self._noun, f"could not resolve host {host}") from None
                raise media_error(self._noun, f"could not connect to {host}: "
                                 f"{exc.os_error.strerror or exc.os_error}") from None
            except aiohttp.ClientError as exc:
                raise media_error(self._noun, f"{self._noun} download from {host} failed: "
                                 f"{type(exc).__name__} {exc}".rstrip()) from None
        raise media_error(self._noun, f"{self._noun} URL redirected more than "
                          f"{self._max_redirects} times (IMAGE_MAX_REDIRECTS)")

    def _check_url(self, url: str, *, redirected: bool) -> str:
        """Refuse a URL the fetcher must not request; return its host."""
        what = "redirect target" if redirected else f"{self._noun} URL"
        try:
            parsed = URL(url)
        except ValueError:
            raise media_error(self._noun, f"{what} is not a valid URL") from None
        if parsed.scheme not in ("http", "https"):
            raise media_error(self._noun, f"{what} has unsupported scheme '{parsed.scheme}' "
                             "(only http and https are fetched)")
        host = (parsed.raw_host or "").lower()
        if not host:
            raise media_error(self._noun, f"{what} has no host")
        if self._allowed_domains and not self._domain_allowed(host):
            raise media_error(self._noun, f"{what} host {host} is not in IMAGE_ALLOWED_DOMAINS")
        ip = parse_ip_host(host)
        if ip is None:
            if not _HOSTNAME.fullmatch(host):
                raise media_error(self._noun, f"{what} host '{host}' is not a valid host name")
            return host
        reason = self._policy.refusal(ip)
        if reason:
            meaning = "" if str(ip) == host.strip("[]") else f" ({ip})"
            raise media_error(self._noun, f"{what} host {host} is {reason}{meaning}; "
                              f"{self._noun} URLs must point to public hosts")
        return host

    def _domain_allowed(self, host: str) -> bool:
        host = host.rstrip(".")
        return any(host == d or host.endswith("." + d) for d in self._allowed_domains)


def _redirect_target(response: aiohttp.ClientResponse, noun: str) -> str:
    location = response.headers.get("Location")
    if not location:
        raise media_error(noun, f"URL returned a redirect (HTTP {response.status}) with no "
                          "Location")
    try:
        return str(response.url.join(URL(location)))
    except ValueError:
        raise media_error(noun, "redirect target is not a valid URL") from None


async def _read_body(response: aiohttp.ClientResponse, budget: ImageBudget) -> bytes:
    if response.content_length is not None:
        budget.check_size(response.content_length)
    chunks: list[bytes] = []
    received = 0
    async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
        received += len(chunk)
        budget.take(received, len(chunk))
        chunks.append(chunk)
    return b"".join(chunks)
