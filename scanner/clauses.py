"""GB/T 22239-2019 level 3, 8.1.4 (security computing environment): the items rules map to.

The titles are short paraphrases for reports and the coverage matrix, not the
standard's text. Item ids are the form rules use in ``references.gbt22239-2019``
(``"8.1.4.2 b"``; areas with a single requirement use the area id alone).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scanner.baseline import Baseline, Rule

REFERENCE_KEY = "gbt22239-2019"


@dataclass(frozen=True)
class Clause:
    id: str
    area: str
    en: str
    zh: str


@dataclass(frozen=True)
class Area:
    id: str
    en: str
    zh: str


AREAS: tuple[Area, ...] = (
    Area("8.1.4.1", "Identification and authentication", "身份鉴别"),
    Area("8.1.4.2", "Access control", "访问控制"),
    Area("8.1.4.3", "Security audit", "安全审计"),
    Area("8.1.4.4", "Intrusion prevention", "入侵防范"),
    Area("8.1.4.5", "Malicious code prevention", "恶意代码防范"),
    Area("8.1.4.6", "Trusted verification", "可信验证"),
    Area("8.1.4.7", "Data integrity", "数据完整性"),
    Area("8.1.4.8", "Data confidentiality", "数据保密性"),
    Area("8.1.4.9", "Data backup and recovery", "数据备份恢复"),
    Area("8.1.4.10", "Residual information protection", "剩余信息保护"),
    Area("8.1.4.11", "Personal information protection", "个人信息保护"),
)

CLAUSES: tuple[Clause, ...] = (
    Clause("8.1.4.1 a", "8.1.4.1", "Unique identities; complex passwords changed periodically",
           "用户身份唯一标识，口令具有复杂度并定期更换"),
    Clause("8.1.4.1 b", "8.1.4.1", "Login-failure handling: lockout, attempt limit, idle logout",
           "登录失败处理：结束会话、限制非法登录次数、超时自动退出"),
    Clause("8.1.4.1 c", "8.1.4.1", "Remote administration over an encrypted channel",
           "远程管理时防止鉴别信息在网络传输中被窃听"),
    Clause("8.1.4.1 d", "8.1.4.1", "Two or more authentication factors, one cryptographic",
           "采用两种或以上组合的鉴别技术，其中一种使用密码技术"),
    Clause("8.1.4.2 a", "8.1.4.2", "Accounts and privileges assigned to users",
           "为登录用户分配账户和权限"),
    Clause("8.1.4.2 b", "8.1.4.2", "Default accounts renamed or removed, default passwords changed",
           "重命名或删除默认账户，修改默认口令"),
    Clause("8.1.4.2 c", "8.1.4.2", "Surplus and expired accounts removed; no shared accounts",
           "及时删除或停用多余、过期账户，避免共享账户"),
    Clause("8.1.4.2 d", "8.1.4.2", "Least privilege; separation of administrator roles",
           "授予最小权限，实现管理用户的权限分离"),
    Clause("8.1.4.2 e", "8.1.4.2", "Access-control policy set by an authorised subject",
           "由授权主体配置访问控制策略"),
    Clause("8.1.4.2 f", "8.1.4.2", "Access control down to user/process and file level",
           "访问控制粒度达到主体为用户级或进程级，客体为文件、数据库表级"),
    Clause("8.1.4.2 g", "8.1.4.2", "Security labels on important subjects and objects",
           "对重要主体和客体设置安全标记并控制访问"),
    Clause("8.1.4.3 a", "8.1.4.3", "Audit enabled, covering every user and important events",
           "启用安全审计功能，覆盖到每个用户，对重要的用户行为和安全事件进行审计"),
    Clause("8.1.4.3 b", "8.1.4.3", "Records hold date, time, user, event type and result",
           "审计记录包括事件的日期和时间、用户、事件类型、事件是否成功等"),
    Clause("8.1.4.3 c", "8.1.4.3", "Records protected and backed up; retained",
           "对审计记录进行保护，定期备份，避免非预期的删除、修改或覆盖"),
    Clause("8.1.4.3 d", "8.1.4.3", "Audit process protected from interruption",
           "对审计进程进行保护，防止未经授权的中断"),
    Clause("8.1.4.4 a", "8.1.4.4", "Minimal installation of components and applications",
           "遵循最小安装原则，仅安装需要的组件和应用程序"),
    Clause("8.1.4.4 b", "8.1.4.4", "Unneeded services, shares and high-risk ports closed",
           "关闭不需要的系统服务、默认共享和高危端口"),
    Clause("8.1.4.4 c", "8.1.4.4", "Management terminals restricted by method or address",
           "通过设定终端接入方式或网络地址范围对管理终端进行限制"),
    Clause("8.1.4.4 d", "8.1.4.4",
           "Input through human-machine and communication interfaces checked for validity",
           "提供数据有效性检验功能，保证通过人机接口或通信接口输入的内容符合系统设定要求"),
    Clause("8.1.4.4 e", "8.1.4.4", "Known vulnerabilities found and patched",
           "发现可能存在的已知漏洞，并在经过充分测试评估后及时修补"),
    Clause("8.1.4.4 f", "8.1.4.4", "Intrusions detected and alarmed",
           "检测到对重要节点进行入侵的行为，并在发生严重入侵事件时提供报警"),
    Clause("8.1.4.5", "8.1.4.5", "Anti-malware or active immunity, updated",
           "采用免受恶意代码攻击的技术措施或主动免疫可信验证机制"),
    Clause("8.1.4.6", "8.1.4.6", "Trusted verification of boot and applications",
           "基于可信根对系统引导程序、系统程序等进行可信验证"),
    Clause("8.1.4.7 a", "8.1.4.7", "Integrity of important data in transit",
           "采用校验技术或密码技术保证重要数据在传输过程中的完整性"),
    Clause("8.1.4.7 b", "8.1.4.7", "Integrity of important data at rest",
           "采用校验技术或密码技术保证重要数据在存储过程中的完整性"),
    Clause("8.1.4.8 a", "8.1.4.8", "Confidentiality of important data in transit",
           "采用密码技术保证重要数据在传输过程中的保密性"),
    Clause("8.1.4.8 b", "8.1.4.8", "Confidentiality of important data at rest",
           "采用密码技术保证重要数据在存储过程中的保密性"),
    Clause("8.1.4.9 a", "8.1.4.9", "Local backup and recovery of important data",
           "提供重要数据的本地数据备份与恢复功能"),
    Clause("8.1.4.9 b", "8.1.4.9", "Off-site real-time backup",
           "提供异地实时备份功能"),
    Clause("8.1.4.9 c", "8.1.4.9", "Hot redundancy of important systems",
           "提供重要数据处理系统的热冗余"),
    Clause("8.1.4.10 a", "8.1.4.10", "Authentication data cleared on release",
           "保证鉴别信息所在的存储空间被释放或重新分配前得到完全清除"),
    Clause("8.1.4.10 b", "8.1.4.10", "Sensitive data cleared on release",
           "保证存有敏感数据的存储空间被释放或重新分配前得到完全清除"),
    Clause("8.1.4.11 a", "8.1.4.11", "Only necessary personal information collected",
           "仅采集和保存业务必需的用户个人信息"),
    Clause("8.1.4.11 b", "8.1.4.11", "Unauthorised access to personal information prevented",
           "禁止未授权访问和非法使用用户个人信息"),
)


@dataclass(frozen=True)
class ClauseCoverage:
    clause: Clause
    automated: tuple[str, ...]
    manual: tuple[str, ...]

    @property
    def covered(self) -> bool:
        return bool(self.automated or self.manual)


def clause_ids_of(rule: Rule) -> list[str]:
    """The 8.1.4 items a rule references (a reference to an area covers the area's items)."""
    return clause_ids_in(rule.references)


def clause_ids_in(references: Mapping[str, Sequence[str]]) -> list[str]:
    """:func:`clause_ids_of` for a rule's ``references`` alone (as the findings document's
    rule catalog carries them)."""
    found: list[str] = []
    for reference in references.get(REFERENCE_KEY, ()):
        text = reference.strip()
        matches = [c.id for c in CLAUSES if c.id == text] or [
            c.id for c in CLAUSES if c.area == text
        ]
        found.extend(m for m in matches if m not in found)
    return found


def unknown_references(rules: Iterable[Rule]) -> list[tuple[str, str]]:
    """(rule id, reference) pairs that name no 8.1.4 item: typos to fix in a baseline."""
    known = {c.id for c in CLAUSES} | {a.id for a in AREAS}
    return [(rule.id, ref) for rule in rules for ref in rule.references.get(REFERENCE_KEY, ())
            if ref.strip() not in known]


def coverage_matrix(baseline: Baseline) -> list[ClauseCoverage]:
    """For each 8.1.4 item, the enabled rules that check it automatically or need a human."""
    automated: dict[str, list[str]] = {c.id: [] for c in CLAUSES}
    manual: dict[str, list[str]] = {c.id: [] for c in CLAUSES}
    for rule in baseline.rules:
        bucket = manual if (rule.manual is not None or rule.check is None) else automated
        for clause_id in clause_ids_of(rule):
            bucket[clause_id].append(rule.id)
    return [ClauseCoverage(c, tuple(sorted(automated[c.id])), tuple(sorted(manual[c.id])))
            for c in CLAUSES]


def format_matrix(rows: Sequence[ClauseCoverage], lang: str = "en") -> str:
    """The coverage matrix as text: one block per item, areas as headings."""
    heading = {"en": ("automated", "manual", "NOT COVERED", "covered"),
               "zh": ("自动检查", "人工判定", "未覆盖", "已覆盖")}[lang]
    lines: list[str] = []
    for area in AREAS:
        area_rows = [r for r in rows if r.clause.area == area.id]
        covered = sum(r.covered for r in area_rows)
        lines.append(f"{area.id} {area.zh if lang == 'zh' else area.en} "
                     f"({heading[3]} {covered}/{len(area_rows)})")
        for row in area_rows:
            title = row.clause.zh if lang == "zh" else row.clause.en
            lines.append(f"  {row.clause.id:<11} {title}")
            if row.automated:
                lines.append(f"      {heading[0]}: {', '.join(row.automated)}")
            if row.manual:
                lines.append(f"      {heading[1]}: {', '.join(row.manual)}")
            if not row.covered:
                lines.append(f"      {heading[2]}")
    total = sum(r.covered for r in rows)
    lines.append(f"{heading[3]} {total}/{len(rows)}")
    return "\n".join(lines) + "\n"
