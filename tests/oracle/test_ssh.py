"""The SSH daemon: sshd itself decides (``sshd -T -C``, a real login to a running daemon,
a read attempt as another user for the files it keeps)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.oracle._oracle import Case, State, case_id, check_case
from tests.oracle._ssh import (
    ALICE,
    CONFIG,
    MEMBER,
    PORT,
    ROOT,
    SSHD,
    banner_set,
    config,
    daemon,
    empty_no,
    file_state,
    idle,
    login_as_root,
    max_tries,
    next_start,
    nobody_member_owner_locked_out,
    root_no,
    sshd_t,
    strong_crypto,
    two_factors,
    x11_no,
)

R = "ssh.root-login-disabled"
GOOD = "PermitRootLogin no\n"
ROOT_FROM_10 = "user=root,host=cii-oracle.invalid,addr=10.1.2.3,laddr=127.0.0.1,lport=22"
ROOT_ON_2222 = "user=root,host=cii-oracle.invalid,addr=203.0.113.9,laddr=127.0.0.1,lport=2222"
ROOT_FROM_ADMIN = "user=root,host=jump.admin.example,addr=203.0.113.9,laddr=127.0.0.1,lport=22"
MANY_BLOCKS = GOOD + "".join(f"Match Address 10.0.{i}.0/24\n  MaxSessions 5\n"
                             for i in range(60)) + "Match Address 172.16.0.0/12\n" \
    "  PermitRootLogin yes\n"

ROOT_CASES = [
    Case(R, "global-no", config(GOOD), sshd_t(root_no, [ROOT]), "pass"),
    Case(R, "debian-stock-prohibit-password", config("Include /etc/ssh/sshd_config.d/*.conf\n"
         "UsePAM yes\n"), sshd_t(root_no, [ROOT]), "fail"),
    Case(R, "match-address-any-yes", config(GOOD + "Match Address *\n  PermitRootLogin yes\n"),
         sshd_t(root_no, [ROOT]), "fail"),
    Case(R, "match-user-root-yes", config(GOOD + "Match User root\n  PermitRootLogin yes\n"),
         sshd_t(root_no, [ROOT]), "fail"),
    Case(R, "match-cidr-with-negation", config(
         GOOD + "Match User root Address 10.0.0.0/8,!10.9.9.9\n  PermitRootLogin yes\n"),
         sshd_t(root_no, [ROOT_FROM_10]), "fail"),
    Case(R, "match-other-user-only", config(GOOD + "Match User alice,bob\n"
         "  PermitRootLogin yes\n"), sshd_t(root_no, [ROOT]), "pass"),
    Case(R, "match-everyone-but-root", config(GOOD + "Match User *,!root\n"
         "  PermitRootLogin yes\n"), sshd_t(root_no, [ROOT]), "pass"),
    Case(R, "match-group-root-is-in", State(
         files={CONFIG: GOOD + "Match Group cii-admins\n  PermitRootLogin yes\n"},
         setup=["groupadd cii-admins", "usermod -a -G cii-admins root"], pid=True),
         sshd_t(root_no, [ROOT]), "fail"),
    Case(R, "match-localport", config("Port 22\nPort 2222\n" + GOOD
         + "Match LocalPort 2222\n  PermitRootLogin yes\n"),
         sshd_t(root_no, [ROOT_ON_2222]), "fail"),
    Case(R, "match-host-wildcard", config(GOOD + "Match Host *.admin.example\n"
         "  PermitRootLogin yes\n"), sshd_t(root_no, [ROOT_FROM_ADMIN]), "fail"),
    Case(R, "match-all", config(GOOD + "Match all\n  PermitRootLogin yes\n"),
         sshd_t(root_no, [ROOT]), "fail"),
    Case(R, "match-keyword-equals-syntax", config(GOOD + "Match User=root\n"
         "  PermitRootLogin=yes\n"), sshd_t(root_no, [ROOT]), "fail"),
    Case(R, "match-in-an-include", config("Include /etc/ssh/sshd_config.d/*.conf\n" + GOOD,
         site="Match User root\n  PermitRootLogin yes\n"), sshd_t(root_no, [ROOT]), "fail"),
    Case(R, "include-first-wins", config("Include /etc/ssh/sshd_config.d/*.conf\n" + GOOD,
         site="PermitRootLogin yes\n"), sshd_t(root_no, [ROOT]), "fail"),
    Case(R, "duplicate-first-wins", config("PermitRootLogin yes\nPermitRootLogin no\n"),
         sshd_t(root_no, [ROOT]), "fail"),
    Case(R, "crlf-line-end", config("PermitRootLogin no\r\nX11Forwarding no\r\n"),
         sshd_t(root_no, [ROOT]), "pass"),
    Case(R, "comment-with-cr-and-controls", config("#\rPermitRootLogin yes\n#\x1c\x85x\n"
         + GOOD), sshd_t(root_no, [ROOT]), "pass"),
    Case(R, "commented-out-default-applies", config("#PermitRootLogin no\n"),
         sshd_t(root_no, [ROOT]), "fail"),
    Case(R, "mixed-case-keyword-and-value", config("permitROOTlogin No\n"),
         sshd_t(root_no, [ROOT]), "pass"),
    Case(R, "more-match-blocks-than-the-bound", config(MANY_BLOCKS), sshd_t(root_no, [
         "user=root,host=cii-oracle.invalid,addr=172.16.0.1,laddr=127.0.0.1,lport=22"]),
         "fail", noncompliant_verdict="error"),
    Case(R, "config-sshd-refuses", config(GOOD + "PermitRootLogn no\n"),
         sshd_t(root_no, [ROOT]), "fail", noncompliant_verdict="error"),
]

# A real sshd, started in the state's namespaces; the strongest consumer: can root log in?
LOGIN = login_as_root(next_start(), root_no)
START = f"{SSHD} -p {PORT}"
# root's home (so root's key), and not locked ('!' would stop sshd before PermitRootLogin)
TOOR = "useradd -o -u 0 -g 0 -M -d /root -s /bin/sh -p '*' toor"
RUNNING_CASES = [
    Case(R, "running-as-configured", daemon({CONFIG: GOOD}, START), LOGIN, "pass"),
    Case(R, "running-with-o-option", daemon({CONFIG: GOOD}, f"{START} -o PermitRootLogin=yes"),
         LOGIN, "fail"),
    Case(R, "running-with-o-keyword-space-value",
         daemon({CONFIG: GOOD}, f"{START} -o 'PermitRootLogin yes' -D &"), LOGIN, "fail"),
    Case(R, "running-with-clustered-flags", daemon({CONFIG: GOOD},
         f"{SSHD} -4ep{PORT} -oPermitRootLogin=yes &"), LOGIN, "fail"),
    Case(R, "running-with-other-config-file", daemon(
         {CONFIG: GOOD, "/etc/ssh/sshd_alt_config": "PermitRootLogin yes\n"},
         f"{START} -f /etc/ssh/sshd_alt_config"), LOGIN, "fail"),
    Case(R, "running-not-reloaded-after-fix", daemon(
         {CONFIG: "PermitRootLogin yes\n"}, START, [f"echo 'PermitRootLogin no' > {CONFIG}"]),
         LOGIN, "fail", noncompliant_verdict="error"),
    Case(R, "running-fine-but-file-broken-for-next-start", daemon(
         {CONFIG: GOOD}, START, [f"echo 'PermitRootLogin yes' > {CONFIG}"]), LOGIN, "fail"),
    Case(R, "running-dropin-added-without-reload", daemon(
         {CONFIG: "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin yes\n",
          "/etc/ssh/sshd_config.d/keep.txt": ""}, START,
         ["echo 'PermitRootLogin no' > /etc/ssh/sshd_config.d/00-fix.conf"]),
         LOGIN, "fail", noncompliant_verdict="error"),
    # sshd's PermitRootLogin governs every account of uid 0 (auth.c: pw->pw_uid == 0),
    # whatever its name: a second uid-0 account is root to it
    Case(R, "uid0-alias-allowed-by-its-own-match-block", daemon(
         {CONFIG: GOOD + "Match User toor\n  PermitRootLogin yes\n"}, START, [TOOR]),
         login_as_root(user="toor"), "fail"),
    Case(R, "uid0-alias-refused-like-root", daemon({CONFIG: GOOD}, START, [TOOR]),
         login_as_root(user="toor"), "pass"),
    Case(R, "running-sshd-outside-path", daemon(
         {CONFIG: GOOD, "/usr/sbin/sshd": None,
          "/usr/lib/cii-hidden/sshd": Path(SSHD).read_bytes()},
         f"/usr/lib/cii-hidden/sshd -p {PORT} -o PermitRootLogin=yes",
         modes={"/usr/lib/cii-hidden/sshd": 0o755}), login_as_root(), "fail"),
]

OTHER_CASES = [
    Case("ssh.empty-passwords-disabled", "stock", config("UsePAM yes\n"), sshd_t(empty_no),
         "pass"),
    Case("ssh.empty-passwords-disabled", "match-address-any", config(
         "PermitEmptyPasswords no\nMatch Address *\n  PermitEmptyPasswords yes\n"),
         sshd_t(empty_no), "fail"),
    Case("ssh.empty-passwords-disabled", "global-yes", config("PermitEmptyPasswords yes\n"),
         sshd_t(empty_no), "fail"),
    Case("ssh.x11-forwarding-disabled", "global-no", config("X11Forwarding no\n"),
         sshd_t(x11_no), "pass"),
    Case("ssh.x11-forwarding-disabled", "debian-stock", config(
         "Include /etc/ssh/sshd_config.d/*.conf\nX11Forwarding yes\n"), sshd_t(x11_no), "fail"),
    Case("ssh.x11-forwarding-disabled", "match-one-user", config(
         "X11Forwarding no\nMatch User alice\n  X11Forwarding yes\n"),
         sshd_t(x11_no, [ALICE]), "fail"),
    Case("ssh.x11-forwarding-disabled", "running-with-o-yes", daemon(
         {CONFIG: "X11Forwarding no\n"}, f"{START} -o X11Forwarding=yes"),
         sshd_t(x11_no, [ROOT], ["-p", PORT, "-o", "X11Forwarding=yes"]), "fail"),
    Case("ssh.max-auth-tries", "four", config("MaxAuthTries 4\n"), sshd_t(max_tries), "pass"),
    Case("ssh.max-auth-tries", "default-six", config("UsePAM yes\n"), sshd_t(max_tries), "fail"),
    Case("ssh.max-auth-tries", "match-address-hundred", config(
         "MaxAuthTries 3\nMatch Address *\n  MaxAuthTries 100\n"), sshd_t(max_tries), "fail"),
    Case("ssh.max-auth-tries", "first-of-two-wins", config("MaxAuthTries 3\nMaxAuthTries 10\n"),
         sshd_t(max_tries), "pass"),
    Case("ssh.idle-timeout", "300-3", config("ClientAliveInterval 300\nClientAliveCountMax 3\n"),
         sshd_t(idle), "pass"),
    Case("ssh.idle-timeout", "default-off", config("UsePAM yes\n"), sshd_t(idle), "fail"),
    Case("ssh.idle-timeout", "match-root-off", config(
         "ClientAliveInterval 300\nMatch User root\n  ClientAliveInterval 0\n"),
         sshd_t(idle), "fail"),
    Case("ssh.idle-timeout", "interval-with-unit", config(
         "ClientAliveInterval 5m\nClientAliveCountMax 3\n"), sshd_t(idle), "pass"),
    Case("ssh.banner-configured", "issue-net", config("Banner /etc/issue.net\n"),
         sshd_t(banner_set), "pass"),
    Case("ssh.banner-configured", "default-none", config("UsePAM yes\n"), sshd_t(banner_set),
         "fail"),
    Case("ssh.banner-configured", "match-address-none", config(
         "Banner /etc/issue.net\nMatch Address *\n  Banner none\n"), sshd_t(banner_set), "fail"),
    Case("ssh.multi-factor-required", "publickey-then-otp", config(
         "AuthenticationMethods publickey,keyboard-interactive\n"), sshd_t(two_factors), "pass"),
    Case("ssh.multi-factor-required", "default-any", config("UsePAM yes\n"),
         sshd_t(two_factors), "fail"),
    Case("ssh.multi-factor-required", "match-root-single-factor", config(
         "AuthenticationMethods publickey,keyboard-interactive\nMatch User root\n"
         "  AuthenticationMethods publickey password\n"), sshd_t(two_factors), "fail"),
    Case("ssh.multi-factor-required", "one-alternative-single", config(
         "AuthenticationMethods publickey,password publickey\n"), sshd_t(two_factors), "fail"),
    Case("ssh.strong-crypto", "debian-defaults", config("UsePAM yes\n"), sshd_t(strong_crypto),
         "pass"),
    Case("ssh.strong-crypto", "cbc-appended", config("Ciphers +aes128-cbc\n"),
         sshd_t(strong_crypto), "fail"),
    Case("ssh.strong-crypto", "sha1-kex-appended", config(
         "KexAlgorithms +diffie-hellman-group14-sha1\n"), sshd_t(strong_crypto), "fail"),
    Case("ssh.strong-crypto", "md5-mac", config("MACs hmac-md5,hmac-sha2-256\n"),
         sshd_t(strong_crypto), "fail"),
    Case("ssh.strong-crypto", "cbc-removed-by-minus", config(
         "Ciphers -*-cbc\nMACs -*-96,*md5*\n"), sshd_t(strong_crypto), "pass"),
]

CP = "ssh.config-permissions"
HK = "ssh.host-keys-permissions"
ED = "/etc/ssh/ssh_host_ed25519_key"
CUSTOM_KEY = "/etc/ssh/cii_keys/host_ed25519"
CONFIG_DAC = nobody_member_owner_locked_out(CONFIG)
KEY_DAC = nobody_member_owner_locked_out(ED, exempt_group="ssh_keys")
FILE_CASES = [
    Case(CP, "0600-root", file_state(CONFIG, 0o600), CONFIG_DAC, "pass"),
    Case(CP, "0400-root", file_state(CONFIG, 0o400), CONFIG_DAC, "pass"),
    Case(CP, "0700-owner-execute-bit-grants-nobody-else", file_state(CONFIG, 0o700),
         CONFIG_DAC, "pass"),
    Case(CP, "debian-stock-0644", file_state(CONFIG, 0o644), CONFIG_DAC, "fail"),
    Case(CP, "0640-group-adm", file_state(CONFIG, 0o640, "root:adm"), CONFIG_DAC, "fail"),
    Case(CP, "0640-group-root", file_state(CONFIG, 0o640), CONFIG_DAC, "fail"),
    Case(CP, "0602-world-writable-only", file_state(CONFIG, 0o602), CONFIG_DAC, "fail"),
    Case(CP, "owner-not-root", file_state(CONFIG, 0o600, "nobody:root"), CONFIG_DAC, "fail"),
    Case(CP, "symlink-to-a-readable-file", file_state(
         "/etc/ssh/cii_real_config", 0o644, setup=[
             f"cp {CONFIG} /etc/ssh/cii_real_config", f"rm {CONFIG}",
             f"ln -s cii_real_config {CONFIG}"]), CONFIG_DAC, "fail"),
    Case(HK, "0600-root", file_state(ED, 0o600), KEY_DAC, "pass"),
    Case(HK, "0400-root", file_state(ED, 0o400), KEY_DAC, "pass"),
    Case(HK, "0700-owner-execute-bit", file_state(ED, 0o700), KEY_DAC, "pass"),
    Case(HK, "0644", file_state(ED, 0o644), KEY_DAC, "fail"),
    Case(HK, "0640-group-adm", file_state(ED, 0o640, "root:adm"), KEY_DAC, "fail"),
    Case(HK, "0640-group-ssh-keys-rhel", file_state(ED, 0o640, "root:ssh_keys",
         setup=["groupadd -r ssh_keys"]), KEY_DAC, "pass"),
    Case(HK, "0740-group-ssh-keys", file_state(ED, 0o740, "root:ssh_keys",
         setup=["groupadd -r ssh_keys"]), KEY_DAC, "pass"),
    Case(HK, "0660-group-ssh-keys-writable", file_state(ED, 0o660, "root:ssh_keys",
         setup=["groupadd -r ssh_keys"]), nobody_member_owner_locked_out(ED), "fail"),
    Case(HK, "owner-not-root", file_state(ED, 0o600, "nobody:root"), KEY_DAC, "fail"),
    # the default glob misses a key sshd_config names elsewhere: sshd says which keys it loads
    Case(HK, "hostkey-outside-the-default-glob-readable", State(
         files={CONFIG: f"HostKey {ED}\nHostKey {CUSTOM_KEY}\n"},
         setup=[f"useradd -M -N -s /bin/sh {MEMBER}", "mkdir -p /etc/ssh/cii_keys",
                f"ssh-keygen -q -t ed25519 -N '' -f {CUSTOM_KEY}", f"chmod 0644 {CUSTOM_KEY}"],
         pid=True), nobody_member_owner_locked_out(CUSTOM_KEY), "fail"),
    Case(HK, "hostkey-outside-the-default-glob-protected", State(
         files={CONFIG: f"HostKey {ED}\nHostKey {CUSTOM_KEY}\n"},
         setup=[f"useradd -M -N -s /bin/sh {MEMBER}", "mkdir -p /etc/ssh/cii_keys",
                f"ssh-keygen -q -t ed25519 -N '' -f {CUSTOM_KEY}"], pid=True),
         nobody_member_owner_locked_out(CUSTOM_KEY), "pass"),
]

CASES = [*ROOT_CASES, *RUNNING_CASES, *OTHER_CASES, *FILE_CASES]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_consumer_decides(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)
