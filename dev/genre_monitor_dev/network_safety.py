"""The node's network fence: Pods and Services stay on a bridge of our own.

This machine is watched for traffic to outside addresses, so the node's
network is built to have no way out, and every piece is removed on stop:

- the pod bridge carries the Pod CIDR and the node's address, nothing else;
- Pods get routes to the Pod and Service CIDRs only (see ``node.cni_config``):
  no default route, so a Pod connecting outward fails in its own routing;
- the bridge plugin never masquerades (``ipMasq: false``);
- blackhole routes for the Service CIDR and the whole cluster CIDR: a ClusterIP
  kube-proxy did not translate, or a Pod address not on the bridge, goes
  nowhere instead of following the host's default route;
- forwarding is switched on for the bridge alone
  (``net.ipv4.conf.<bridge>.forwarding``), never host-wide (``ip_forward``
  stays as it was): a packet entering by another interface is never routed;
- a guard chain, first in ``filter FORWARD`` and in ``mangle FORWARD``, drops
  anything entering from the bridge and leaving by another interface (and the
  reverse). mangle runs before filter, so no ACCEPT that kube-proxy prepends
  to filter FORWARD can pass a Pod packet outward.

Checks are made by inspection (``ip route get``, the rule listings), never by
sending a packet to an outside address.
"""

from __future__ import annotations

import contextlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

GUARD_CHAIN = "GM-NODE-GUARD"
GUARD_TABLES = ("filter", "mangle")
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")


def interface_forwarding(interface: str) -> Path:
    return Path(f"/proc/sys/net/ipv4/conf/{interface}/forwarding")


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def iptables(table: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    # -w: wait for the xtables lock kube-proxy may hold.
    return subprocess.run(
        ["iptables", "-w", "5", "-t", table, *args], capture_output=True, text=True, check=check
    )


@dataclass
class Fence:
    bridge: str
    gateway_cidr: str  # the node's address on the bridge, e.g. 10.244.0.1/24
    cluster_cidr: str  # every Pod address, e.g. 10.244.0.0/16
    service_cidr: str
    # The host-wide switch as found: the node never changes it (checked by the tests).
    host_ip_forward: str = ""

    @property
    def blackholes(self) -> tuple[str, ...]:
        return (self.cluster_cidr, self.service_cidr)

    def refuse_if_taken(self) -> None:
        """Fail, changing nothing, when the bridge exists (down() would remove another's)."""
        if ip("link", "show", self.bridge, check=False).returncode == 0:
            raise RuntimeError(
                f"interface {self.bridge} already exists: another node is running "
                "or a previous one was not stopped (ip link delete it)"
            )

    def up(self) -> None:
        """Create the bridge, the blackhole routes and the guards; forwarding on the bridge last."""
        self.refuse_if_taken()
        self.host_ip_forward = IP_FORWARD.read_text().strip()
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", self.gateway_cidr, "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for cidr in self.blackholes:
            ip("route", "add", "blackhole", cidr)
        for table in GUARD_TABLES:
            iptables(table, "-N", GUARD_CHAIN)
            iptables(table, "-A", GUARD_CHAIN, "-i", self.bridge, "!", "-o", self.bridge,
                     "-j", "DROP")
            iptables(table, "-A", GUARD_CHAIN, "!", "-i", self.bridge, "-o", self.bridge,
                     "-j", "DROP")
            iptables(table, "-I", "FORWARD", "1", "-j", GUARD_CHAIN)
        # Pod-to-Service traffic is routed through the node (DNAT, then out the
        # same bridge), so packets entering by the bridge must be forwarded; the
        # guards above confine them to it.
        interface_forwarding(self.bridge).write_text("1\n")

    def down(self) -> None:
        """Undo up(), each step on its own so one failure does not leave the rest.

        The bridge's forwarding switch goes with the bridge. The host-wide
        switch is written back only if something (not the fence) changed it.
        """
        if self.host_ip_forward and IP_FORWARD.read_text().strip() != self.host_ip_forward:
            IP_FORWARD.write_text(f"{self.host_ip_forward}\n")
        for cidr in self.blackholes:
            with contextlib.suppress(subprocess.CalledProcessError):
                ip("route", "del", "blackhole", cidr)
        ip("link", "delete", self.bridge, check=False)
        for table in GUARD_TABLES:
            while iptables(table, "-D", "FORWARD", "-j", GUARD_CHAIN, check=False).returncode == 0:
                pass
            iptables(table, "-F", GUARD_CHAIN, check=False)
            iptables(table, "-X", GUARD_CHAIN, check=False)


# ------------------------------------------------------------------ inspection


def route_get(destination: str, netns_pid: int | None = None) -> str:
    """`ip route get` (optionally inside a process's network namespace): a lookup, no packet."""
    argv = ["ip", "route", "get", destination]
    if netns_pid is not None:
        argv = ["nsenter", f"--net=/proc/{netns_pid}/ns/net", *argv]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    return (result.stdout + result.stderr).strip()


def routes(netns_pid: int | None = None) -> list[str]:
    argv = ["ip", "-4", "route", "show", "table", "all"]
    if netns_pid is not None:
        argv = ["nsenter", f"--net=/proc/{netns_pid}/ns/net", *argv]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    # local/broadcast entries are the addresses of the namespace itself, not routes out.
    return [line for line in out.splitlines()
            if line and not line.startswith(("local ", "broadcast "))]


def rules(table: str) -> list[str]:
    return iptables(table, "-S").stdout.splitlines()


def masquerade_rules() -> list[str]:
    """Every MASQUERADE/SNAT rule of the nat table."""
    return [r for r in rules("nat") if "MASQUERADE" in r or "SNAT" in r]


def first_forward_rule(table: str) -> str:
    forward = [r for r in rules(table) if r.startswith("-A FORWARD ")]
    return forward[0] if forward else ""
