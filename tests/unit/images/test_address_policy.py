"""The SSRF guard's address rules: every spelling of a host is read as the address it means."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from sglang_worker.images.address_policy import AddressPolicy, parse_ip_host

REFUSE = AddressPolicy()


@pytest.mark.parametrize(("host", "address"), [
    ("127.0.0.1", "127.0.0.1"),
    ("2130706433", "127.0.0.1"),  # one 32-bit decimal number
    ("0x7f.1", "127.0.0.1"),  # hex, and a short form whose last part fills three bytes
    ("017700000001", "127.0.0.1"),  # octal
    ("0177.0.0.1", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"),
    ("0xA9.0xFE.0xA9.0xFE", "169.254.169.254"),
    ("127.0.0.1.", "127.0.0.1"),  # trailing dot
    ("[::1]", "::1"),
    ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
    ("fe80::1%eth0", "fe80::1"),
    ("0", "0.0.0.0"),
])
def test_numeric_hosts_are_read_as_the_address_they_mean(host: str, address: str) -> None:
    assert parse_ip_host(host) == ip_address(address)


@pytest.mark.parametrize("host", ["example.com", "localhost", "1e100.net", "deadbeef",
                                  "0x.1", "1..2", "127.0.0.1 extra", "", "xn--bcher-kva.de"])
def test_names_are_not_addresses(host: str) -> None:
    assert parse_ip_host(host) is None


@pytest.mark.parametrize(("address", "reason"), [
    ("127.0.0.1", "a loopback address"),
    ("127.255.255.254", "a loopback address"),
    ("::1", "a loopback address"),
    ("10.1.2.3", "a private address"),
    ("172.16.0.1", "a private address"),
    ("172.31.255.255", "a private address"),
    ("192.168.1.1", "a private address"),
    ("fd12:3456::1", "a private address"),  # IPv6 unique-local
    ("fc00::1", "a private address"),
    ("169.254.169.254", "a link-local address"),  # the cloud metadata service
    ("fe80::1", "a link-local address"),
    ("100.64.0.1", "a carrier-grade NAT address"),
    ("100.127.255.254", "a carrier-grade NAT address"),
    ("224.0.0.1", "a multicast address"),
    ("239.255.255.250", "a multicast address"),
    ("ff02::1", "a multicast address"),
    ("0.0.0.0", "an unspecified address"),
    ("::", "an unspecified address"),
    ("240.0.0.1", "a reserved address"),
    ("255.255.255.255", "a reserved address"),
    ("192.0.2.10", "a reserved address"),  # documentation
    ("198.18.0.1", "a reserved address"),  # benchmarking
    ("2001:db8::1", "a reserved address"),
    ("::ffff:127.0.0.1", "an IPv6 form of a loopback address"),  # IPv4-mapped
    ("::ffff:169.254.169.254", "an IPv6 form of a link-local address"),
    ("::127.0.0.1", "an IPv6 form of a loopback address"),  # IPv4-compatible
    ("::10.0.0.1", "an IPv6 form of a private address"),
    ("64:ff9b::7f00:1", "an IPv6 form of a loopback address"),  # NAT64
    ("64:ff9b::a9fe:a9fe", "an IPv6 form of a link-local address"),
    ("2002:7f00:1::", "an IPv6 form of a loopback address"),  # 6to4
    ("2002:c0a8:101::1", "an IPv6 form of a private address"),
])
def test_non_public_addresses_are_refused_with_their_kind(address: str, reason: str) -> None:
    assert REFUSE.refusal(ip_address(address)) == reason


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "1.1.1.1", "100.63.255.255",
                                     "100.128.0.1", "172.32.0.1", "2606:4700:4700::1111",
                                     "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert REFUSE.refusal(ip_address(address)) is None


def test_the_opt_in_allows_everything() -> None:
    allow = AddressPolicy(allow_private=True)
    for address in ("127.0.0.1", "10.0.0.1", "169.254.169.254", "::1", "fd00::1"):
        assert allow.refusal(ip_address(address)) is None
