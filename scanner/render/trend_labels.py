"""The fixed text of the trend report (scanner/render/trend.py) in English and Chinese.

Both languages carry every key (a test checks). Status and severity names come from the
scan report's catalog (:mod:`scanner.render.i18n`), so both reports name them alike.
"""

from __future__ import annotations

from collections.abc import Mapping

EN: Mapping[str, str] = {
    "title": "Fleet compliance over time",
    "store": "History store",
    "generated": "Generated",
    "period": "Scans",
    "period_value": "{count} scans from {first} to {last}",
    "no_scans": "The store holds no scan yet.",
    "score": "Fleet score",
    "score_help": "The tool's own index: the severity-weighted share of passes among the "
                  "results it could decide (pass, fail, error), over every host of the scan. "
                  "It is not an assessment verdict.",
    "failures": "Failures by severity",
    "changes": "New, resolved and reopened failures per scan",
    "changes_help": "New: a host × rule failing for the first time. Resolved: passing after "
                    "a failure. Reopened: failing again after it was resolved.",
    "new": "new",
    "resolved": "resolved",
    "reopened": "reopened",
    "open_high": "Open high and critical failures by age",
    "open_high_help": "Each open failure counts from the first scan that saw it fail.",
    "age": "Age",
    "count": "Count",
    "days": "{low}–{high} days",
    "days_over": "over {low} days",
    "no_open_high": "No high or critical failure is open.",
    "areas": "Pass rate by GB/T 22239-2019 control point",
    "areas_help": "Share of passes among the decided results of the rules that check each "
                  "control point, in the last scans; a dash: no rule result.",
    "area": "Control point",
    "regressions": "Hosts that regressed in the last scan",
    "regressions_help": "Hosts with a rule that passed in the scan before and fails now.",
    "host": "Host",
    "rules": "Rules",
    "previous_scan": "Passing in",
    "no_regressions": "No host regressed.",
    "incomplete": "incomplete",
    "hosts": "hosts",
    "host_count": "Hosts",
    "scan": "Scan",
    "legend": "Legend",
}

ZH: Mapping[str, str] = {
    "title": "资产合规趋势",
    "store": "历史库",
    "generated": "生成时间",
    "period": "扫描",
    "period_value": "共 {count} 次扫描，{first} 至 {last}",
    "no_scans": "历史库中尚无扫描记录。",
    "score": "资产得分",
    "score_help": "本工具自身的指数：每次扫描全部主机可判定结果（通过、不通过、错误）"
                  "中按严重程度加权的通过比例，并非测评结论。",
    "failures": "各严重程度的不通过项",
    "changes": "每次扫描新增、已修复与重新出现的不通过项",
    "changes_help": "新增：某主机某规则首次不通过。已修复：不通过后转为通过。"
                    "重新出现：修复后再次不通过。",
    "new": "新增",
    "resolved": "已修复",
    "reopened": "重新出现",
    "open_high": "未关闭的高危及严重不通过项（按时长）",
    "open_high_help": "每一未关闭项自首次发现不通过的扫描起计算时长。",
    "age": "时长",
    "count": "数量",
    "days": "{low}–{high} 天",
    "days_over": "超过 {low} 天",
    "no_open_high": "没有未关闭的高危或严重不通过项。",
    "areas": "各 GB/T 22239-2019 控制点的通过率",
    "areas_help": "最近几次扫描中，检查该控制点的规则的可判定结果中通过所占比例；"
                  "短横线表示没有规则结果。",
    "area": "控制点",
    "regressions": "最近一次扫描中出现退步的主机",
    "regressions_help": "上一次扫描通过、本次不通过的规则所在主机。",
    "host": "主机",
    "rules": "规则",
    "previous_scan": "此前通过于",
    "no_regressions": "没有主机出现退步。",
    "incomplete": "未完成",
    "hosts": "台主机",
    "host_count": "主机数",
    "scan": "扫描",
    "legend": "图例",
}

LABELS: Mapping[str, Mapping[str, str]] = {"en": EN, "zh": ZH}
