"""Vetting the URLs postdesk makes requests to on a tenant's behalf (webhooks), against SSRF.

A URL is usable when it is http(s), names a host and carries no credentials,
and every address its host resolves to is globally routable. Refused
addresses: unspecified, multicast, loopback, link-local (this includes cloud
metadata at 169.254.169.254), IPv6 site-local, private and unique-local,
shared (CGNAT 100.64.0.0/10), reserved and anything else not global; an IPv6
address that embeds an IPv4 one (IPv4-mapped, 6to4, Teredo, NAT64
64:ff9b::/96) is judged by the embedded address as well.

`allow_private=True` (a tenant whose receivers live on its own network) admits
loopback, private, unique-local, site-local and shared addresses, never
link-local, multicast, unspecified or reserved ones.

The caller connects to one of the returned addresses rather than resolving
the host again, so a DNS answer that changes between the check and the
request (DNS rebinding) cannot redirect it.

Errors: `NetguardError` is the base; `UnsafeUrlError` is a refusal that the
same URL will always get (bad URL, refused address); `ResolutionError` is a
host that did not resolve now and may later.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_CHARS: Final = 2048
SCHEMES: Final = {"http": 80, "https": 443}
_SHARED_ADDRESS_SPACE: Final = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
_HOST_NAME = re.compile(
    r"^(?=.{1,253}\.?$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_-]+\.?$"
)
# Address classes a tenant may allow for its own network's receivers.
PRIVATE_CLASSES: Final = frozenset({"loopback", "private", "site-local", "shared (CGNAT)"})


class NetguardError(Exception):
    """A URL postdesk will not request now; str(error) says why, for the admin."""


class UnsafeUrlError(NetguardError, ValueError):
    """The URL is malformed or one of its host's addresses is refused (permanent)."""


class ResolutionError(NetguardError):
    """The URL's host did not resolve (may be temporary)."""


@dataclass(frozen=True)
class WebhookUrl:
    """A syntactically acceptable URL: scheme, ASCII host name or IP literal, port, and the
    path with its query (never empty)."""

    scheme: str
    host: str
    port: int
    target: str

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == SCHEMES[self.scheme] else f"{host}:{self.port}"

    def url_for(self, address: IPAddress) -> str:
        """This URL with `address` in place of the host name, to connect there and only there."""
        host = f"[{address}]" if address.version == 6 else str(address)
        return f"{self.scheme}://{host}:{self.port}{self.target}"


@dataclass(frozen=True)
class VettedUrl:
    url: WebhookUrl
    addresses: tuple[IPAddress, ...]


def parse_webhook_url(url: str) -> WebhookUrl:
    """Check the form of `url` (no DNS); raise UnsafeUrlError saying what is wrong."""
    if len(url) > MAX_URL_CHARS:
        raise UnsafeUrlError(f"the URL is longer than {MAX_URL_CHARS} characters")
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in url):
        raise UnsafeUrlError("the URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeUrlError(f"the URL cannot be parsed: {error}") from error
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UnsafeUrlError("the URL must start with http:// or https://")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrlError("the URL must not contain a user name or password")
    if not parts.hostname:
        raise UnsafeUrlError("the URL has no host")
    if port == 0:
        raise UnsafeUrlError("port 0 is not a port")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return WebhookUrl(scheme, _ascii_host(parts.hostname), port or SCHEMES[scheme], target)


def _ascii_host(hostname: str) -> str:
    if "%" in hostname:
        raise UnsafeUrlError(f"host {hostname!r} is not a valid host name (a scoped address)")
    try:
        return str(ipaddress.ip_address(hostname))
    except ValueError:
        pass
    try:
        ascii_host = hostname.encode("idna").decode("ascii").lower()
    except UnicodeError as error:
        raise UnsafeUrlError(f"host {hostname!r} is not a valid host name") from error
    if not _HOST_NAME.match(ascii_host):
        raise UnsafeUrlError(f"host {hostname!r} is not a valid host name")
    return ascii_host


def address_class(address: IPAddress) -> str | None:
    """Why `address` is not globally routable (its class), or None if it is."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        inner = address_class(embedded)
        # Mapped and NAT64 addresses are the IPv4 one in another form; 6to4 and Teredo
        # addresses are also judged as themselves.
        if inner is not None or _is_translation(address):
            return inner
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "site-local"
    if address in _SHARED_ADDRESS_SPACE:
        return "shared (CGNAT)"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    return None if address.is_global else "not globally routable"


def _is_translation(address: IPAddress) -> bool:
    return isinstance(address, ipaddress.IPv6Address) and (
        address.ipv4_mapped is not None or address in _NAT64
    )


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: IPAddress, *, allow_private: bool = False) -> str | None:
    """Why postdesk will not connect to `address`, or None if it may."""
    kind = address_class(address)
    if kind is None or (allow_private and kind in PRIVATE_CLASSES):
        return None
    return f"{address} is a {kind} address"


async def vet_url(url: str, *, allow_private: bool = False) -> VettedUrl:
    """Parse `url`, resolve its host and return the addresses to connect to.

    Raises UnsafeUrlError if the URL is malformed or *any* address is refused
    (a host with one public and one private address is refused), and
    ResolutionError if the host does not resolve."""
    parsed = parse_webhook_url(url)
    addresses = await _resolve(parsed.host, parsed.port)
    for address in addresses:
        if (reason := refusal(address, allow_private=allow_private)) is not None:
            raise UnsafeUrlError(f"{parsed.host} is refused: {reason}")
    return VettedUrl(parsed, addresses)


async def _resolve(host: str, port: int) -> tuple[IPAddress, ...]:
    try:
        return (ipaddress.ip_address(host),)
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (socket.gaierror, UnicodeError) as error:
        raise ResolutionError(f"{host} could not be resolved: {error}") from error
    addresses: list[IPAddress] = []
    for family, *_, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        # An IPv6 sockaddr may carry a scope id ("fe80::1%eth0"); it stays in and is refused.
        address = ipaddress.ip_address(str(sockaddr[0]))
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise ResolutionError(f"{host} has no IPv4 or IPv6 address")
    return tuple(addresses)
