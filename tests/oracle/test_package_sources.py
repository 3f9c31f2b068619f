"""packages.gpgcheck: apt and dnf decide whether a repository's packages go unverified.

apt is asked for real: a local flat repository with a Release file and no signature is
built in the namespace (``file:/var/cii-repo ./``), then ``apt-get update`` and
``apt-get install --download-only`` run against it (lists and archives in the overlaid
/var). apt refuses an unsigned repository unless something tells it not to; the state is
compliant only when apt stored no index of it and fetched no package from it. The
machine's own sources are hidden, so nothing leaves the namespace.

dnf is asked through its own configuration reader (``dnf.Base.read_all_repos``): the
state is compliant only when every enabled repository resolves to ``gpgcheck`` on. Each
dnf state runs twice: once with dnf's Python module visible to the scanner (it asks dnf),
once with it hidden from the scanner (it reads the files), the consumer still asking the
real dnf from a copy of the module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.oracle._oracle import Answer, Ask, Case, Consumer, State, case_id, check_case

RULE = "packages.gpgcheck"
REPO = "/var/cii-repo"
LISTS = "/var/lib/cii-oracle-lists"
APT_DIRS = ["-o", f"Dir::State::Lists={LISTS}",
            "-o", "Dir::Cache::Archives=/var/cache/cii-archives"]

_BUILD_REPO = [
    f"mkdir -p {REPO}/pkg/DEBIAN {LISTS}/partial /var/cache/cii-archives/partial",
    f"printf 'Package: ciitest\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: t <t@example.org>"
    f"\\nDescription: oracle\\n' > {REPO}/pkg/DEBIAN/control",
    f"dpkg-deb -Zgzip --build {REPO}/pkg {REPO}/ciitest_1.0_all.deb >/dev/null",
    f"rm -rf {REPO}/pkg",
    f"(cd {REPO} && dpkg-scanpackages -m . /dev/null > Packages 2>/dev/null)",
    f"(cd {REPO} && printf 'Origin: cii\\nLabel: cii\\nSuite: cii\\nCodename: cii\\nDate: %s\\n"
    "SHA256:\\n %s %s Packages\\n' \"$(date -Ru)\" \"$(sha256sum Packages | cut -d' ' -f1)\" "
    "\"$(stat -c %s Packages)\" > Release)",
    # the machine's own sources would reach the network: hide every one of them
    "for f in /etc/apt/sources.list.d/*; do case \"${f##*/}\" in cii-*) ;; *) rm -f \"$f\";; "
    "esac; done",
]


def _apt_decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
    update, install, lists = answers
    index_kept = "cii-repo" in lists.stdout
    return not index_kept and not install.ok and "could not be read" not in update.stderr


APT = Consumer(
    "apt-get update + install --download-only (local unsigned repository)",
    [Ask(["apt-get", "update", *APT_DIRS]),
     Ask(["apt-get", "install", "-y", "--download-only", *APT_DIRS, "ciitest"]),
     Ask(["ls", LISTS])],
    _apt_decide)


def apt_case(name: str, intent: str, files: Mapping[str, str | None],
             noncompliant: str = "fail") -> Case:
    return Case(RULE, name, State(files={"/etc/apt/sources.list": "", **files},
                                  setup=_BUILD_REPO, overlays=["/var"]),
                APT, intent, noncompliant_verdict=noncompliant)  # type: ignore[arg-type]


LINE = f"file:{REPO} ./"
STANZA = f"Types: deb\nURIs: file:{REPO}\nSuites: ./\n"

APT_CASES = [
    apt_case("apt-unsigned-refused", "pass", {"/etc/apt/sources.list": f"deb {LINE}\n"}),
    apt_case("apt-trusted-yes", "fail", {"/etc/apt/sources.list": f"deb [trusted=yes] {LINE}\n"}),
    # StringToBool: 1/on/enable/with/0x1 are true (apt-pkg/contrib/strutl.cc)
    apt_case("apt-trusted-on", "fail", {"/etc/apt/sources.list": f"deb [trusted=on] {LINE}\n"}),
    apt_case("apt-trusted-enable", "fail",
             {"/etc/apt/sources.list": f"deb [ trusted=enable ] {LINE}\n"}),
    apt_case("apt-trusted-hex-1", "fail", {"/etc/apt/sources.list": f"deb [trusted=0x1] {LINE}\n"}),
    apt_case("apt-trusted-percent-encoded-key", "fail",
             {"/etc/apt/sources.list": f"deb [%74rusted=yes] {LINE}\n"}),
    apt_case("apt-trusted-quoted", "fail",
             {"/etc/apt/sources.list": f'deb ["trusted=yes"] {LINE}\n'}),
    apt_case("apt-trusted-no-bracket-space", "fail",
             {"/etc/apt/sources.list": f"deb [arch=all trusted=yes] {LINE}\n"}),
    # option keys are case-sensitive in one-line entries: apt ignores Trusted=
    apt_case("apt-trusted-capitalised-ignored", "pass",
             {"/etc/apt/sources.list": f"deb [Trusted=yes] {LINE}\n"}),
    apt_case("apt-trusted-later-no-wins", "pass",
             {"/etc/apt/sources.list": f"deb [trusted=yes trusted=no] {LINE}\n"}),
    apt_case("apt-trusted-two-is-not-bool", "pass",
             {"/etc/apt/sources.list": f"deb [trusted=2] {LINE}\n"}),
    apt_case("apt-comment-crlf", "pass",
             {"/etc/apt/sources.list": f"#deb [trusted=yes] {LINE}\r\ndeb {LINE}\r\n"}),
    apt_case("apt-comment-after-entry", "pass",
             {"/etc/apt/sources.list": f"deb {LINE} # [trusted=yes]\n"}),
    apt_case("apt-cr-is-not-a-line-end", "fail",
             {"/etc/apt/sources.list": f"#x\rdeb {LINE}\ndeb [trusted=yes] {LINE}\n"}),
    apt_case("apt-list-in-parts-dir", "fail",
             {"/etc/apt/sources.list.d/cii-local.list": f"deb [trusted=yes] {LINE}\n"}),
    # GetListOfFilesInDir: only .list/.sources with a valid name are read
    apt_case("apt-list-bak-ignored", "pass",
             {"/etc/apt/sources.list": f"deb {LINE}\n",
              "/etc/apt/sources.list.d/cii-local.list.bak": f"deb [trusted=yes] {LINE}\n"}),
    apt_case("apt-list-bad-name-ignored", "pass",
             {"/etc/apt/sources.list": f"deb {LINE}\n",
              "/etc/apt/sources.list.d/cii-lo cal.list": f"deb [trusted=yes] {LINE}\n"}),
    apt_case("apt-allow-insecure", "fail",
             {"/etc/apt/sources.list": f"deb [allow-insecure=yes] {LINE}\n"}),
    apt_case("apt-global-allow-insecure", "fail",
             {"/etc/apt/sources.list": f"deb {LINE}\n",
              "/etc/apt/apt.conf.d/99cii": 'Acquire::AllowInsecureRepositories "1";\n'}),
    apt_case("apt-global-allow-insecure-nested-syntax", "fail",
             {"/etc/apt/sources.list": f"deb {LINE}\n",
              "/etc/apt/apt.conf.d/99cii": "Acquire { AllowInsecureRepositories \"on\"; };\n"}),
    apt_case("apt-global-allow-insecure-commented", "pass",
             {"/etc/apt/sources.list": f"deb {LINE}\n",
              "/etc/apt/apt.conf.d/99cii": '// Acquire::AllowInsecureRepositories "1";\n'
                                           '/* Acquire::AllowInsecureRepositories "1"; */\n'}),
    # acquire-item.cc honours the global whatever the entry's own option says
    apt_case("apt-entry-no-cannot-override-global", "fail",
             {"/etc/apt/sources.list": f"deb [allow-insecure=no] {LINE}\n",
              "/etc/apt/apt.conf.d/99cii": 'Acquire::AllowInsecureRepositories "true";\n'}),
    apt_case("apt-unauthenticated-and-insecure", "fail",
             {"/etc/apt/sources.list": f"deb [allow-insecure=yes] {LINE}\n",
              "/etc/apt/apt.conf.d/99cii": 'APT::Get::AllowUnauthenticated "true";\n'}),
    apt_case("deb822-unsigned-refused", "pass", {"/etc/apt/sources.list.d/cii-l.sources": STANZA}),
    apt_case("deb822-trusted-yes", "fail",
             {"/etc/apt/sources.list.d/cii-l.sources": STANZA + "Trusted: yes\n"}),
    apt_case("deb822-trusted-field-name-any-case", "fail",
             {"/etc/apt/sources.list.d/cii-l.sources": STANZA + "trUSTed: 1\n"}),
    apt_case("deb822-trusted-second-stanza", "fail",
             {"/etc/apt/sources.list.d/cii-l.sources":
              "Types: deb\nURIs: file:/var/none\nSuites: ./\nEnabled: no\n\n"
              + STANZA + "Trusted: yes\n"}),
    apt_case("deb822-trusted-but-disabled", "pass",
             {"/etc/apt/sources.list.d/cii-l.sources": STANZA + "Trusted: yes\nEnabled: no\n"}),
    apt_case("deb822-trusted-commented", "pass",
             {"/etc/apt/sources.list.d/cii-l.sources": STANZA + "# Trusted: yes\n"}),
    apt_case("deb822-signed-by-is-no-exemption", "pass",
             {"/etc/apt/sources.list.d/cii-l.sources":
              STANZA + "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"}),
    apt_case("deb822-crlf", "fail",
             {"/etc/apt/sources.list.d/cii-l.sources": STANZA.replace("\n", "\r\n")
              + "Trusted: yes\r\n"}),
    # a field given twice: the later one counts (pkgTagSection)
    apt_case("deb822-duplicate-trusted-field-later-yes", "fail",
             {"/etc/apt/sources.list.d/cii-l.sources": STANZA + "Trusted: no\nTrusted: yes\n"}),
    apt_case("deb822-duplicate-trusted-field-later-no", "pass",
             {"/etc/apt/sources.list.d/cii-l.sources": STANZA + "Trusted: yes\nTrusted: no\n"}),
    # an indented line continues the field before it: here it breaks Suites, apt stops
    apt_case("deb822-indented-comment-is-continuation", "fail",
             {"/etc/apt/sources.list.d/cii-l.sources": STANZA + " # x\nTrusted: yes\n"},
             noncompliant="error"),
    apt_case("deb822-trusted-continuation-line", "pass",
             {"/etc/apt/sources.list.d/cii-l.sources": STANZA + "Trusted: no\n yes\n"}),
    apt_case("deb822-allow-insecure-field", "pass",
             {"/etc/apt/sources.list.d/cii-l.sources": STANZA + "Allow-Insecure: yes\n"}),
    # sources kept where the scan does not read: it must say so, never pass
    apt_case("apt-sourceparts-elsewhere", "fail",
             {"/etc/apt/apt.conf.d/99cii": 'Dir::Etc::sourceparts "/var/cii-parts";\n',
              "/var/cii-parts/cii-x.list": f"deb [trusted=yes] {LINE}\n"}, noncompliant="error"),
    # apt refuses the whole source list: nothing can be judged, the scanner must not pass
    apt_case("apt-malformed-list", "fail",
             {"/etc/apt/sources.list": f"deb [trusted=yes {LINE}\n"}, noncompliant="error"),
]

# ---------------------------------------------------------------- signed repositories

KEY = "/var/cii-key.gpg"
_SIGN = [
    "export GNUPGHOME=/var/cii-gpg", "mkdir -p -m 0700 $GNUPGHOME",
    "gpg --batch --quiet --pinentry-mode loopback --passphrase '' "
    "--quick-gen-key 'cii oracle <o@example.org>' rsa2048 sign never 2>/dev/null",
    f"gpg --batch --export > {KEY}",
]


def _release(hash_name: str, tool: str) -> str:
    return (f"(cd {REPO} && printf 'Origin: cii\nLabel: cii\nSuite: cii\nCodename: cii\n"
            f"Date: %s\n{hash_name}:\n %s %s Packages\n' \"$(date -Ru)\" "
            f"\"$({tool} Packages | cut -d' ' -f1)\" \"$(stat -c %s Packages)\" > Release)")


def _signed_repo(hash_name: str = "SHA256", tool: str = "sha256sum") -> list[str]:
    build = [line for line in _BUILD_REPO if "> Release)" not in line]
    return [*_SIGN, *build, _release(hash_name, tool),
            f"(cd {REPO} && GNUPGHOME=/var/cii-gpg gpg --batch --yes --clearsign "
            "-o InRelease Release)"]


# A man in the middle, after a first signed update: a new package, and the signature
# either gone or made with the attacker's own key.
def _mitm(resign: bool) -> str:
    steps = [
        f"mkdir -p {REPO}/evil/DEBIAN",
        f"printf 'Package: ciievil\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: t "
        f"<t@example.org>\\nDescription: injected\\n' > {REPO}/evil/DEBIAN/control",
        f"dpkg-deb -Zgzip --build {REPO}/evil {REPO}/ciievil_1.0_all.deb >/dev/null",
        f"rm -rf {REPO}/evil {REPO}/InRelease",
        f"cd {REPO} && dpkg-scanpackages -m . /dev/null > Packages 2>/dev/null",
        _release("SHA256", "sha256sum")]
    if resign:
        steps += ["export GNUPGHOME=/var/cii-evil-gpg", "mkdir -p -m 0700 $GNUPGHOME",
                  "gpg --batch --quiet --pinentry-mode loopback --passphrase '' "
                  "--quick-gen-key 'mitm <m@example.org>' rsa2048 sign never 2>/dev/null",
                  f"gpg --batch --yes --clearsign -o {REPO}/InRelease {REPO}/Release"]
    return " && ".join(steps)


def _mitm_decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
    first, attack, _, shown, install = answers
    assert first.ok and attack.ok, first.stderr + attack.stderr
    return not shown.ok and not install.ok


def mitm(resign: bool) -> Consumer:
    how = "re-signed with another key" if resign else "signature stripped"
    return Consumer(
        f"apt-get update, {how}, update again, injected package known or installable",
        [Ask(["apt-get", "update", *APT_DIRS]), Ask(["sh", "-c", _mitm(resign)]),
         Ask(["apt-get", "update", *APT_DIRS]), Ask(["apt-cache", "show", *APT_DIRS, "ciievil"]),
         Ask(["apt-get", "install", "-y", "--download-only", *APT_DIRS, "ciievil"])],
        _mitm_decide)


STRIPPED = mitm(resign=False)
RESIGNED = mitm(resign=True)


def signed_case(name: str, intent: str, options: str, consumer: Consumer = STRIPPED,
                repo: Sequence[str] = (), conf: str | None = None) -> Case:
    files: dict[str, str | None] = {
        "/etc/apt/sources.list": f"deb [signed-by={KEY}{options}] {LINE}\n"}
    if conf is not None:
        files["/etc/apt/apt.conf.d/99cii"] = conf
    return Case(RULE, name, State(files=files, setup=list(repo or _signed_repo()),
                                  overlays=["/var"]),
                consumer, intent)  # type: ignore[arg-type]


SIGNED_CASES = [
    signed_case("signed-stripped-refused", "pass", ""),
    # acquire-item.cc: the downgrade check passes, the unsigned check after it still fails
    signed_case("signed-downgrade-option-alone", "pass", " allow-downgrade-to-insecure=yes"),
    signed_case("signed-downgrade-global-alone", "pass", "",
                conf='Acquire::AllowDowngradeToInsecureRepositories "true";\n'),
    signed_case("signed-downgrade-and-insecure", "fail",
                " allow-downgrade-to-insecure=yes allow-insecure=yes"),
    signed_case("signed-resigned-refused", "pass", "", RESIGNED),
    # only MD5 in the Release file: "weak security information", refused unless allow-weak
    signed_case("signed-md5-only-refused", "pass", "", APT, _signed_repo("MD5Sum", "md5sum")),
    signed_case("signed-md5-only-allow-weak", "fail", " allow-weak=yes", APT,
                _signed_repo("MD5Sum", "md5sum")),
    signed_case("signed-md5-only-global-weak", "fail", "", APT, _signed_repo("MD5Sum", "md5sum"),
                conf='Acquire::AllowWeakRepositories "yes";\n'),
]

# ---------------------------------------------------------------- dnf

DNF_COPY = "/var/cii-dnf"
_HIDE_DNF = [f"mkdir -p {DNF_COPY}",
             f"cp -a /usr/lib/python3/dist-packages/dnf {DNF_COPY}/dnf",
             "rm -rf /usr/lib/python3/dist-packages/dnf"]
_DNF_PROGRAM = "\n".join([
    "import dnf",
    "b = dnf.Base()",
    "b.conf.read()",
    "if b.conf.substitutions.get('releasever') is None:",
    "    b.conf.substitutions['releasever'] = ''",
    "b.read_all_repos()",
    "print(' '.join(r.id for r in b.repos.all() if r.enabled and not r.gpgcheck) or 'none')",
])


def _dnf_decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
    (asked,) = answers
    assert asked.ok, asked.stderr
    return asked.stdout.strip() == "none"


def dnf_cases(name: str, intent: str, files: Mapping[str, str | None]) -> list[Case]:
    consumer = Consumer("dnf.Base.read_all_repos (dnf 4 configuration reader)",
                        [Ask(["/usr/bin/python3", "-c", _DNF_PROGRAM],
                             env={"PYTHONPATH": DNF_COPY})], _dnf_decide)
    base = {"/etc/apt/sources.list": "", "/etc/apt/sources.list.d/debian.sources": None}
    return [
        Case(RULE, f"dnf-asked-{name}", State(files={**base, **files}, overlays=["/var"],
                                              setup=[f"mkdir -p {DNF_COPY}"]),
             consumer, intent),  # type: ignore[arg-type]
        Case(RULE, f"dnf-read-{name}", State(files={**base, **files}, setup=_HIDE_DNF,
                                             overlays=["/var", "/usr"]),
             consumer, intent),  # type: ignore[arg-type]
    ]


MAIN_ON = "[main]\ngpgcheck=1\n"
REPO_A = "[a]\nname=a\nbaseurl=file:///srv/a\n"

DNF_CASES = [
    *dnf_cases("main-on", "pass", {"/etc/dnf/dnf.conf": MAIN_ON,
                                   "/etc/yum.repos.d/a.repo": REPO_A}),
    # libdnf ConfigMain: gpgcheck defaults to False
    *dnf_cases("main-absent-default-off", "fail", {"/etc/dnf/dnf.conf": "[main]\n",
                                                   "/etc/yum.repos.d/a.repo": REPO_A}),
    *dnf_cases("repo-off", "fail", {"/etc/dnf/dnf.conf": MAIN_ON,
                                    "/etc/yum.repos.d/a.repo": REPO_A + "gpgcheck=0\n"}),
    *dnf_cases("repo-off-but-disabled", "pass",
               {"/etc/dnf/dnf.conf": MAIN_ON,
                "/etc/yum.repos.d/a.repo": REPO_A + "gpgcheck=0\nenabled=off\n"}),
    *dnf_cases("repo-yes-any-case", "pass",
               {"/etc/dnf/dnf.conf": "[main]\n", "/etc/yum.repos.d/a.repo":
                REPO_A + "gpgcheck = YES\n"}),
    *dnf_cases("repo-invalid-bool-falls-back", "fail",
               {"/etc/dnf/dnf.conf": "[main]\n",
                "/etc/yum.repos.d/a.repo": REPO_A + "gpgcheck=1 # on\n"}),
    *dnf_cases("repo-key-case-sensitive", "fail",
               {"/etc/dnf/dnf.conf": "[main]\n", "/etc/yum.repos.d/a.repo":
                REPO_A + "GPGCHECK=1\n"}),
    *dnf_cases("repo-last-key-wins", "fail",
               {"/etc/dnf/dnf.conf": MAIN_ON,
                "/etc/yum.repos.d/a.repo": REPO_A + "gpgcheck=1\ngpgcheck=0\n"}),
    *dnf_cases("repo-crlf", "fail",
               {"/etc/dnf/dnf.conf": MAIN_ON,
                "/etc/yum.repos.d/a.repo": (REPO_A + "gpgcheck=0\n").replace("\n", "\r\n")}),
    *dnf_cases("repo-semicolon-comment", "pass",
               {"/etc/dnf/dnf.conf": MAIN_ON,
                "/etc/yum.repos.d/a.repo": REPO_A + ";gpgcheck=0\n#gpgcheck=0\n"}),
    *dnf_cases("repo-continuation-line", "pass",
               {"/etc/dnf/dnf.conf": MAIN_ON,
                "/etc/yum.repos.d/a.repo": REPO_A + "gpgcheck=1\n  gpgcheck=0\n"}),
    *dnf_cases("repo-section-in-dnf-conf", "fail",
               {"/etc/dnf/dnf.conf": MAIN_ON + REPO_A.replace("[a]", "[inmain]")
                + "gpgcheck=0\n"}),
    *dnf_cases("repo-file-other-extension-ignored", "pass",
               {"/etc/dnf/dnf.conf": MAIN_ON,
                "/etc/yum.repos.d/a.repo.rpmsave": REPO_A + "gpgcheck=0\n"}),
    *dnf_cases("repo-file-unloadable-skipped", "pass",
               {"/etc/dnf/dnf.conf": MAIN_ON,
                "/etc/yum.repos.d/a.repo": REPO_A + "gpgcheck=0\nthis is no option\n"}),
    *dnf_cases("repo-duplicate-id-first-wins", "fail",
               {"/etc/dnf/dnf.conf": MAIN_ON,
                "/etc/yum.repos.d/a.repo": REPO_A + "gpgcheck=0\n",
                "/etc/yum.repos.d/b.repo": REPO_A + "gpgcheck=1\n"}),
    # dnf reads dnf.conf, never /etc/yum.conf (a separate file on this host)
    *dnf_cases("yum-conf-ignored-by-dnf", "pass",
               {"/etc/dnf/dnf.conf": MAIN_ON,
                "/etc/yum.conf": "[main]\ngpgcheck=0\n" + REPO_A + "gpgcheck=0\n"}),
]

CASES = [*APT_CASES, *SIGNED_CASES, *DNF_CASES]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_consumer_decides(case: Case, tmp_path: Path) -> None:
    check_case(case, tmp_path)
