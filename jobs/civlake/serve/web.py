"""The Chinese catalog web page: search, filters, dataset pages, download links.

Server-rendered HTML with inline CSS and no scripts or CDN assets (works offline and
under a strict CSP). Every value is escaped; filters are plain GET forms.
"""

from __future__ import annotations

from collections import Counter
from html import escape
from urllib.parse import urlencode

from civlake.publish.catalog import OPEN_TYPES

CSS = """
body{font-family:"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;margin:0;
color:#222;background:#f6f7f9}
header{background:#b71c1c;color:#fff;padding:14px 24px}header a{color:#fff;text-decoration:none}
main{max-width:1080px;margin:0 auto;padding:16px 24px}
form.search{display:flex;gap:8px;flex-wrap:wrap;margin:12px 0}
input,select,button{font-size:15px;padding:6px 8px}
.card{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:12px 16px;margin:10px 0}
.tag{display:inline-block;background:#eef2f7;border-radius:3px;padding:1px 6px;margin:2px;
font-size:13px}.open{background:#e6f4ea}.cond{background:#fff4e0}.closed{background:#fdecea}
pre{background:#fff;border:1px solid #ddd;padding:8px;overflow-x:auto}
table{border-collapse:collapse;width:100%;background:#fff}
td,th{border:1px solid #ddd;padding:6px 8px;text-align:left;font-size:14px}
.muted{color:#777;font-size:13px}
"""


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        '<header><a href="/"><strong>广州市民政数据开放目录</strong></a>'
        ' <span class="muted" style="color:#fdd">· <a href="/catalog.jsonld">DCAT</a>'
        ' · <a href="/api/3/action/package_list">API</a></span></header>'
        f"<main>{body}</main></body></html>"
    )


def _badge(open_type: str) -> str:
    cls = {"无条件开放": "open", "有条件开放": "cond"}.get(open_type, "closed")
    return f'<span class="tag {cls}">{escape(open_type)}</span>'


def index_page(
    packages: list[dict], *, q: str, theme: str, open_type: str, themes: list[str]
) -> str:
    def option(value: str, current: str, label: str | None = None) -> str:
        sel = " selected" if value == current else ""
        return f'<option value="{escape(value)}"{sel}>{escape(label or value)}</option>'

    form = (
        '<form class="search" method="get" action="/">'
        f'<input type="search" name="q" value="{escape(q)}" placeholder="搜索数据集、关键词、字段">'
        '<select name="theme">' + option("", theme, "全部主题")
        + "".join(option(t, theme) for t in themes) + "</select>"
        '<select name="open_type">' + option("", open_type, "全部开放类型")
        + "".join(option(t, open_type) for t in OPEN_TYPES) + "</select>"
        "<button type=\"submit\">搜索</button></form>"
    )  # fmt: skip
    cards = []
    for p in packages:
        downloads = _download_links([r for r in p["resources"] if not r.get("restricted")])
        cards.append(
            f'<div class="card"><h3><a href="/dataset/{escape(p["name"])}">{escape(p["title"])}</a>'
            f" {_badge(p['open_type'])}</h3><p>{escape(p['notes'])}</p>"
            f'<p class="muted">主题：{escape(p["theme"])} · 提供方：{escape(p["author"])} · '
            f"更新频率：{escape(p['update_frequency'])} · 版本：{escape(p['version'] or '未发布')}"
            f" · {_usage(p)}</p>" + (f"<p>下载：{downloads}</p>" if downloads else "") + "</div>"
        )
    body = form + f'<p class="muted">共 {len(packages)} 个数据集</p>' + "".join(cards)
    return _page("广州市民政数据开放目录", body)


def _download_links(resources: list[dict]) -> str:
    # The data JSON and datapackage.json share the format "JSON"; two identical link texts
    # leave a visitor guessing, so a shared format is spelled out as the file name.
    counts = Counter(r["format"] for r in resources)
    return " ".join(
        f'<a href="{escape(r["url"])}" title="{escape(r["name"])}">'
        f"{escape(r['format'] if counts[r['format']] == 1 else r['url'].rsplit('/', 1)[-1])}</a>"
        for r in resources
    )


def _usage(p: dict) -> str:
    u, t = p["usage"], p["tracking_summary"]
    return f"下载 {u['downloads']} 次 · 查询 {u['queries']} 次（近 14 天 {t['recent']} 次）"


def _how_to_apply(p: dict, division_field: str | None) -> str:
    """有条件开放: who to ask, which grant, and the line the data team runs."""
    name = p["name"]
    audience = "、".join(p["audience"]) or "经批准的政府部门"
    scoped = (
        f"；只需本区数据的（属地回流），授权写作 <code>--grant {escape(name)}@440106</code>"
        f"（按 {escape(division_field)} 筛选到该区及其街道）"
        if division_field
        else ""
    )
    command = f"civlake agency create 部门名称 --grant {name} --expires YYYY-MM-DD"
    return (
        '<div class="card"><h3 id="apply">如何申请使用</h3>'
        f"<p>{_badge('有条件开放')} 本数据集只向持有授权的部门提供，每次拉取均记入审计日志。"
        f"现有使用部门：{escape(audience)}。</p><ol>"
        f"<li>申请部门向提供方 {escape(p['author'])} 的数据管理团队提交书面申请，写明用途、"
        f"所需数据集（<code>{escape(name)}</code>）和期限。</li>"
        f"<li>审批通过后，数据团队登记该部门并授予数据集授权 <code>{escape(name)}</code>{scoped}："
        f"<pre>{escape(command)}</pre>API 密钥只显示一次，交申请部门保管；到期、轮换与吊销见"
        "<code>civlake agency list / rotate / revoke</code>。</li>"
        "<li>申请部门以 <code>Authorization: Bearer 密钥</code> 下载各版本文件，或按版本增量拉取："
        f"<code>/api/v1/datasets/{escape(name)}/changes?since_version=N</code>。</li></ol></div>"
    )


def dataset_page(p: dict, *, division_field: str | None = None) -> str:
    rows = "".join(
        f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>"
        for k, v in (
            ("信息资源代码", p["identifier"]), ("提供方", p["author"]), ("主题", p["theme"]),
            ("关键词", "、".join(t["name"] for t in p["tags"])), ("开放类型", p["open_type"]),
            ("共享类型", p["share_type"]), ("更新频率", p["update_frequency"]),
            ("时间范围", f"{p['temporal_start']} 至 {p['temporal_end'] or '今'}"),
            ("空间范围", p["spatial"]), ("许可", p["license_title"]),
            ("发布日期", p["issued"]), ("更新日期", p["modified"]), ("使用情况", _usage(p)),
        )
    )  # fmt: skip
    fields = "".join(
        f"<tr><td>{escape(f['name'])}</td><td>{escape(f['title'])}</td>"
        f"<td>{escape(f['type'])}</td><td>{escape(f['description'])}</td></tr>"
        for f in p["fields"]
    )
    if p["open_type"] == "有条件开放":
        note = _how_to_apply(p, division_field)
    elif p["open_type"] != "无条件开放":
        note = '<p class="tag closed">本数据集不予开放。</p>'
    else:
        note = ""
    versions = "".join(
        f"<tr><td>第 {v['version']} 版</td><td>{escape(v['published_at'])}</td><td>{v['rows']}</td><td>"
        + " ".join(f'<a href="{escape(u)}">{escape(fmt)}</a>' for fmt, u in v["downloads"].items())
        + "</td></tr>"
        for v in reversed(p["versions"])
    )
    body = (
        f"<h2>{escape(p['title'])} {_badge(p['open_type'])}</h2><p>{escape(p['notes'])}</p>{note}"
        f"<h3>元数据</h3><table>{rows}</table>"
        "<h3>字段</h3><table><tr><th>字段名</th><th>中文名</th><th>类型</th><th>说明</th></tr>"
        f"{fields}</table>"
        "<h3>版本与下载</h3><table><tr><th>版本</th><th>发布时间</th><th>行数</th><th>下载</th></tr>"
        f"{versions or '<tr><td colspan=4>尚未发布</td></tr>'}</table>"
        f'<p class="muted">API：<a href="/api/3/action/package_show?{urlencode({"id": p["name"]})}">'
        "package_show</a></p>"
    )
    return _page(p["title"], body)


def not_found_page(message: str) -> str:
    return _page(
        "未找到", f"<h2>未找到</h2><p>{escape(message)}</p><p><a href='/'>返回目录</a></p>"
    )
