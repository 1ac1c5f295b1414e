"""Outbound-target guard: keep user-supplied URLs away from internal networks (SSRF).

A URL is vetted the way the OS would reach it: its host goes through `getaddrinfo`, so
numeric spellings such as `2130706433` or `0x7f.1` resolve to the address they really
mean, and *every* returned address must be public or allowlisted. The caller then
connects to one of the checked addresses (see `Target.pinned_url`), so a DNS answer that
changes between the check and the connect cannot redirect the request.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.errors import ConnectorError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4, compatible)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(address: IPAddress) -> bool:
    """Whether `address` is a globally routable unicast address.

    `is_global` alone is not enough: Python counts multicast, IPv6 site-local and the
    reserved `::/8` block (which holds NAT64 and IPv4-compatible forms) as global. An IPv6
    address that embeds an IPv4 one is judged by the IPv4 address it reaches.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address in _IPV4_COMPATIBLE:
            return False
        inner = embedded_ipv4(address)
        if inner is not None:
            return is_public_address(inner)
        if address.is_site_local:
            return False
    return address.is_global and not (address.is_multicast or address.is_reserved)


def describe_address(address: IPAddress) -> str:
    """A short human label for why an address is not public, for error messages."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None and is_public_address(inner):
            return "a deprecated IPv4-compatible IPv6 address"
        if inner is not None:
            return f"an IPv6 form of {inner}, {describe_address(inner)}"
    checks = (
        ("is_loopback", "a loopback address"),
        ("is_unspecified", "the unspecified address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    )
    for attribute, label in checks:
        if getattr(address, attribute):
            return label
    return "not a public address"


def _parse_address(text: str) -> IPAddress:
    return ipaddress.ip_address(text.split("%", 1)[0])


def _normalize_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


@dataclass(frozen=True)
class Allowlist:
    """Hostnames and networks that may be reached even though they are not public."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> "Allowlist":
        """Read entries like `"localhost"`, `"127.0.0.1"`, `"10.0.0.0/8"` or `"[::1]"`."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            normalized = _normalize_host(entry)
            if not normalized:
                continue
            try:
                networks.append(ipaddress.ip_network(normalized, strict=False))
            except ValueError:
                hosts.add(normalized)
        return cls(frozenset(hosts), tuple(networks))

    def admits_host(self, host: str) -> bool:
        return _normalize_host(host) in self.hosts

    def admits_address(self, address: IPAddress) -> bool:
        candidates: list[IPAddress] = [address]
        if isinstance(address, ipaddress.IPv6Address):
            inner = embedded_ipv4(address)
            if inner is not None:
                candidates.append(inner)
        return any(
            candidate.version == network.version and candidate in network
            for candidate in candidates
            for network in self.networks
        )


@dataclass(frozen=True)
class Target:
    """A vetted URL and the addresses it may be connected to, in resolver order."""

    url: httpx.URL
    addresses: tuple[IPAddress, ...]

    @property
    def host(self) -> str:
        """The hostname as sent on the wire (IDNA-encoded), for `Host` and TLS SNI."""
        return self.url.raw_host.decode("ascii")

    def pinned_url(self, address: IPAddress) -> httpx.URL:
        """The same URL with its host replaced by one of the checked addresses."""
        return self.url.copy_with(host=str(address))

    def pinned_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Headers for a request sent to a pinned address.

        `Host` names the real host. Over TLS the connection is closed after the response:
        the pool keys connections by address, so a kept-alive connection verified for one
        hostname could otherwise be reused for another hostname on the same address.
        """
        pinned = dict(headers)
        if not any(name.lower() == "host" for name in pinned):
            pinned["Host"] = self.url.netloc.decode("ascii")
        if self.url.scheme == "https":
            pinned = {name: value for name, value in pinned.items() if name.lower() != "connection"}
            pinned["Connection"] = "close"
        return pinned

    def pinned_extensions(self) -> dict[str, Any]:
        """TLS is verified for the real hostname, not the address connected to."""
        return {"sni_hostname": self.host} if self.url.scheme == "https" else {}


def refused(message: str) -> ConnectorError:
    return ConnectorError(message, retryable=False, kind="TargetRefused")


def parse_url(url: str | httpx.URL) -> httpx.URL:
    """Parse with the same parser that will send the request, so the two cannot disagree."""
    if isinstance(url, httpx.URL):
        return url
    try:
        return httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise refused(f"refused an invalid URL: {exc}") from exc


class TargetGuard:
    """Vets outbound URLs against the public-address rule and an allowlist."""

    def __init__(self, allowlist: Iterable[str] = ()) -> None:
        self.allowlist = Allowlist.parse(allowlist)

    async def resolve(self, url: str | httpx.URL) -> Target:
        """Check `url` and return the addresses it may be connected to.

        Raises `ConnectorError(kind="TargetRefused", retryable=False)` for a refused
        target, and lets `OSError` (`socket.gaierror`) through when the host does not
        resolve, which the caller reports as a network error.
        """
        parsed = parse_url(url)
        scheme = parsed.scheme
        if scheme not in ALLOWED_SCHEMES:
            raise refused(f"refused {scheme or 'a schemeless'} URL: only http and https")
        if not parsed.raw_host:
            raise refused("refused a URL without a host")
        host = parsed.raw_host.decode("ascii")
        addresses = await self._lookup(host, parsed.port or _DEFAULT_PORTS[scheme])
        if not self.allowlist.admits_host(host):
            self._check_addresses(host, addresses)
        return Target(parsed, addresses)

    def _check_addresses(self, host: str, addresses: Iterable[IPAddress]) -> None:
        for address in addresses:
            if not is_public_address(address) and not self.allowlist.admits_address(address):
                raise refused(
                    f"refused {host}: it resolves to {address}, {describe_address(address)}, "
                    "which is not in the allowlist"
                )

    @staticmethod
    async def _lookup(host: str, port: int) -> tuple[IPAddress, ...]:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = dict.fromkeys(_parse_address(str(info[4][0])) for info in infos)
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, f"no address for {host}")
        return tuple(addresses)


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that connects only to vetted addresses, for connector clients.

    Each request's host is resolved and checked by `TargetGuard`; the request then goes to
    one of the checked addresses (in resolver order), so DNS cannot change the answer
    between the check and the connect. A refused target raises `ConnectorError`
    (kind `TargetRefused`); a host that does not resolve raises `httpx.ConnectError`.
    """

    def __init__(
        self, allowlist: Iterable[str] = (), inner: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._guard = TargetGuard(allowlist)
        self._inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            target = await self._guard.resolve(request.url)
        except OSError as error:
            raise httpx.ConnectError(f"cannot resolve {request.url.host}: {error}") from error
        last_error: httpx.ConnectError | None = None
        for address in target.addresses:
            pinned = httpx.Request(
                request.method,
                target.pinned_url(address),
                headers=target.pinned_headers(request.headers),
                stream=request.stream,
                extensions={**request.extensions, **target.pinned_extensions()},
            )
            try:
                return await self._inner.handle_async_request(pinned)
            except httpx.ConnectError as error:
                last_error = error
        assert last_error is not None
        raise last_error

    async def aclose(self) -> None:
        await self._inner.aclose()
