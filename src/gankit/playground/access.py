"""Who may talk to the playground server: a ``Host`` allow-list and a secret token.

A page of another web site can make its requests carry ``Origin`` and ``Host`` headers that agree with each other
(DNS rebinding: its name first resolves to its own server, then to 127.0.0.1), so an origin check alone does not keep
it out. The server therefore accepts only ``Host`` values that name this server — the loopback names on a loopback
bind, the bound address and the names given with ``--allow-host`` otherwise — with the bound port, on every route;
and the WebSocket and the upload need the token that is part of the URL the server prints (random per start,
compared in constant time).
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import socket
from dataclasses import dataclass, field

from ..errors import GankitError

log = logging.getLogger(__name__)

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"", "0.0.0.0", "::"})
# distinct refused Host values logged; past this, refusals are silent (they still get 403)
MAX_LOGGED = 64


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback one (127.0.0.0/8, ::1)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError):
        return False
    return bool(infos) and all(
        ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos
    )


def split_host(value: str) -> tuple[str, int | None]:
    """``Host`` header → (name in lower case without IPv6 brackets, port or None when absent or malformed)."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ("80" if not rest else "")
    elif value.count(":") == 1:
        name, port = value.split(":")
    else:
        name, port = value, "80" if ":" not in value else ""
    return name, int(port) if port.isdigit() else None


@dataclass
class Access:
    """The accepted host names, the bound port (set once the socket is bound) and the token (None: not required)."""

    names: frozenset[str]
    token: str | None
    port: int = 0
    logged: set[str] = field(default_factory=set)

    def host_refusal(self, host: str) -> str | None:
        """Why a request with this ``Host`` header is refused, or None when it names this server."""
        name, port = split_host(host)
        if name in self.names and port == self.port:
            return None
        reason = f"Host {host[:80]!r} does not name this server (accepted: {self.accepted()})"
        if host not in self.logged and len(self.logged) < MAX_LOGGED:
            self.logged.add(host)
            log.warning("playground: refused a request: %s", reason)
        return reason

    def accepted(self) -> str:
        return ", ".join(
            f"[{n}]:{self.port}" if ":" in n else f"{n}:{self.port}" for n in sorted(self.names)
        )

    def token_ok(self, given: str | None) -> bool:
        """Whether ``given`` is the token (always true when none is required); constant time in the token."""
        if self.token is None:
            return True
        return secrets.compare_digest((given or "").encode(), self.token.encode())


def access_for(host: str, allow_hosts: tuple[str, ...] = (), token: bool = True) -> Access:
    """The rules for a server bound to ``host``: loopback names when the bind reaches the loopback, the bound address
    unless it is a wildcard, and ``allow_hosts``. ``token=False`` is refused unless the bind is loopback-only."""
    loopback = host not in WILDCARDS and is_loopback(host)
    if not token and not loopback:
        raise GankitError(
            f"--no-token needs a loopback --host; on {host or 'all interfaces'} the token is mandatory"
        )
    names = {split_host(n)[0] for n in allow_hosts}
    if loopback or host in WILDCARDS:
        names |= LOOPBACK_NAMES
    if host not in WILDCARDS:
        names.add(split_host(host)[0])
    return Access(frozenset(names), secrets.token_urlsafe(24) if token else None)
