"""Background marriages, social organisations, donations and volunteer service."""

from __future__ import annotations

from datetime import date, timedelta

from civlake.generate.divisions import DISTRICTS
from civlake.generate.ids import make_uscc
from civlake.generate.world import Donation, Marriage, Org, VolunteerRecord, World
from civlake.identifiers import USCC_ALPHABET

ORG_WORDS = [
    "阳光",
    "爱心",
    "春晖",
    "同心",
    "善源",
    "红棉",
    "花城",
    "康乐",
    "明德",
    "启航",
    "暖阳",
    "公益",
]
ORG_KINDS = [
    ("社会团体", "1", "协会"),
    ("民办非企业单位", "2", "社会工作服务中心"),
    ("基金会", "3", "慈善基金会"),
]
PROJECTS = ["助学圆梦", "关爱长者", "困境儿童帮扶", "助残康复", "社区互助", "应急救援"]


def _day(world: World) -> date:
    days = (world.tl.end - world.tl.start).days + 1
    return world.tl.start + timedelta(days=int(world.rng.integers(0, days)))


def build_marriages(world: World) -> None:
    """Each person at most once, so the background never marries anyone twice."""
    p, rng = world.pop, world.rng
    age = world.age0()
    n = max(6, len(p) * len(world.tl.months) // 600)
    base = (age >= 22) & (age <= 45) & (p.status == "正常")
    men = world.take(base & (p.sex == "1"), n)
    women = world.take(base & (p.sex == "2"), n)
    kinds = rng.choice(
        ["结婚登记", "离婚登记", "补领结婚证", "补领离婚证"], n, p=[0.65, 0.25, 0.07, 0.03]
    )
    for k, (m, f) in enumerate(zip(men, women, strict=True)):
        district = str(p.division[m])[:6]
        world.marriages.append(
            Marriage(f"J{district}-{2026}-{k + 1:06d}", str(kinds[k]), _day(world), district, m, f)
        )
    world.no_die[men + women] = True


def _uscc(world: World, kind_digit: str, district: str) -> str:
    body = "".join(world.rng.choice(list(USCC_ALPHABET[:10] + "ABCDEFGH"), 8))
    return make_uscc(kind_digit, district, body)


def build_orgs(world: World) -> None:
    p, rng = world.pop, world.rng
    n = max(20, len(p) // 500)
    districts = list(DISTRICTS)
    for k in range(n):
        org_type, digit, suffix = ORG_KINDS[k % 3]
        district = districts[k % len(districts)]
        name = f"广州市{DISTRICTS[district][:-1]}区{ORG_WORDS[k % len(ORG_WORDS)]}{suffix}"
        if k >= len(ORG_WORDS) * 3:
            name = name.replace("区", f"区第{k // (len(ORG_WORDS) * 3) + 1}", 1)
        rep = int(rng.integers(0, len(p)))
        org = Org(
            _uscc(world, digit, district),
            name,
            org_type,
            district + "000000",
            date(2005, 1, 1) + timedelta(days=int(rng.integers(0, 6000))),
            int(rng.integers(3, 200)) * 10000,
            str(p.name[rep]),
            "广州市民政局",
            f"广州市{DISTRICTS[district]}{ORG_WORDS[k % 12]}路{k + 1}号",
            inspection_result=str(
                rng.choice(["合格", "基本合格", "不合格", "未参检"], p=[0.8, 0.1, 0.05, 0.05])
            ),
            is_charity=bool(k % 3 != 0 or rng.random() < 0.3),
        )
        if rng.random() < 0.05:  # deregistered years ago: still listed, not a donation target
            org.status, org.status_date, org.is_charity = "注销", date(2022, 6, 30), False
        world.orgs.append(org)


def active_charities(world: World) -> list[int]:
    return [
        i
        for i, o in enumerate(world.orgs)
        if o.status == "正常" and not o.abnormal and o.is_charity
    ]


def add_donation(world: World, org: int, on: date, amount: int | None = None) -> Donation:
    rng = world.rng
    k = len(world.donations) + 1
    u = rng.random()
    kind = "个人" if u < 0.7 else "企业" if u < 0.85 else "社会组织" if u < 0.9 else "匿名"
    donor = {
        "个人": str(world.pop.name[int(rng.integers(0, len(world.pop)))]),
        "企业": f"广州{ORG_WORDS[k % 12]}科技有限公司",
        "社会组织": world.orgs[int(rng.integers(0, len(world.orgs)))].name,
        "匿名": "",
    }[kind]
    proj = k % len(PROJECTS)
    at = f"{on.isoformat()}T{int(rng.integers(8, 23)):02d}:{int(rng.integers(0, 60)):02d}:00+08:00"
    d = Donation(
        f"D{on:%Y%m%d}{k:07d}", org, f"XM{org:04d}{proj:02d}", PROJECTS[proj], kind, donor,
        amount if amount is not None else int(rng.choice([10, 20, 50, 100, 200, 500, 1000, 5000])),
        at, str(rng.choice(["微信支付", "支付宝", "银行转账"])), bool(rng.random() < 0.6),
    )  # fmt: skip
    world.donations.append(d)
    return d


def build_donations(world: World) -> None:
    targets = active_charities(world)
    n = max(30, len(world.pop) * len(world.tl.months) // 100)
    for _ in range(n):
        add_donation(world, targets[int(world.rng.integers(0, len(targets)))], _day(world))


def build_volunteers(world: World) -> None:
    p, rng = world.pop, world.rng
    age = world.age0()
    n_vol = max(20, len(p) // 100)
    vols = world.take((age >= 16) & (age <= 70), n_vol)
    orgs = [i for i, o in enumerate(world.orgs) if o.status == "正常"]
    for k, idx in enumerate(vols):
        vno = f"V4401{k + 1:08d}"
        for _ in range(int(rng.integers(1, 2 + len(world.tl.months)))):
            r = len(world.volunteers) + 1
            world.volunteers.append(
                VolunteerRecord(
                    f"FW{r:09d}",
                    vno,
                    idx,
                    orgs[int(rng.integers(0, len(orgs)))],
                    f"{PROJECTS[r % len(PROJECTS)]}志愿服务",
                    str(rng.choice(["助老", "助残", "助学", "社区", "应急", "其他"])),
                    _day(world),
                    float(rng.integers(1, 17)) / 2,
                    str(p.division[idx]),
                )
            )
