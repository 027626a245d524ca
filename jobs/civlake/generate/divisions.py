"""Guangzhou's division tree (统计用区划代码): city, 11 districts, streets/towns, communities.

Street and community names are generated but real-looking; a few codes are abolished
with 继承代码 successors (including two-step chains) so that other feeds can carry
codes that were valid at their own date but are obsolete today.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CITY = "440100"
CITY_NAME = "广州市"
DISTRICTS: dict[str, str] = {
    "440103": "荔湾区", "440104": "越秀区", "440105": "海珠区", "440106": "天河区",
    "440111": "白云区", "440112": "黄埔区", "440113": "番禺区", "440114": "花都区",
    "440115": "南沙区", "440117": "从化区", "440118": "增城区",
}  # fmt: skip
# Real abolished county-level codes and their successors (东山→越秀 2005, 芳村→荔湾 2005,
# 萝岗→黄埔 2014, 从化市→从化区 and 增城市→增城区 2014).
OLD_DISTRICTS: dict[str, tuple[str, str, str]] = {
    "440102": ("东山区", "440104", "2005-04-28"),
    "440107": ("芳村区", "440103", "2005-04-28"),
    "440116": ("萝岗区", "440112", "2014-02-12"),
    "440184": ("从化市", "440117", "2014-02-12"),
    "440183": ("增城市", "440118", "2014-02-12"),
}
_STREET_WORDS = list("东西南北中新华龙凤金沙石江海珠云山岗塘湖桥林园花田")
_COMMUNITY_WORDS = list("和平安康宁福寿丰乐兴泰瑞祥嘉盛荣德顺")


def pad12(code: str) -> str:
    return code.ljust(12, "0")


@dataclass
class Division:
    code: str
    name: str
    level: int
    parent: str
    urban_rural: str = ""
    valid_from: str = "2000-01-01"
    valid_to: str = ""
    successor: str = ""


@dataclass
class DivisionTree:
    rows: list[Division]
    villages: np.ndarray  # current level-5 codes
    village_district: np.ndarray  # 6-digit district of each village
    # current code -> obsolete code that a feed may still carry for it
    obsolete_for: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    def district_villages(self, district: str) -> np.ndarray:
        return self.villages[self.village_district == district]


def build_divisions(rng: np.random.Generator, persons: int) -> DivisionTree:
    # ~ one community per 400 residents, at least 2 streets x 3 communities per district.
    per_district = max(6, persons // 400 // len(DISTRICTS))
    rows = [Division(pad12(CITY), CITY_NAME, 2, "")]
    villages: list[str] = []
    vdist: list[str] = []
    obsolete_for: dict[str, str] = {}
    for dcode, dname in DISTRICTS.items():
        rows.append(Division(pad12(dcode), dname, 3, pad12(CITY)))
        n_streets = int(np.clip(per_district // 6, 2, 40))
        for s in range(1, n_streets + 1):
            scode = f"{dcode}{s:03d}000"
            sname = "".join(rng.choice(_STREET_WORDS, 2)) + ("街道" if s % 4 else "镇")
            rows.append(Division(scode, sname, 4, pad12(dcode)))
            n_vill = max(3, per_district // n_streets)
            for v in range(1, n_vill + 1):
                vcode = f"{scode[:9]}{v:03d}"
                rural = sname.endswith("镇") and v % 2 == 0
                vname = "".join(rng.choice(_COMMUNITY_WORDS, 2)) + (
                    "村委会" if rural else "社区居委会"
                )
                rows.append(Division(vcode, vname, 5, scode, "220" if rural else "111"))
                villages.append(vcode)
                vdist.append(dcode)
        # Each district: one community merged away in 2019 (single step) and one
        # two-step chain (old -> renamed 2016 -> merged 2021 -> current community).
        first = f"{dcode}001001"
        second = f"{dcode}001002"
        old1 = f"{dcode}001901"
        rows.append(
            Division(old1, "旧城社区居委会", 5, f"{dcode}001000", "111", "2000-01-01",
                     "2019-06-30", first)
        )  # fmt: skip
        old2a, old2b = f"{dcode}001902", f"{dcode}001903"
        rows.append(
            Division(old2a, "老街社区居委会", 5, f"{dcode}001000", "111", "2000-01-01",
                     "2016-03-31", old2b)
        )  # fmt: skip
        rows.append(
            Division(old2b, "新街社区居委会", 5, f"{dcode}001000", "111", "2016-04-01",
                     "2021-12-31", second)
        )  # fmt: skip
        obsolete_for[first] = old1
        obsolete_for[second] = old2a
    for code, (name, succ, until) in OLD_DISTRICTS.items():
        rows.append(
            Division(pad12(code), name, 3, pad12(CITY), "", "1990-01-01", until, pad12(succ))
        )
        obsolete_for.setdefault(pad12(succ), pad12(code))
    names = {r.code: r.name for r in rows}
    return DivisionTree(rows, np.array(villages), np.array(vdist), obsolete_for, names)


def successor_chain(tree: DivisionTree, code: str) -> str:
    by_code = {r.code: r for r in tree.rows}
    seen = set()
    while code in by_code and by_code[code].successor and code not in seen:
        seen.add(code)
        code = by_code[code].successor
    return code
