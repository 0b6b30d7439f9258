"""The commands listed in Telegram's menu (``setMyCommands``, zh and en) and in ``/help``.

Extension point: append a ``MenuCommand`` to ``MENU`` to list a new command.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MenuCommand:
    name: str
    zh: str
    en: str
    admin: bool = False  # listed in /help for admins only, never in Telegram's public menu

    def description(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


# --- extension point: commands shown in Telegram's menu and in /help -----------------------------
MENU: list[MenuCommand] = [
    MenuCommand("spread", "行业分化度、分位与变化", "Differentiation spread, percentile, change"),
    MenuCommand("top5", "涨幅前五行业", "Top five industries by six-month gain"),
    MenuCommand("bottom5", "涨幅后五行业", "Bottom five industries by six-month gain"),
    MenuCommand("industry", "查询单个行业：/industry 名称或代码", "One industry: /industry name or code"),
    MenuCommand("history", "分化度走势图：/history 1y|3y|5y|all", "Spread chart: /history 1y|3y|5y|all"),
    MenuCommand("regime", "收敛情景：宏观、热度估值、景气反转、主题扩散", "Regime scenarios that end extremes"),
    MenuCommand("subscribe", "订阅提醒", "Subscribe to alerts"),
    MenuCommand("unsubscribe", "取消订阅", "Unsubscribe"),
    MenuCommand("settings", "语言、个人阈值、静音", "Language, personal threshold, mute"),
    MenuCommand("status", "数据状态与运行计划", "Data freshness and schedule"),
    MenuCommand("help", "帮助", "Help"),
    MenuCommand("start", "开始", "Start"),
    MenuCommand("refresh", "立即更新数据（管理员）", "Refresh data now (admin)", admin=True),
    MenuCommand("event", "记录或删除政策事件（管理员）", "Record or remove a policy event (admin)", admin=True),
    MenuCommand("alerts", "提醒状态与最近变化（管理员）", "Alert states and last transitions (admin)", admin=True),
    MenuCommand(
        "destinations", "其他提醒目的地及恢复（管理员）", "Alert destinations; resume a paused one (admin)", admin=True
    ),
]
