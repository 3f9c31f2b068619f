"""A scanned host and a peer on one veth link, for oracle states that send real packets.

The scanned host is the case's own network namespace (``State(net=True)``). Setup makes
a second, nameless namespace (``unshare --net``), keeps it alive with a bind mount on a
file in the case's overlaid /etc (so nothing global such as ``ip netns`` names is left
behind, and it vanishes with the case's mount namespace), and joins the two with a veth
pair. Addresses are IPv4 link-local and IPv6 ULA only. Listeners are tiny Python
servers started in the background; with ``State(pid=True)`` they die with the case.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

PEER_NS = "/etc/cii-oracle-peer-net"
HOST4, PEER4 = "169.254.77.1", "169.254.77.2"
HOST6, PEER6 = "fd00:77::1", "fd00:77::2"

# listener: PROTO ADDRESS PORT V6ONLY DEVICE — accepts TCP connections, echoes UDP datagrams
LISTENER = r"""
import socket, sys
proto, address, port, v6only, device = sys.argv[1:6]
family = socket.AF_INET6 if ":" in address else socket.AF_INET
kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
s = socket.socket(family, kind)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if family == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
if device != "-":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device.encode())
s.bind((address, int(port)))
if kind == socket.SOCK_STREAM:
    s.listen(16)
    while True:
        s.accept()[0].close()
while True:
    data, peer = s.recvfrom(512)
    s.sendto(data, peer)
"""

# reach: ADDRESS PROTO:PORT... — prints the endpoints that answered, one a line
REACH = r"""
import socket, sys
address = sys.argv[1]
family = socket.AF_INET6 if ":" in address else socket.AF_INET
for endpoint in sys.argv[2:]:
    proto, port = endpoint.split(":")
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(family, kind)
    s.settimeout(1.5 if proto == "tcp" else 0.5)
    try:
        s.connect((address, int(port)))
        if proto == "udp":
            s.send(b"cii")
            s.recv(16)
        print(endpoint)
    except OSError:
        pass
    finally:
        s.close()
"""


def plumbing() -> list[str]:
    """Setup lines: the peer namespace, the veth link and addresses on both ends."""
    peer = f"nsenter --net={PEER_NS}"
    return [
        "unshare --net sleep 300 & peer=$!",
        'while [ "$(readlink /proc/$peer/ns/net)" = "$(readlink /proc/self/ns/net)" ]; '
        "do sleep 0.05; done",
        f"mount --bind /proc/$peer/ns/net {PEER_NS}",
        "ip link add cii0 type veth peer name cii1 netns $peer",
        "kill $peer",
        f"ip addr add {HOST4}/24 dev cii0",
        "ip link set cii0 up",
        f"{peer} ip link set lo up",
        f"{peer} ip addr add {PEER4}/24 dev cii1",
        f"{peer} ip link set cii1 up",
    ]


def ipv6_addresses() -> list[str]:
    peer = f"nsenter --net={PEER_NS}"
    return [f"ip -6 addr add {HOST6}/64 dev cii0 nodad",
            f"{peer} ip -6 addr add {PEER6}/64 dev cii1 nodad"]


def listen(proto: str, address: str, port: int, v6only: bool = False,
           device: str = "-") -> list[str]:
    """Setup lines starting a listener and waiting until the kernel lists its socket."""
    argv = ["python3", "-c", LISTENER, proto, address, str(port), "1" if v6only else "0",
            device]
    flag = "-Hltn" if proto == "tcp" else "-Hlun"
    return [" ".join(shlex.quote(word) for word in argv) + " &",
            f"i=0; until ss {flag} | grep -q ':{port} '; do i=$((i+1)); "
            f"[ $i -lt 100 ] || exit 1; sleep 0.05; done"]


def reach_argv(address: str, endpoints: Sequence[str]) -> list[str]:
    """An ask: from the peer, which of ``proto:port`` endpoints answer on ``address``."""
    return ["nsenter", f"--net={PEER_NS}", "python3", "-c", REACH, address, *endpoints]


def must_reach(address: str, endpoint: str) -> str:
    """A setup line failing the case unless the peer reaches the endpoint (plumbing check)."""
    argv = reach_argv(address, [endpoint])
    return (f"[ \"$({' '.join(shlex.quote(word) for word in argv)})\" = {shlex.quote(endpoint)} ]"
            f" || {{ echo 'plumbing: {endpoint} on {address} unreachable before the rules' >&2;"
            " exit 1; }")


PEER_NS_BOOT = "/etc/cii-oracle-peer-net-boot"
PERSISTENT_UNIT = "/etc/systemd/system/netfilter-persistent.service"
NFT_WANTS = "/etc/systemd/system/sysinit.target.wants/nftables.service"
PERSISTENT_WANTS = "/etc/systemd/system/sysinit.target.wants/netfilter-persistent.service"


def enable(unit_path: str, wants: str) -> str:
    """A setup line enabling a unit the way ``systemctl enable`` links it."""
    return f"mkdir -p {shlex.quote(wants.rsplit('/', 1)[0])} && ln -sf {unit_path} {wants}"


def boot_replay_argv(port: int) -> list[str]:
    """An ask: a fresh network namespace booted the way systemd would start the enabled
    loaders (nftables.service: ``nft -f /etc/nftables.conf``; netfilter-persistent's
    ip4tables/ip6tables plugins: ``iptables-restore`` of /etc/iptables/rules.v4 and
    rules.v6), then which of the listener's endpoints the peer reaches over IPv4, IPv6."""
    peer = f"nsenter --net={PEER_NS_BOOT}"
    lines = [
        "set -e", "ip link set lo up",
        # (background processes let go of the ask's stdout, or it never reaches EOF)
        "unshare --net sleep 300 >/dev/null 2>&1 & peer=$!",
        'while [ "$(readlink /proc/$peer/ns/net)" = "$(readlink /proc/self/ns/net)" ]; '
        "do sleep 0.05; done",
        f"mount --bind /proc/$peer/ns/net {PEER_NS_BOOT}",
        "ip link add cii0 type veth peer name cii1 netns $peer", "kill $peer",
        f"ip addr add {HOST4}/24 dev cii0", f"ip -6 addr add {HOST6}/64 dev cii0 nodad",
        "ip link set cii0 up", f"{peer} ip link set lo up",
        f"{peer} ip addr add {PEER4}/24 dev cii1",
        f"{peer} ip -6 addr add {PEER6}/64 dev cii1 nodad", f"{peer} ip link set cii1 up",
        listen("tcp", "::", port)[0].removesuffix(" &") + " >/dev/null 2>&1 & listener=$!",
        listen("tcp", "::", port)[1],
        must_reach(HOST4, f"tcp:{port}").replace(PEER_NS, PEER_NS_BOOT),
        must_reach(HOST6, f"tcp:{port}").replace(PEER_NS, PEER_NS_BOOT),
        f"if [ -e {NFT_WANTS} ] && [ \"$(readlink /etc/systemd/system/nftables.service)\" "
        "!= /dev/null ]; then nft -f /etc/nftables.conf || true; fi",
        f"if [ -e {PERSISTENT_WANTS} ]; then "
        "[ ! -f /etc/iptables/rules.v4 ] || iptables-restore < /etc/iptables/rules.v4 || true; "
        "[ ! -f /etc/iptables/rules.v6 ] || ip6tables-restore < /etc/iptables/rules.v6 || true; "
        "fi",
        " ".join(shlex.quote(w) for w in reach_argv(HOST4, [f"tcp:{port}"]))
        .replace(PEER_NS, PEER_NS_BOOT),
        " ".join(shlex.quote(w) for w in reach_argv(HOST6, [f"tcp:{port}"]))
        .replace(PEER_NS, PEER_NS_BOOT),
        "kill $listener",
    ]
    return ["unshare", "--net", "sh", "-c", "\n".join(lines)]
