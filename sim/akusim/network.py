"""The cluster network of one StatefulSet and its name service: the bridge
namespace, each pod's network namespace and veth (addresses, fixed MACs, static
neighbour entries), cutting a pod off the bridge and back, and the headless
Service's hosts file. Owns the names of pods and namespaces; runs no pod process."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from ._sys import ip, netns_delete, netns_exists, netns_list

NS_PREFIX = "akusim-"

RESOLV_CONF = ("# akusim: no DNS in the pods; names come from /etc/hosts only\n"
               "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")


def netns_groups() -> dict[str, list[str]]:
    """akusim network namespaces grouped by StatefulSet name."""
    groups: dict[str, list[str]] = {}
    for name in netns_list():
        m = re.match(rf"^{re.escape(NS_PREFIX)}(.+)-(net|\d+)$", name)
        if m:
            groups.setdefault(m.group(1), []).append(name)
    return groups


def delete_namespaces(sts: str) -> None:
    """Deletes every network namespace of StatefulSet `sts` (and what runs in them),
    the pods' before the bridge's."""
    for ns in sorted(netns_groups().get(sts, []), key=lambda n: n.endswith("-net")):
        netns_delete(ns)


class Network:
    """Names and network of StatefulSet `sts` (headless Service `svc`): pod k is
    `<sts>-<k>`, `<sts>-<k>.<svc>`, `<subnet>.<10+k>` in namespace `akusim-<sts>-<k>`,
    its veth `vb<k>` on the bridge `br0` of namespace `akusim-<sts>-net`. `net_dir`
    holds the hosts file and resolv.conf that every pod bind-mounts."""

    def __init__(self, sts: str, svc: str, subnet: str, replicas_max: int, net_dir: Path):
        self.sts, self.svc, self.subnet, self.replicas_max = sts, svc, subnet, replicas_max
        self.net_ns = f"{NS_PREFIX}{sts}-net"
        self.hosts = net_dir / "hosts"
        self.resolv = net_dir / "resolv.conf"

    # ------------------------------------------------------------ names
    def pod_name(self, k: int) -> str:
        return f"{self.sts}-{k}"

    def pod_fqdn(self, k: int) -> str:
        return f"{self.sts}-{k}.{self.svc}"

    def pod_ip(self, k: int) -> str:
        return f"{self.subnet}.{10 + k}"

    def pod_netns(self, k: int) -> str:
        return f"{NS_PREFIX}{self.sts}-{k}"

    def mac(self, k: int) -> str:
        return f"02:ac:00:00:00:{10 + k:02x}"

    # ------------------------------------------------------------ name service
    def write_name_service(self, pods: Iterable[int]) -> None:
        """Creates the hosts file (listing `pods`) and resolv.conf (no DNS)."""
        self.hosts.write_text("")
        os.chmod(self.hosts, 0o644)
        self.resolv.write_text(RESOLV_CONF)
        os.chmod(self.resolv, 0o644)
        self.write_hosts(pods)

    def write_hosts(self, pods: Iterable[int]) -> None:
        """Rewrites the pods' /etc/hosts IN PLACE, listing `pods` (same inode: the
        pods see it through bind mounts; a rename would leave them on the old file)."""
        lines = [f"# akusim: pods of StatefulSet {self.sts} that exist now "
                 f"(headless Service {self.svc}, publishNotReadyAddresses)",
                 "127.0.0.1\tlocalhost"]
        lines += [f"{self.pod_ip(k)}\t{self.pod_fqdn(k)} {self.pod_name(k)}" for k in sorted(pods)]
        data = ("\n".join(lines) + "\n").encode()
        fd = os.open(self.hosts, os.O_WRONLY)
        try:
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
        finally:
            os.close(fd)

    def hosts_text(self) -> str:
        return self.hosts.read_text()

    # ------------------------------------------------------------ bridge and ports
    def create_bridge(self) -> None:
        ip("netns", "add", self.net_ns)
        ip("link", "set", "lo", "up", netns=self.net_ns)
        ip("link", "add", "br0", "type", "bridge", netns=self.net_ns)
        ip("link", "set", "br0", "up", netns=self.net_ns)

    def add_pod(self, k: int) -> None:
        """Pod k's network namespace (a leftover one is deleted first) with `eth0`
        plugged into the bridge, its address, MAC and permanent neighbour entries
        for every other ordinal (so a cut peer's packets vanish instead of failing
        with "No route to host" once ARP gives up)."""
        ns = self.pod_netns(k)
        if netns_exists(ns):
            netns_delete(ns)
        ip("link", "del", f"vb{k}", netns=self.net_ns, check=False)
        ip("netns", "add", ns)
        ip("link", "add", f"vb{k}", "type", "veth", "peer", "name", "eth0", "netns", ns,
           netns=self.net_ns)
        ip("link", "set", f"vb{k}", "master", "br0", "up", netns=self.net_ns)
        ip("link", "set", "lo", "up", netns=ns)
        ip("link", "set", "eth0", "address", self.mac(k), netns=ns)
        ip("addr", "add", f"{self.pod_ip(k)}/24", "dev", "eth0", netns=ns)
        ip("link", "set", "eth0", "up", netns=ns)
        for j in range(self.replicas_max):
            if j != k:
                ip("neigh", "replace", self.pod_ip(j), "lladdr", self.mac(j), "dev", "eth0",
                   "nud", "permanent", netns=ns)

    def remove_pod(self, k: int) -> None:
        """Removes pod k's veth and network namespace (killing what still runs there)."""
        if netns_exists(self.net_ns):
            ip("link", "del", f"vb{k}", netns=self.net_ns, check=False)
        netns_delete(self.pod_netns(k))

    def cut(self, k: int) -> None:
        """Pod k's port leaves the bridge: every packet to or from it is dropped."""
        ip("link", "set", f"vb{k}", "nomaster", netns=self.net_ns)

    def restore(self, k: int) -> None:
        ip("link", "set", f"vb{k}", "master", "br0", netns=self.net_ns)
