"""The HTML of ``/dashboard`` (一屏统揽): a grid of panels, a district select, and the
two vendored scripts. Fonts are the system's (no web font); every value is escaped and
the page script fills the panels from ``/api/v1/dashboard/<panel>``.
"""

from __future__ import annotations

from html import escape

from civlake.serve.dashboard_panels import Panel

CSS = """
body{font-family:"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;margin:0;
color:#e8eef7;background:#0b1a33}
header{display:flex;align-items:center;gap:16px;padding:12px 24px;background:#0f2548}
header h1{font-size:20px;margin:0}header a{color:#9cc3ff}
select,button{font-size:15px;padding:4px 8px}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:12px;padding:12px}
section{background:#10284f;border:1px solid #1f3f73;border-radius:6px;padding:8px 12px}
section h2{font-size:16px;margin:4px 0}
.chart{height:280px}
.note{color:#9fb3cf;font-size:12px;margin:4px 0}
.error{color:#ffb4a8}
"""


def render(panels: dict[str, Panel], districts: list[dict]) -> str:
    options = "".join(
        f'<option value="{escape(d["division_code"])}">{escape(d["division_name"] or "")}</option>'
        for d in districts
    )
    sections = "".join(
        f'<section id="panel-{escape(name)}" data-panel="{escape(name)}">'
        f"<h2>{escape(p.title)}</h2>"
        f'<div class="chart" id="chart-{escape(name)}"></div>'
        '<p class="note" data-note></p></section>'
        for name, p in panels.items()
    )
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        # No favicon request (a 404 would be a console error on an offline screen).
        '<link rel="icon" href="data:,">'
        f"<title>广州市民政一屏统揽</title><style>{CSS}</style></head><body>"
        "<header><h1>广州市民政一屏统揽</h1>"
        '<label>区域 <select id="district"><option value="">全市（按区）</option>'
        f"{options}</select></label>"
        '<button id="city" type="button">返回全市</button>'
        '<span class="note">全市视图：最新月份分区对比，点击某区下钻；区视图：逐月趋势。'
        "1-4 的人数及其关联金额按开放数据规则抑制（显示为空）。</span>"
        '<a href="/">数据开放目录</a></header>'
        f"<main>{sections}</main>"
        '<script src="/static/echarts.min.js"></script>'
        '<script src="/static/dashboard.js"></script>'
        "</body></html>"
    )
