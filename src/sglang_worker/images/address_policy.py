"""Which network addresses an image URL may reach: the SSRF guard's rules, pure.

Contract:
- ``parse_ip_host(host)`` reads a URL host as an IP address the way the operating system would
  connect to it, or returns None for a DNS name. Besides canonical IPv4 and IPv6 (brackets and
  ``%zone`` allowed) it understands the legacy IPv4 spellings ``inet_aton`` accepts: one to four
  parts in decimal, octal (leading ``0``) or hex (``0x``), so ``2130706433``, ``0x7f.1``,
  ``017700000001`` and ``127.1`` all mean 127.0.0.1.
- ``AddressPolicy.refusal(ip)`` returns why an address is refused, e.g. "a loopback address",
  or None when it may be connected to. Refused: unspecified, loopback, private (RFC 1918 and
  IPv6 unique-local), link-local (169.254/16 with the cloud metadata service, fe80::/10),
  carrier-grade NAT (100.64/10), multicast, and every other reserved or non-global range.
- An IPv6 address that carries an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``,
  IPv4-compatible ``::a.b.c.d``, 6to4 ``2002::/16``, NAT64 ``64:ff9b::/96``) is judged by the
  IPv4 address it carries, so no wrapping sneaks a private address past.
- ``AddressPolicy(allow_private=True)`` refuses nothing: the explicit opt-in for local testing.
"""

from __future__ import annotations

import ipaddress
import socket
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

IPAddress = IPv4Address | IPv6Address

# The ranges named in refusals. Anything else that ``ipaddress`` does not call global (the
# documentation, benchmarking and IETF ranges ...) is refused as "a reserved address".
_NAMED_RANGES: tuple[tuple[IPv4Network | IPv6Network, str], ...] = tuple(
    (ipaddress.ip_network(network), reason)
    for network, reason in (
        ("0.0.0.0/8", "an unspecified address"),
        ("127.0.0.0/8", "a loopback address"),
        ("10.0.0.0/8", "a private address"),
        ("172.16.0.0/12", "a private address"),
        ("192.168.0.0/16", "a private address"),
        ("169.254.0.0/16", "a link-local address"),
        ("100.64.0.0/10", "a carrier-grade NAT address"),
        ("224.0.0.0/4", "a multicast address"),
        ("240.0.0.0/4", "a reserved address"),
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address"),
        ("fc00::/7", "a private address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a private address"),
        ("ff00::/8", "a multicast address"),
    )
)
_IPV4_COMPATIBLE = IPv6Network("::/96")
_NAT64 = IPv6Network("64:ff9b::/96")


def parse_ip_host(host: str) -> IPAddress | None:
    """The IP address a URL host denotes, or None if the host is a DNS name."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    host = host.removesuffix(".")
    # inet_aton is the parser the C library applies to numeric hosts, so using it means the
    # guard reads "0x7f.1" exactly as a connect() would. Its laxer inputs (spaces, empty parts)
    # are kept out by allowing only the characters a numeric host can have.
    if not host or not all(c in "0123456789abcdefxABCDEFX." for c in host):
        return None
    if not host[0].isdigit() or ".." in host:
        return None
    try:
        return IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def embedded_ipv4(ip: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address carries, for the forms that route to it."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


class AddressPolicy:
    """Decides which resolved addresses the image fetcher may connect to."""

    def __init__(self, *, allow_private: bool = False) -> None:
        self.allow_private = allow_private

    def refusal(self, ip: IPAddress) -> str | None:
        """Why ``ip`` may not be connected to (e.g. "a private address"), or None."""
        if self.allow_private:
            return None
        if isinstance(ip, IPv6Address):
            inner = embedded_ipv4(ip)
            if inner is not None:
                reason = self.refusal(inner)
                return f"an IPv6 form of {reason}" if reason else None
        for network, reason in _NAMED_RANGES:
            if ip.version == network.version and ip in network:
                return reason
        return None if ip.is_global else "a reserved address"
