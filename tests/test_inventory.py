"""Inventory parsing: CLI targets, YAML and Ansible INI inventories, --limit, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.errors import InputError
from scanner.inventory import (
    Target,
    apply_limit,
    load_inventory,
    parse_target,
    targets_from_cli,
    with_defaults,
)


@pytest.mark.parametrize(
    ("spec", "user", "address", "port"),
    [
        ("web1", None, "web1", None),
        ("root@web1", "root", "web1", None),
        ("web1:2222", None, "web1", 2222),
        ("ops@10.0.0.5:22", "ops", "10.0.0.5", 22),
        ("[2001:db8::1]:2200", None, "2001:db8::1", 2200),
        ("ops@[2001:db8::1]", "ops", "2001:db8::1", None),
        ("2001:db8::7", None, "2001:db8::7", None),
        ("audit@fe80::1", "audit", "fe80::1", None),
    ],
)
def test_cli_target_forms(spec: str, user: str | None, address: str, port: int | None) -> None:
    target = parse_target(spec)
    assert (target.user, target.address, target.port) == (user, address, port)


@pytest.mark.parametrize("spec", ["", "-oProxyCommand=x", "a b", "host:99999", "@host",
                                  "user@host:port", "[::1", "host;rm"])
def test_bad_cli_targets_are_input_errors(spec: str) -> None:
    with pytest.raises(InputError):
        parse_target(spec)


def test_duplicate_cli_targets_are_scanned_once() -> None:
    targets = targets_from_cli(["a", "b:22", "a", "b:22"])
    assert [(t.name, t.port) for t in targets] == [("a", None), ("b", 22)]


YAML_INVENTORY = """\
defaults:
  user: audit
  port: 2222
  vars: {site: bj}
groups:
  web:
    hosts: [web1]
    vars: {tier: front}
  prod:
    children: [web]
hosts:
  - name: web1
    address: 10.0.0.1
  - name: db1
    address: "[2001:db8::5]"
    port: 22
    user: root
    sudo: true
    groups: [db]
    jump: bastion.example:2200
    vars: {site: sh}
"""


def test_yaml_inventory_applies_defaults_groups_and_vars(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yaml"
    path.write_text(YAML_INVENTORY)
    web1, db1 = load_inventory(path)
    assert (web1.address, web1.port, web1.user) == ("10.0.0.1", 2222, "audit")
    assert web1.groups == ("prod", "web")
    assert dict(web1.vars) == {"site": "bj", "tier": "front"}
    assert (db1.address, db1.port, db1.user, db1.sudo, db1.jump) == (
        "2001:db8::5", 22, "root", True, "bastion.example:2200")
    assert db1.groups == ("db",)
    assert dict(db1.vars) == {"site": "sh"}
    identity = db1.identity()
    assert (identity.name, identity.address, identity.port, identity.transport) == (
        "db1", "2001:db8::5", 22, "ssh")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("hosts:\n  - name: a\n    adress: 10.0.0.1\n", 3, "unknown key 'adress'"),
        ("hosts:\n  - name: a\n    port: 70000\n", 3, "70000"),
        ("hosts:\n  - name: a\n  - name: a\n", 3, "listed twice"),
        ("groups:\n  g: {hosts: [zz]}\nhosts:\n  - name: a\n", 2, "unknown host 'zz'"),
        ("hosts:\n  - name: a\n    vars:\n      password: hunter2\n", 4, "passwords are not"),
        ("defaults:\n  vars: {ansible_become_pass: x}\nhosts: []\n", 2, "passwords are not"),
        ("hosts:\n  - name: a\n    jump: 'bad host'\n", 3, "jump"),
        ("hosts: [\n", 2, "invalid YAML"),
    ],
)
def test_malformed_yaml_inventory_names_file_and_line(tmp_path: Path, text: str, line: int,
                                                      message: str) -> None:
    path = tmp_path / "inv.yml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_inventory(path)
    assert caught.value.line == line, str(caught.value)
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"{path}:{line}:")


INI_INVENTORY = """\
# Ansible INI inventory
jump0 ansible_host=192.0.2.1

[web]
web[01:03].example ansible_user=deploy
edge ansible_host=2001:db8::9 ansible_port=2200

[web:vars]
ansible_port=2222
ansible_become=true

[db]
db1 ansible_host=192.0.2.20 ansible_ssh_user=dba

[prod:children]
web
db

[all:vars]
site=bj
"""


def test_ansible_ini_inventory(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    path.write_text(INI_INVENTORY)
    targets = {t.name: t for t in load_inventory(path)}
    assert sorted(targets) == ["db1", "edge", "jump0", "web01.example", "web02.example",
                               "web03.example"]
    web02 = targets["web02.example"]
    assert (web02.address, web02.port, web02.user, web02.sudo) == (
        "web02.example", 2222, "deploy", True)
    assert web02.groups == ("prod", "web")
    edge = targets["edge"]
    assert (edge.address, edge.port) == ("2001:db8::9", 2200)  # host var beats group var
    db1 = targets["db1"]
    assert (db1.address, db1.user, db1.sudo, db1.groups) == ("192.0.2.20", "dba", None,
                                                             ("db", "prod"))
    assert targets["jump0"].groups == ()
    assert targets["jump0"].vars["site"] == "bj"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("[web]\nweb1 ansible_password=secret\n", 2, "passwords are not accepted"),
        ("[web:vars]\nansible_ssh_pass=secret\n", 2, "passwords are not accepted"),
        ("[web]\nweb1 ansible_port=ssh\n", 2, "not a port number"),
        ("[web:weird]\n", 1, "unknown section kind"),
        ("[web\n", 1, "missing ']'"),
        ("[web]\nweb1 novalue\n", 2, "key=value"),
        ("[p:children]\nnosuch\n", 2, "unknown child group"),
        ("[web]\nweb1 'unterminated\n", 2, "cannot split"),
        ("[web]\nw[9:1]\n", 2, "range"),
    ],
)
def test_malformed_ini_inventory_names_line(tmp_path: Path, text: str, line: int,
                                            message: str) -> None:
    path = tmp_path / "hosts.ini"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_inventory(path)
    assert caught.value.line == line, str(caught.value)
    assert message in str(caught.value)


def test_password_refusal_never_echoes_the_password(tmp_path: Path) -> None:
    path = tmp_path / "hosts.ini"
    path.write_text("[web]\nweb1 ansible_password=Sup3rSecret!\n")
    with pytest.raises(InputError) as caught:
        load_inventory(path)
    assert "Sup3rSecret" not in str(caught.value)


def _fleet() -> list[Target]:
    return [
        Target("web1", "10.0.0.1", groups=("web", "prod")),
        Target("web2", "10.0.0.2", groups=("web",)),
        Target("db1", "10.0.1.1", groups=("db", "prod")),
    ]


@pytest.mark.parametrize(
    ("pattern", "names"),
    [
        ("web", ["web1", "web2"]),
        ("prod", ["web1", "db1"]),
        ("web*", ["web1", "web2"]),
        ("10.0.1.*", ["db1"]),
        ("prod,!web", ["db1"]),
        ("all,!db1", ["web1", "web2"]),
        (None, ["web1", "web2", "db1"]),
    ],
)
def test_limit(pattern: str | None, names: list[str]) -> None:
    assert [t.name for t in apply_limit(_fleet(), pattern)] == names


def test_limit_matching_nothing_is_an_input_error() -> None:
    with pytest.raises(InputError, match="matches no host"):
        apply_limit(_fleet(), "nosuch*")


def test_command_line_fills_only_what_the_inventory_left_open() -> None:
    targets = [Target("a", "a", port=2200, user="ops", sudo=False), Target("b", "b")]
    a, b = with_defaults(targets, user="root", port=22, jump="bastion", sudo=True)
    assert (a.port, a.user, a.sudo, a.jump) == (2200, "ops", False, "bastion")
    assert (b.port, b.user, b.sudo, b.jump) == (22, "root", True, "bastion")


@pytest.mark.parametrize(("name", "text"), [
    ("hosts.ini", ""), ("hosts.ini", "# none yet\n[web]\n[db:vars]\nansible_user=ops\n"),
    ("hosts.yaml", ""), ("hosts.yaml", "hosts: []\n"), ("hosts.yaml", "defaults: {user: a}\n"),
])
def test_an_inventory_without_hosts_is_an_input_error(tmp_path: Path, name: str,
                                                      text: str) -> None:
    """A scan of nothing must not end as a clean, empty findings.json with exit 0."""
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_inventory(path)
    assert str(path) in str(caught.value)
