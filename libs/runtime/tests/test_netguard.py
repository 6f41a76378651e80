"""The webhook URL guard: URL form, address classes, the private-network allowance."""

from __future__ import annotations

import ipaddress
import re

import pytest
from postdesk_runtime.netguard import (
    ResolutionError,
    UnsafeUrlError,
    address_class,
    parse_webhook_url,
    refusal,
    vet_url,
)

REFUSED_ALWAYS = {
    "0.0.0.0": "unspecified",  # noqa: S104 - an address to refuse, nothing binds it
    "::": "unspecified",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "ff02::1": "multicast",
    "169.254.169.254": "link-local",
    "fe80::1": "link-local",
    "240.0.0.1": "reserved",
    "::ffff:169.254.169.254": "link-local",
}
REFUSED_UNLESS_PRIVATE = {
    "127.0.0.1": "loopback",
    "127.10.0.5": "loopback",
    "::1": "loopback",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "192.168.1.1": "private",
    "fc00::1": "private",
    "fd12:3456::1": "private",
    "fec0::1": "site-local",
    "100.64.0.1": "shared (CGNAT)",
    "100.127.255.254": "shared (CGNAT)",
    "::ffff:127.0.0.1": "loopback",
    "::ffff:10.0.0.1": "private",
    "2002:7f00:1::1": "loopback",  # 6to4 of 127.0.0.1
    "2002:c0a8:101::1": "private",  # 6to4 of 192.168.1.1
    "64:ff9b::a00:1": "private",  # NAT64 of 10.0.0.1
}
PUBLIC = (
    "8.8.8.8",
    "93.184.215.14",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "2002:808:808::1",
    "64:ff9b::808:808",
)


@pytest.mark.parametrize(("address", "kind"), [*REFUSED_ALWAYS.items()])
def test_non_unicast_and_link_local_are_refused_even_when_private_is_allowed(
    address: str, kind: str
) -> None:
    """Unspecified, multicast, link-local (cloud metadata) and reserved addresses never pass."""
    ip = ipaddress.ip_address(address)
    assert address_class(ip) == kind
    assert refusal(ip, allow_private=True) == f"{ip} is a {kind} address"


@pytest.mark.parametrize(("address", "kind"), [*REFUSED_UNLESS_PRIVATE.items()])
def test_private_classes_pass_only_when_allowed(address: str, kind: str) -> None:
    """Loopback, private, unique-local, site-local and CGNAT addresses, also embedded in
    IPv6, are refused unless the tenant allows private targets."""
    ip = ipaddress.ip_address(address)
    assert address_class(ip) == kind
    assert refusal(ip) == f"{ip} is a {kind} address"
    assert refusal(ip, allow_private=True) is None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    """Globally routable addresses, also in IPv4-mapped, 6to4 and NAT64 form, pass."""
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://hooks.example.com/x", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("hooks.example.com/x", "http:// or https://"),
        ("https://user:pw@hooks.example.com/x", "user name or password"),
        ("https://user@hooks.example.com/x", "user name or password"),
        ("https:///x", "no host"),
        ("https://hooks.example.com:99999/x", "cannot be parsed"),
        ("https://hooks.example.com:0/x", "port 0"),
        ("https://hooks.example.com/a b", "spaces or control"),
        ("https://hooks.example.com/\r\nX-Injected: 1", "spaces or control"),
        ("https://bad_host!.example.com/", "not a valid host name"),
        ("https://[fe80::1%25eth0]/", "not a valid host name"),
        ("https://example.com/" + "a" * 2100, "longer than"),
    ],
)
def test_malformed_urls_are_refused(url: str, problem: str) -> None:
    """Only http(s) URLs naming a host, without credentials or stray characters, parse."""
    with pytest.raises(UnsafeUrlError, match=problem):
        parse_webhook_url(url)


def test_parsed_url_keeps_host_port_and_target() -> None:
    """The parse keeps what the request needs: the Host header and the path with its query."""
    parsed = parse_webhook_url("HTTPS://Hooks.Example.COM:8443/in/postdesk?key=1#frag")
    assert (parsed.scheme, parsed.host, parsed.port, parsed.target) == (
        "https",
        "hooks.example.com",
        8443,
        "/in/postdesk?key=1",
    )
    assert parsed.host_header == "hooks.example.com:8443"
    assert parsed.url_for(ipaddress.ip_address("2606:4700::1")) == (
        "https://[2606:4700::1]:8443/in/postdesk?key=1"
    )
    plain = parse_webhook_url("http://[2606:4700::1]")
    assert (plain.host, plain.port, plain.target, plain.host_header) == (
        "2606:4700::1",
        80,
        "/",
        "[2606:4700::1]",
    )


async def test_literal_addresses_are_vetted_without_dns() -> None:
    """A URL with a public IP literal passes; loopback ones pass only when allowed."""
    vetted = await vet_url("https://8.8.8.8/hook")
    assert vetted.addresses == (ipaddress.ip_address("8.8.8.8"),)
    with pytest.raises(UnsafeUrlError, match=re.escape("127.0.0.1 is a loopback address")):
        await vet_url("http://127.0.0.1:8080/hook")
    with pytest.raises(UnsafeUrlError, match="loopback"):
        await vet_url("http://[::ffff:7f00:1]/hook")
    allowed = await vet_url("http://127.0.0.1:8080/hook", allow_private=True)
    assert allowed.addresses == (ipaddress.ip_address("127.0.0.1"),)


async def test_numeric_host_forms_are_judged_by_what_they_resolve_to() -> None:
    """'2130706433' and '127.1' are loopback to the resolver, so they are refused."""
    for url in ("http://2130706433/hook", "http://127.1/hook"):
        with pytest.raises(UnsafeUrlError, match="loopback"):
            await vet_url(url)


async def test_localhost_resolves_to_loopback_and_is_refused() -> None:
    """A host name is resolved and every address it has must pass."""
    with pytest.raises(UnsafeUrlError, match=r"localhost is refused: .* loopback"):
        await vet_url("http://localhost:8080/hook")
    allowed = await vet_url("http://localhost:8080/hook", allow_private=True)
    assert ipaddress.ip_address("127.0.0.1") in allowed.addresses
    assert all(address.is_loopback for address in allowed.addresses)


async def test_unresolvable_host_is_a_resolution_error() -> None:
    """A name that does not resolve (the reserved .invalid TLD) is not a refusal."""
    with pytest.raises(ResolutionError, match="could not be resolved"):
        await vet_url("https://hooks.postdesk.invalid/x")
