"""重大风险隐患: the findings that decide an assessment on their own.

The 2025 网络安全等级保护测评报告 template no longer leads with a single score; it asks
whether any 重大风险隐患 (major-risk trigger) is present, each of which makes the result
non-compliant whatever else passes. A rule that detects such a trigger names it in the
baseline (``major_risk: ID``) and every human report shows those rules first.

The list is closed, so a baseline cannot invent a trigger, and short: only what a host
scan can show. The assessor's own criteria (判例) stay authoritative.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MajorRisk:
    id: str
    en: str
    zh: str


MAJOR_RISKS: tuple[MajorRisk, ...] = (
    MajorRisk("weak-credentials", "Empty or weak passwords accepted",
              "存在空口令或弱口令"),
    MajorRisk("cleartext-remote-admin", "Remote administration in clear text",
              "远程管理采用明文传输"),
    MajorRisk("no-audit", "No security audit of the host",
              "未开启安全审计"),
    MajorRisk("unpatched-high-risk", "Known high-risk vulnerabilities left unpatched",
              "存在可被利用的高危漏洞未修补"),
    MajorRisk("no-malware-protection", "No malicious-code protection",
              "未采取恶意代码防范措施"),
)

BY_ID = {risk.id: risk for risk in MAJOR_RISKS}


def title(risk_id: str, lang: str) -> str:
    """The trigger's name in ``lang`` (``zh`` or ``en``)."""
    risk = BY_ID[risk_id]
    return risk.zh if lang == "zh" else risk.en
