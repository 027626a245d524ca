"""Spell a finding's evidence JSON out in Chinese for people who work the list.

The evidence written by the dbt rules is nested JSON: source records carry ``feed``,
``delivery``, ``file``, ``row`` and ``values``; a record that stands for a person also
carries ``identity`` (``role``, ``method``, ``probability``, ``detail``: how the dedupe
gate tied it to the person; a child-welfare row also ``guardian_identity``); other keys
are facts (death date, months, the hukou value). Every source record becomes one line
naming where it is and how it was tied to the person, so staff can pull the original
file and row and see why two records were taken to be one person.
"""

from __future__ import annotations

import json
import re
from typing import Any

from civlake.contracts import load_contracts
from civlake.verify.masking import mask_id

LABELS = {
    "payment_id": "发放流水号", "pay_month": "发放月份", "program_code": "项目",
    "amount": "金额", "status": "状态", "paid_at": "发放时间", "month": "月份",
    "family_no": "家庭编号", "division_code": "区划代码", "assistance_type": "救助类别",
    "tier": "档次", "monthly_standard": "月标准", "due_tier": "应属档次",
    "due_standard": "应发标准", "due_amount": "应发金额", "paid_amount": "实发金额",
    "death_date": "死亡日期", "death_month": "死亡月份", "guardian_death_date": "监护人死亡日期",
    "cert_no": "证号", "registered_on": "登记日期", "spouse_key": "配偶编号",
    "donation_no": "捐赠单号", "donated_at": "捐赠时间", "org_uscc": "组织信用代码",
    "org_name": "组织名称", "uscc": "统一社会信用代码", "name": "名称",
    "status_date": "状态日期", "abnormal_list": "异常名录", "category": "类别",
    "guardian_key": "监护人编号", "standard_key": "标准档次", "value": "值", "role": "角色",
    "recipient_of": "享受来源", "hukou": "户籍记录", "rows": "记录", "payments": "发放记录",
    "months": "月份明细", "registration": "本次登记", "existing_marriages": "在婚登记",
    "organization": "组织", "donations": "捐赠记录", "basis": "资格依据",
}  # fmt: skip

# person_source_xref.match_method, as staff read it
METHODS = {
    "id_exact": "身份证号一致",
    "id_normalized": "身份证号规范化后一致",
    "id_upgraded": "15位身份证号升18位后一致",
    "probabilistic": "概率匹配",
    "new_person": "未匹配到已知人员（新建人员）",
}
IDENTITIES = {"identity": "身份匹配", "guardian_identity": "监护人身份匹配"}
# an ID-like run of digits in free text (15/18 digits, or an invalid one near that)
_ID_LIKE = re.compile(r"(?<![0-9Xx])[0-9]{13,17}[0-9Xx](?![0-9Xx])")


def _feed_title(feed: str) -> str:
    try:
        return load_contracts()[feed].title
    except KeyError:
        return feed


def _is_record(node: Any) -> bool:
    return isinstance(node, dict) and "feed" in node and ("row" in node or "delivery" in node)


def _record_line(node: dict) -> str:
    where = f"【{_feed_title(node['feed'])}】交付 {node.get('delivery') or '-'}"
    if node.get("file"):
        where += f" 文件 {node['file']}"
    if node.get("row") is not None:
        where += f" 第{node['row']}行"
    facts = {k: v for k, v in node.items() if k not in ("feed", "delivery", "file", "row")}
    parts = [_facts(facts.pop("values", {}) | facts)]
    parts += [_identity(label, node[key]) for key, label in IDENTITIES.items() if node.get(key)]
    body = "；".join(p for p in parts if p)
    return f"{where}：{body}" if body else where


def _identity(label: str, identity: dict) -> str:
    """``身份匹配：概率匹配（0.9981）：<detail>``; the probability only where it is not
    certainty by ID. The detail is the gate's free text: ID-like digits are masked."""
    method = identity.get("method")
    text = f"{label}：{METHODS.get(method, method or '-')}"
    probability = identity.get("probability")
    if probability is not None and (method == "probabilistic" or probability < 1):
        text += f"（{probability:g}）"
    if detail := identity.get("detail"):
        text += "：" + _ID_LIKE.sub(lambda m: mask_id(m.group()), str(detail))
    return text


def _facts(values: dict) -> str:
    parts = []
    for key, value in values.items():
        if value is None or isinstance(value, dict | list):
            continue
        parts.append(f"{LABELS.get(key, key)}={value}")
    return "，".join(parts)


def _walk(node: Any, lines: list[str]) -> None:
    if _is_record(node):
        lines.append(_record_line(node))
        return
    if isinstance(node, list):
        for item in node:
            _walk(item, lines)
        return
    if isinstance(node, dict):
        if facts := _facts(node):
            lines.append(facts)
        for value in node.values():
            if isinstance(value, dict | list):
                _walk(value, lines)


def describe_evidence(evidence: str | dict | None) -> str:
    """One line per fact group and per source record, in Chinese."""
    if evidence is None:
        return ""
    node = json.loads(evidence) if isinstance(evidence, str) else evidence
    lines: list[str] = []
    _walk(node, lines)
    return "\n".join(lines)
