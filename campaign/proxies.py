"""Which client address a request has: the socket's, or the one a trusted proxy forwarded.

Rate limits (signatures, staff sign-ins) count per client address, so the address must be
right both ways. Behind a proxy without PROXY_FIX_X_FOR every client shares the proxy's
address and one client's failures use up everyone's limit; with it on, a client that
reaches the app directly must not pick its own address with a forged X-Forwarded-For.
X-Forwarded-* headers are therefore honoured only from TRUSTED_PROXIES, and dropped from
every other request.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Callable, Iterable

from werkzeug.middleware.proxy_fix import ProxyFix

from campaign.config import ConfigurationError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Where a reverse proxy of our own sits: the same host, or a private network (a docker
# network, a VPC). Clients on the internet never come from these.
DEFAULT_TRUSTED_PROXIES = "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"

FORWARDED_KEYS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
                  "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PREFIX", "HTTP_FORWARDED")

log = logging.getLogger(__name__)


class ProxySettingError(ConfigurationError):
    pass


def proxy_hops(value: object) -> int:
    """PROXY_FIX_X_FOR as a number of proxies: a whole number, 0 or more."""
    text = str(value).strip()
    if not text.isdigit():
        raise ProxySettingError(
            f"PROXY_FIX_X_FOR={value!r} must be the number of reverse proxies in front of "
            "the app: 0 when clients connect straight to it, 1 behind one proxy (nginx)")
    return int(text)


def trusted_networks(value: str | Iterable[str]) -> tuple[Network, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    networks = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ProxySettingError(
                f"TRUSTED_PROXIES: {item!r} is not an address or network (e.g. 10.0.0.0/8)"
            ) from None
    return tuple(networks)


def trusts_everyone(networks: tuple[Network, ...]) -> bool:
    return any(network.prefixlen == 0 for network in networks)


def check_proxy_settings(config: dict) -> tuple[int, tuple[Network, ...]]:
    """The checked (PROXY_FIX_X_FOR, TRUSTED_PROXIES) of an app's config.

    In production, trusting X-Forwarded-For from any address is refused: anyone could
    then choose the address the limits see, and a flood of signatures would pass.
    """
    hops = proxy_hops(config.get("PROXY_FIX_X_FOR", 0))
    networks = trusted_networks(config.get("TRUSTED_PROXIES") or DEFAULT_TRUSTED_PROXIES)
    if hops and config.get("ENV_NAME") == "production" and trusts_everyone(networks):
        raise ProxySettingError(
            "TRUSTED_PROXIES trusts every address while PROXY_FIX_X_FOR is on: any client "
            "could forge X-Forwarded-For and escape the rate limits. Name your proxies' "
            "addresses or networks instead")
    return hops, networks


class TrustedProxies:
    """WSGI middleware: werkzeug's ProxyFix for requests from a trusted proxy; for every
    other request the X-Forwarded-* headers are removed, so nothing downstream reads them.

    With `hops` 0 the headers are never honoured, and the first request that a trusted
    proxy forwarded logs a warning that the setting is missing.
    """

    def __init__(self, app: Callable, hops: int, networks: tuple[Network, ...]):
        self.app = app
        self.hops = hops
        self.networks = networks
        self.fixed = ProxyFix(app, x_for=hops, x_proto=1, x_host=1) if hops else None
        self._warned = False
        # Parsing and matching an address costs ~11 us (timeit), 0.2 us once cached; behind
        # a proxy every request comes from one of a few addresses.
        self.is_trusted = functools.lru_cache(maxsize=1024)(self._is_trusted)

    def _is_trusted(self, address: str | None) -> bool:
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        forwarded = "HTTP_X_FORWARDED_FOR" in environ
        if self.fixed is not None and self.is_trusted(environ.get("REMOTE_ADDR")):
            return self.fixed(environ, start_response)
        if forwarded and not self._warned and self.is_trusted(environ.get("REMOTE_ADDR")):
            self._warned = True
            log.warning("A proxy forwards requests (X-Forwarded-For from a trusted proxy "
                        "address) but PROXY_FIX_X_FOR=0: every client shares the proxy's "
                        "address and rate limits. Set PROXY_FIX_X_FOR=1 behind one proxy.")
        for key in FORWARDED_KEYS:
            environ.pop(key, None)
        return self.app(environ, start_response)
