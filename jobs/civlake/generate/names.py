"""Name pools: common surnames and given-name characters, minority names with middle dots.

Traditional-character variants are made with OpenCC and only from characters whose
simplified form round-trips, so a cleaner that converts back recovers the exact name.
"""

from __future__ import annotations

import numpy as np

from civlake import hanzi

SURNAMES = [
    *list(
        "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
        "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚"
        "邵万钱严覃武戴莫孔向汤冼麦区伍"
    ),
    "欧阳",
    "司徒",
    "诸葛",
    "司马",
]
# Weighted towards the largest surnames (王李张刘陈 cover ~30% of Chinese people).
_SURNAME_W = np.array([8.0] * 5 + [3.0] * 15 + [1.0] * (len(SURNAMES) - 24) + [0.2] * 4)
MALE_CHARS = list("伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林欢阳建国志文荣新德")
FEMALE_CHARS = list("芳娜敏静丽艳娟霞秀玲桂英红梅琳燕雪颖慧婷倩洁兰月佳欣怡萍琴云莉晶彤蓉")
# (name, sex) — Uyghur / Kazakh names as registered, with the canonical middle dot.
MINORITY = [
    ("阿不都·热合曼", "1"), ("买买提·依明", "1"), ("艾力·吐尔逊", "1"),
    ("努尔兰·别克", "1"), ("古丽娜尔·艾买提", "2"), ("热依拉·阿不力孜", "2"),
    ("阿依古丽·吐尔逊", "2"), ("迪丽娜尔·买买提", "2"),
]  # fmt: skip
MINORITY_ETHNICITY = "05"  # 维吾尔族 (GB 3304)


def draw_names(rng: np.random.Generator, sex: np.ndarray) -> np.ndarray:
    """Vectorised: surname + one or two given characters by sex; ~0.3% minority names."""
    n = len(sex)
    p = _SURNAME_W / _SURNAME_W.sum()
    surname = np.array(SURNAMES, dtype=object)[rng.choice(len(SURNAMES), n, p=p)]
    male = sex == "1"
    pool_m = np.array(MALE_CHARS, dtype=object)
    pool_f = np.array(FEMALE_CHARS, dtype=object)
    c1 = np.where(
        male, pool_m[rng.integers(0, len(pool_m), n)], pool_f[rng.integers(0, len(pool_f), n)]
    )
    c2 = np.where(
        male, pool_m[rng.integers(0, len(pool_m), n)], pool_f[rng.integers(0, len(pool_f), n)]
    )
    two = rng.random(n) < 0.7
    names = surname + c1 + np.where(two, c2, "")
    minority = rng.random(n) < 0.003
    for i in np.flatnonzero(minority):
        pool = [m for m, s in MINORITY if s == sex[i]]
        names[i] = pool[rng.integers(0, len(pool))]
    return names


def traditional(name: str) -> str | None:
    """Traditional variant that converts back exactly, or None if there is none."""
    trad = hanzi.traditional(name)
    if trad == name or hanzi.simplified(trad) != name:
        return None
    return trad
