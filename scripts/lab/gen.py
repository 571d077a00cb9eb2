#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Generate one run of the Causeway lab: keys, forwarder configs, intent files, BIRD's config.

The lab (docs/lab.md): three PoPs named like cloud regions, two provider backbones between
every pair of PoPs (one veth link per backbone and pair), a site host behind each PoP and a
carrier NOC (BIRD) peering eBGP with the first PoP. This script only writes files; the shell
side (scripts/lab/lib.sh) builds the namespaces and links and starts the processes from the
`topology.sh` it writes.

    gen.py --run-dir DIR --prefix PFX

writes, under DIR:
    keys/<pop>.key, keys/<pop>.pub   one WireGuard key per PoP (wg genkey), used by both of
                                     its tunnels and as the intent's identity key
    <pop>/fwd.yaml                   causeway-fwd: ports, tunnels wg-<backbone>, path groups
    <pop>/intent.yaml                causeway-routed: the PoP's intent (docs/intent.md)
    noc/bird.conf                    the carrier NOC's BIRD
    wan/links.json                   the backbone emulator's links and their shaping (wanem.py)
    topology.sh                      bash arrays describing namespaces, links and addresses
"""
import argparse
import json
import os
import subprocess
import sys

import yaml

# Backbones: a private cloud WAN and internet transit. One tunnel per backbone (wg-<name>).
BACKBONES = [
    {"name": "aws", "description": "cloud provider backbone (private WAN)"},
    {"name": "inet", "description": "internet transit"},
]

# PoPs, in the order every intent lists its peers (path group of remote PoP i = i + 1 in
# each PoP's own peer order). short: used in port names (15-character interface names).
POPS = [
    {"name": "eu-west-1", "short": "euw1", "site": "branch", "n": 1},
    {"name": "us-east-1", "short": "use1", "site": "dc1", "n": 2},
    {"name": "ap-south-1", "short": "aps1", "site": "dc2", "n": 3},
]

# One-way delay in ms of each backbone link (each direction, so the RTT is twice this):
# real inter-region latencies scaled down about 4x so the demo stays quick. The cloud
# backbone is the faster of the two everywhere.
DELAY_MS = {
    ("eu-west-1", "us-east-1"): {"aws": 9, "inet": 12},
    ("eu-west-1", "ap-south-1"): {"aws": 14, "inet": 19},
    ("us-east-1", "ap-south-1"): {"aws": 24, "inet": 30},
}

ASN = 65001
NOC = {"asn": 64500, "pop": "eu-west-1", "port": "noc0", "pop_addr": "192.0.2.1",
       "addr": "192.0.2.2", "prefixlen": 30, "prefix": "198.18.0.0/24", "host": "198.18.0.1"}
SITE_MTU = 1420  # room for the 60-byte outer IPv4 + UDP + WireGuard headers on a 1500 link
LISTEN_PORT = 51820
KEEPALIVE_S = 5


def keepalive(pop, remote):
    """Persistent keepalive of POP's peer REMOTE: only the PoP earlier in POPS keeps a pair's
    tunnels warm, so at start-up one side initiates each handshake. When both sides initiate at
    once, each answers the other's initiation and drops the answer to its own (counted as
    unknown_index), and both retry 5 s later; in the lab that repeated for up to 40 s."""
    return KEEPALIVE_S if POPS.index(pop) < POPS.index(remote) else 0

# SLA classes. Both traffic classes prefer aws: a brownout that takes an aws path above
# realtime's 100 ms but not above business's 300 ms moves voice to inet and leaves bulk.
# The slowest path (us-east-1 - ap-south-1 over inet, 60 ms emulated RTT) meets both. Jitter is
# measured on the round trip, forwarders and relay included: 2-10 ms on a busy 2-CPU machine.
SLA_CLASSES = {
    "realtime": {"name": "realtime", "max_loss_pct": 1, "max_latency_ms": 100, "max_jitter_ms": 30},
    "business": {"name": "business", "max_loss_pct": 5, "max_latency_ms": 300, "max_jitter_ms": 50},
}
PROBE_INTERVAL_MS = 100  # the product's default
# A path that failed must stay compliant this long before it carries traffic again; short
# for the demo (the product's default is 10 s).
HOLD_DOWN_MS = 3000
# What eu-west-1 announces to the NOC for the other sites: the aggregate of every site.
AGGREGATE = "10.0.0.0/14"

# Per traffic class and SLA state, the communities the NOC sees on the announced prefixes.
SLA_COMMUNITIES = [
    {"traffic_class": "voice", "compliant": f"{ASN}:100", "degraded": f"{ASN}:101",
     "down": f"{ASN}:102"},
    {"traffic_class": "bulk", "compliant": f"{ASN}:200", "degraded": f"{ASN}:201",
     "down": f"{ASN}:202"},
]


def pairs():
    for i, a in enumerate(POPS):
        for b in POPS[i + 1:]:
            yield a, b


def link_addrs(pair_index, backbone):
    """(lower PoP address, higher PoP address, prefix length) of one backbone link."""
    if backbone == "aws":
        return f"172.31.{pair_index}.1", f"172.31.{pair_index}.2", 30
    base = 4 * pair_index
    return f"203.0.113.{base + 1}", f"203.0.113.{base + 2}", 30


def site_prefix(pop):
    return f"10.{pop['n']}.0.0/16"


def overlay_addr(pop):
    """The PoP's overlay address: intent identity.overlay_address, tunnel `address`, iBGP."""
    return f"10.255.0.{pop['n']}"


OVERLAY_LEN = 24  # 10.255.0.0/24: every tunnel mirror has the overlay as a connected subnet


def overlay_host(pop):
    """The PoP's overlay address as a /32: allowed IPs and the forwarder's routes."""
    return f"{overlay_addr(pop)}/32"


def overlay_iface_addr(pop):
    """The tunnels' `address`: the PoP's overlay address with the overlay's prefix length, so
    the kernel (FRR) reaches the other PoPs through the tunnel mirrors without extra routes."""
    return f"{overlay_addr(pop)}/{OVERLAY_LEN}"


def links():
    """Every backbone link: dict(backbone, a, b, if_a, if_b, wan_a, wan_b, addr_a, addr_b, len,
    delay). if_a/if_b: the PoPs' ports; wan_a/wan_b: the other ends of their veths, in the
    backbone emulator's namespace (scripts/lab/wanem.py)."""
    out = []
    for p, (a, b) in enumerate(pairs()):
        for bb in BACKBONES:
            addr_a, addr_b, plen = link_addrs(p, bb["name"])
            k = len(out)
            out.append({
                "backbone": bb["name"], "a": a["name"], "b": b["name"],
                "if_a": f"{bb['name']}-{b['short']}", "if_b": f"{bb['name']}-{a['short']}",
                "wan_a": f"w{k}a", "wan_b": f"w{k}b",
                "addr_a": addr_a, "addr_b": addr_b, "len": plen,
                "delay": DELAY_MS[(a["name"], b["name"])][bb["name"]],
            })
    return out


def wg_keys(keydir, name):
    os.makedirs(keydir, mode=0o700, exist_ok=True)
    key = subprocess.run(["wg", "genkey"], check=True, capture_output=True, text=True).stdout
    pub = subprocess.run(["wg", "pubkey"], input=key, check=True, capture_output=True,
                         text=True).stdout
    kpath = os.path.join(keydir, f"{name}.key")
    fd = os.open(kpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    with open(os.path.join(keydir, f"{name}.pub"), "w") as f:
        f.write(pub)
    return kpath, pub.strip()


class Flow(list):
    """A list YAML writes in flow style ([a, b]) to keep the generated files readable."""


class Quoted(str):
    """A string YAML writes quoted (communities: 65001:100 unquoted is a YAML 1.1 number)."""


yaml.SafeDumper.add_representer(
    Flow, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))
yaml.SafeDumper.add_representer(
    Quoted, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", v, style='"'))


def dump(path, header, doc):
    with open(path, "w") as f:
        f.write(header)
        yaml.safe_dump(doc, f, sort_keys=False, width=100)


def pop_ports(pop, all_links):
    """The PoP's ports in forwarder order: lan0, the NOC port, then its backbone ports."""
    ports = [{"name": "lan0", "role": "lan", "addr": f"10.{pop['n']}.0.1/24"}]
    if NOC["pop"] == pop["name"]:
        ports.append({"name": NOC["port"], "role": "lan",
                      "addr": f"{NOC['pop_addr']}/{NOC['prefixlen']}"})
    for ln in all_links:
        for me, other in (("a", "b"), ("b", "a")):
            if ln[me] == pop["name"]:
                ports.append({"name": ln[f"if_{me}"], "role": "wan", "backbone": ln["backbone"],
                              "addr": f"{ln[f'addr_{me}']}/{ln['len']}", "peer": ln[other],
                              "peer_addr": ln[f"addr_{other}"]})
    return ports


def allowed_ips(remote):
    """What a remote PoP may send into its tunnels (WireGuard's source check): its overlay
    address first (the probe target), its site, and the NOC's prefix when it is the PoP that
    peers with the carrier (it forwards the NOC's traffic to the other sites)."""
    out = [overlay_host(remote), site_prefix(remote)]
    if NOC["pop"] == remote["name"]:
        out.append(NOC["prefix"])
    return out


def fwd_config(pop, ports, keys, run_dir, prefix, idle_sleep_us):
    remotes = [p for p in POPS if p is not pop]
    tunnels = []
    for bb in BACKBONES:
        wan = [p for p in ports if p.get("backbone") == bb["name"]]
        peers = []
        for gid, rp in enumerate(remotes, start=1):
            port = next(p for p in wan if p["peer"] == rp["name"])
            # The remote PoP's overlay /32 is the peer's probe target (SLA probes every
            # 100 ms by default, docs/tunnels.md) and the iBGP session's far end.
            peers.append({"name": rp["name"], "public_key": keys[rp["name"]][1],
                          "endpoint": f"{port['peer_addr']}:{LISTEN_PORT}",
                          "allowed_ips": Flow(allowed_ips(rp)),
                          "persistent_keepalive": keepalive(pop, rp), "path_group": gid})
        tunnels.append({"name": f"wg-{bb['name']}", "private_key_file": keys[pop["name"]][0],
                        "listen_port": LISTEN_PORT, "ports": Flow([p["name"] for p in wan]),
                        "address": Flow([overlay_iface_addr(pop)]), "peers": peers})
    return {
        "name": pop["name"],
        # One worker (tunnels need it). Main and worker lcore threads may run on either CPU
        # ("(0-1)@(0-1)"): three forwarders pinned to the same two CPUs as everything else on
        # a busy 2-CPU machine waited for their CPU for up to 2.5 s at a time; floating, the
        # scheduler moves them to the CPU that is free.
        "dpdk": {"workers": 1, "lcores": "(0-1)@(0-1)", "memory_mb": 512, "mbufs": 8192,
                 "no_huge": True, "file_prefix": f"{prefix}{pop['short']}"},
        "ports": [{"name": p["name"],
                   "device": f"net_af_packet{i},iface={p['name']}",
                   "addresses": Flow([p["addr"]]), "rx_desc": 256, "tx_desc": 256}
                  for i, p in enumerate(ports)],
        # Only the remote PoPs' overlay addresses are static: what the kernel (FRR's iBGP)
        # sends to them follows the path group, i.e. the SLA decisions. The sites' prefixes
        # come from iBGP (zebra -> FPM -> causeway-routed -> path group).
        "routes": [{"prefix": overlay_host(rp), "path_group": gid}
                   for gid, rp in enumerate(remotes, start=1)],
        "tunnels": tunnels,
        "fib": {"v4_max_routes": 65536, "v4_tbl8_groups": 512, "v6_max_routes": 4096,
                "v6_tbl8_groups": 512},
        "control_socket": os.path.join(run_dir, pop["name"], "fwd.sock"),
        # Every PoP names its tunnels wg-aws and wg-inet: each serves the WireGuard UAPI from
        # its own directory (lab_wg shows it to `wg` as /var/run/wireguard).
        "uapi": {"socket_dir": os.path.join(run_dir, pop["name"], "wireguard")},
        "idle_sleep_max_us": idle_sleep_us,
    }


def intent(pop, ports, keys, run_dir):
    remotes = [p for p in POPS if p is not pop]
    peers = []
    for rp in remotes:
        endpoints = {p["backbone"]: p["peer_addr"] for p in ports if p.get("peer") == rp["name"]}
        peers.append({"name": rp["name"], "public_key": keys[rp["name"]][1],
                      "endpoints": endpoints, "overlay_address": overlay_addr(rp),
                      "site_prefixes": Flow([site_prefix(rp)]), "keepalive_s": keepalive(pop, rp)})
    # iBGP between the PoPs, inside the overlay (full mesh from the overlay addresses,
    # next-hop-self): each PoP originates its own site and learns the others' with the remote
    # PoP's overlay address as next hop, which causeway-routed maps to that PoP's path group.
    bgp = {"asn": ASN, "ibgp": True, "keepalive_s": 3, "hold_s": 9, "neighbors": [],
           "announce": Flow([site_prefix(pop)])}
    if NOC["pop"] == pop["name"]:
        bgp["neighbors"] = [{"name": "noc", "address": NOC["addr"], "asn": NOC["asn"],
                             "description": "carrier NOC"}]
        # Carriers receive only what the PoP originates (docs/intent.md): its own site and
        # the aggregate of all sites, through which the carrier reaches the other PoPs' sites
        # (learnt over iBGP; originating their /16s here would shadow the iBGP routes).
        bgp["announce"] = Flow([site_prefix(pop), AGGREGATE])
        bgp["sla_communities"] = [{k: v if k == "traffic_class" else Quoted(v)
                                    for k, v in c.items()} for c in SLA_COMMUNITIES]
    return {
        "version": 1,
        "identity": {"pop": pop["name"], "router_id": overlay_addr(pop),
                     "private_key": f"file:{keys[pop['name']][0]}",
                     "overlay_address": overlay_addr(pop), "listen_port": LISTEN_PORT},
        "forwarder": {"control_socket": os.path.join(run_dir, pop["name"], "fwd.sock")},
        "backbones": BACKBONES,
        "ports": [{k: v for k, v in (("name", p["name"]), ("role", p["role"]),
                                     ("backbone", p.get("backbone")),
                                     ("addresses", Flow([p["addr"]]))) if v is not None}
                  for p in ports],
        "peers": peers,
        "sla_classes": [SLA_CLASSES[c] for c in ("realtime", "business")],
        "traffic_classes": [
            {"name": "voice", "match": {"dscp": Flow(["ef"]), "protocol": "udp"},
             "sla_class": "realtime", "backbones": Flow(["aws", "inet"])},
            {"name": "bulk", "sla_class": "business", "backbones": Flow(["aws", "inet"])},
        ],
        "probes": {"interval_ms": PROBE_INTERVAL_MS, "window": 50, "blackout_probes": 3,
                   "hold_down_ms": HOLD_DOWN_MS},
        "bgp": bgp,
    }


def bird_conf():
    return f"""# Carrier NOC: eBGP with {NOC['pop']}; announces its own prefix, installs what it learns.
router id {NOC['addr']};
protocol device {{}}
protocol direct {{ ipv4; interface "lo"; }}
protocol kernel {{ ipv4 {{ import none; export where source = RTS_BGP; }}; }}
protocol static {{ ipv4; route {NOC['prefix']} blackhole; }}
protocol bgp {NOC['pop'].replace('-', '_')} {{
  description "Causeway PoP {NOC['pop']}";
  local {NOC['addr']} as {NOC['asn']};
  neighbor {NOC['pop_addr']} as {ASN};
  hold time 9;
  keepalive time 3;
  connect retry time 2;
  error wait time 1, 5;
  ipv4 {{ import all; export where source = RTS_STATIC; }};
}}
"""


def sh_array(name, items):
    return f"{name}=(" + " ".join(f"'{i}'" for i in items) + ")\n"


def sh_assoc(name, mapping):
    body = " ".join(f"['{k}']='{v}'" for k, v in mapping.items())
    return f"declare -gA {name}=({body})\n"


def topology_sh(prefix, all_links, pop_port_lists):
    ns = {p["name"]: f"{prefix}{p['name']}" for p in POPS}
    ns.update({p["site"]: f"{prefix}{p['site']}" for p in POPS})
    ns["noc"] = f"{prefix}noc"
    ns["wan"] = f"{prefix}wan"
    out = "# Generated by scripts/lab/gen.py: the lab's topology for scripts/lab/lib.sh.\n"
    out += f"LAB_PREFIX='{prefix}'\n"
    out += sh_array("LAB_POPS", [p["name"] for p in POPS])
    out += sh_array("LAB_SITES", [p["site"] for p in POPS])
    out += sh_array("LAB_BACKBONES", [b["name"] for b in BACKBONES])
    out += sh_assoc("LAB_NS", ns)
    out += sh_assoc("LAB_SITE_POP", {p["site"]: p["name"] for p in POPS})
    out += sh_assoc("LAB_SITE_ADDR", {p["site"]: f"10.{p['n']}.0.2" for p in POPS})
    out += sh_assoc("LAB_SITE_GW", {p["site"]: f"10.{p['n']}.0.1" for p in POPS})
    out += sh_assoc("LAB_SITE_PREFIX", {p["site"]: site_prefix(p) for p in POPS})
    # Ports of each PoP (space-separated), in forwarder order.
    out += sh_assoc("LAB_POP_PORTS",
                    {name: " ".join(p["name"] for p in ports)
                     for name, ports in pop_port_lists.items()})
    # "backbone pop_a if_a pop_b if_b one_way_delay_ms wan_a wan_b" per backbone link.
    out += sh_array("LAB_LINKS", [f"{ln['backbone']} {ln['a']} {ln['if_a']} {ln['b']} "
                                  f"{ln['if_b']} {ln['delay']} {ln['wan_a']} {ln['wan_b']}"
                                  for ln in all_links])
    out += f"LAB_SITE_MTU={SITE_MTU}\nLAB_LISTEN_PORT={LISTEN_PORT}\n"
    out += (f"LAB_NOC_POP='{NOC['pop']}' LAB_NOC_PORT='{NOC['port']}' "
            f"LAB_NOC_ADDR='{NOC['addr']}/{NOC['prefixlen']}' LAB_NOC_GW='{NOC['pop_addr']}' "
            f"LAB_NOC_PREFIX='{NOC['prefix']}' LAB_NOC_HOST='{NOC['host']}' "
            f"LAB_NOC_PROTOCOL='{NOC['pop'].replace('-', '_')}'\n")
    noc_pop = next(p for p in POPS if p["name"] == NOC["pop"])
    out += sh_array("LAB_ANNOUNCED", [site_prefix(noc_pop), AGGREGATE])
    out += sh_array("LAB_COMMUNITIES", [c["compliant"] for c in SLA_COMMUNITIES])
    # "class:state" -> community, e.g. ['voice:degraded']='65001:101'
    out += sh_assoc("LAB_SLA_COMMUNITY", {f"{c['traffic_class']}:{st}": c[st]
                                          for c in SLA_COMMUNITIES
                                          for st in ("compliant", "degraded", "down")})
    out += sh_assoc("LAB_OVERLAY", {p["name"]: overlay_addr(p) for p in POPS})
    out += f"LAB_HOLD_DOWN_MS={HOLD_DOWN_MS}\nLAB_PROBE_INTERVAL_MS={PROBE_INTERVAL_MS}\n"
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", required=True, help="directory for this run's files")
    ap.add_argument("--prefix", required=True,
                    help="namespace and DPDK file prefix, unique per run (e.g. cwlab-)")
    ap.add_argument("--idle-sleep-us", type=int, default=1000,
                    help="forwarder idle_sleep_max_us (longest sleep of an idle worker)")
    args = ap.parse_args()
    run_dir = os.path.abspath(args.run_dir)
    os.makedirs(run_dir, exist_ok=True)

    keys = {p["name"]: wg_keys(os.path.join(run_dir, "keys"), p["name"]) for p in POPS}
    all_links = links()
    pop_port_lists = {}
    for pop in POPS:
        d = os.path.join(run_dir, pop["name"])
        os.makedirs(d, exist_ok=True)
        ports = pop_ports(pop, all_links)
        pop_port_lists[pop["name"]] = ports
        gen = "# Generated by scripts/lab/gen.py for this run of the lab (docs/lab.md).\n"
        dump(os.path.join(d, "fwd.yaml"), gen,
             fwd_config(pop, ports, keys, run_dir, args.prefix, args.idle_sleep_us))
        dump(os.path.join(d, "intent.yaml"), gen, intent(pop, ports, keys, run_dir))
    os.makedirs(os.path.join(run_dir, "noc"), exist_ok=True)
    with open(os.path.join(run_dir, "noc", "bird.conf"), "w") as f:
        f.write(bird_conf())
    os.makedirs(os.path.join(run_dir, "wan"), exist_ok=True)
    with open(os.path.join(run_dir, "wan", "links.json"), "w") as f:
        json.dump({"generation": 0, "links": [
            {"name": f"{ln['backbone']}:{ln['a']}:{ln['b']}", "a": ln["wan_a"], "b": ln["wan_b"],
             "delay_ms": ln["delay"], "jitter_ms": 0, "loss_pct": 0} for ln in all_links]},
            f, indent=1)
    with open(os.path.join(run_dir, "topology.sh"), "w") as f:
        f.write(topology_sh(args.prefix, all_links, pop_port_lists))
    return 0


if __name__ == "__main__":
    sys.exit(main())
