"""The dashboard (:mod:`bot.web`) wired into the bot: with ``webapp.listen``, its server starts on the bot's event
loop in ``post_init`` and stops in ``post_shutdown`` (as the ops server, :mod:`bot.telegram.ops_hooks`); with
``webapp.public_url``, every private chat's menu button opens it."""

from __future__ import annotations

from typing import Any

from bot.telegram.bot_data import bot_data_of
from bot.telegram.dashboard_links import set_menu_button
from bot.telegram.ops_hooks import chain
from bot.web.server import WebServer
from jobs.alerting.services import Services


def install(application: Any, services: Services, bot_token: str) -> None:
    settings = services.settings
    address = settings.webapp.address

    async def start(app: Any) -> None:
        if address is not None:
            server = WebServer(address[0], address[1], services, bot_token)
            await server.start()
            bot_data_of(app).web_server = server
        await set_menu_button(app.bot, settings)

    async def stop(app: Any) -> None:
        data = bot_data_of(app)
        server, data.web_server = data.web_server, None
        if server is not None:
            await server.stop()

    application.post_init = chain(application.post_init, start)
    application.post_shutdown = chain(stop, application.post_shutdown)
