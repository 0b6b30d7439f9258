"""The dashboard door: a Telegram Mini App and a plain page, served by tornado with a small JSON API (``webapp``)."""
