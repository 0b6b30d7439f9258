"""The store's schema: migrations applied in order on open (``PRAGMA user_version`` counts them).

Append only: never edit a released migration; a feature that needs a table adds a migration.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: prices, names, snapshots, fetch log, calendar, key/value meta
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE industry_names (
        source TEXT NOT NULL, code TEXT NOT NULL, valid_from TEXT NOT NULL, name TEXT NOT NULL,
        PRIMARY KEY (source, code, valid_from)
    ) WITHOUT ROWID;
    CREATE TABLE prices (
        source TEXT NOT NULL, code TEXT NOT NULL, date TEXT NOT NULL,
        close REAL NOT NULL, amount REAL,
        PRIMARY KEY (source, code, date)
    ) WITHOUT ROWID;
    CREATE INDEX prices_by_date ON prices (source, date);
    CREATE TABLE snapshots (
        source TEXT NOT NULL, date TEXT NOT NULL,
        spread REAL NOT NULL, percentile REAL NOT NULL,
        top_avg REAL NOT NULL, bottom_avg REAL NOT NULL,
        n_ranked INTEGER NOT NULL, history_days INTEGER NOT NULL, history_rank INTEGER NOT NULL,
        base_date TEXT NOT NULL, window TEXT NOT NULL, k INTEGER NOT NULL,
        gains_json TEXT NOT NULL,
        computed_at TEXT NOT NULL,
        PRIMARY KEY (source, date)
    ) WITHOUT ROWID;
    CREATE TABLE fetch_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        source TEXT NOT NULL, kind TEXT NOT NULL DEFAULT 'prices',
        started_at TEXT NOT NULL, finished_at TEXT NOT NULL,
        ok INTEGER NOT NULL, rows INTEGER NOT NULL, last_date TEXT, message TEXT NOT NULL
    );
    CREATE TABLE calendar_days (date TEXT PRIMARY KEY) WITHOUT ROWID;
    CREATE TABLE chats (
        chat_id INTEGER PRIMARY KEY,
        chat_type TEXT NOT NULL DEFAULT 'private',
        lang TEXT,
        threshold REAL,
        muted_until TEXT,
        subscribed INTEGER NOT NULL DEFAULT 0,
        active INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    """,
    # regime scenarios: monthly macro series, Shenwan daily analysis, concept board snapshots, policy
    # events recorded by admins, and the last state of each scenario with its transitions
    """
    CREATE TABLE regime_series (
        series TEXT NOT NULL, month TEXT NOT NULL, value REAL NOT NULL,
        PRIMARY KEY (series, month)
    ) WITHOUT ROWID;
    CREATE TABLE sw_analysis (
        date TEXT NOT NULL, code TEXT NOT NULL, name TEXT NOT NULL,
        share REAL, pe REAL, pb REAL,
        PRIMARY KEY (date, code)
    ) WITHOUT ROWID;
    CREATE TABLE board_snapshots (
        board TEXT NOT NULL, date TEXT NOT NULL,
        constituents INTEGER NOT NULL, board_cap REAL NOT NULL, market_cap REAL NOT NULL,
        PRIMARY KEY (board, date)
    ) WITHOUT ROWID;
    CREATE TABLE policy_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        date TEXT NOT NULL, text TEXT NOT NULL, author_id INTEGER, author TEXT NOT NULL,
        created_at TEXT NOT NULL, deleted_at TEXT
    );
    CREATE TABLE regime_states (
        scenario TEXT PRIMARY KEY, state TEXT NOT NULL, since TEXT NOT NULL, day TEXT NOT NULL,
        reason TEXT NOT NULL, evidence_json TEXT NOT NULL, updated_at TEXT NOT NULL
    );
    CREATE TABLE regime_transitions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        scenario TEXT NOT NULL, day TEXT NOT NULL, old_state TEXT NOT NULL, new_state TEXT NOT NULL,
        reason TEXT NOT NULL, evidence_json TEXT NOT NULL, created_at TEXT NOT NULL,
        UNIQUE (scenario, day, new_state)
    );
    """,
    # alerts: state per (rule, chat), an audit log of every transition with its inputs, and the
    # outbox (one row per message part per chat; the UNIQUE key makes a second enqueue a no-op)
    """
    CREATE TABLE alert_state (
        rule_id TEXT NOT NULL, chat_id INTEGER NOT NULL,
        state_json TEXT NOT NULL, day TEXT NOT NULL, updated_at TEXT NOT NULL,
        PRIMARY KEY (rule_id, chat_id)
    ) WITHOUT ROWID;
    CREATE TABLE alert_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        rule_id TEXT NOT NULL, chat_id INTEGER NOT NULL, day TEXT NOT NULL,
        kind TEXT NOT NULL, tier INTEGER NOT NULL, previous_tier INTEGER NOT NULL,
        reason TEXT NOT NULL, inputs_json TEXT NOT NULL, queued INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (rule_id, chat_id, day, kind, tier)
    );
    CREATE INDEX alert_log_by_day ON alert_log (day, id);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        rule_id TEXT NOT NULL, tier INTEGER NOT NULL, kind TEXT NOT NULL, day TEXT NOT NULL,
        chat_id INTEGER NOT NULL, part INTEGER NOT NULL DEFAULT 0,
        text TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        lease_until REAL, claimed_by TEXT,
        last_error TEXT, message_id INTEGER,
        log_id INTEGER, created_at TEXT NOT NULL, sent_at TEXT,
        UNIQUE (rule_id, tier, kind, day, chat_id, part)
    );
    CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
    CREATE INDEX outbox_by_chat ON outbox (chat_id, status);
    """,
    # notify.destinations: each destination is a row in chats under an id of a reserved range (far
    # below any Telegram chat id), so the alert rules, personal threshold, mute, audit log and outbox
    # treat it as one more subscriber; the name keeps its id across restarts and config edits
    """
    CREATE TABLE destinations (
        name TEXT PRIMARY KEY,
        chat_id INTEGER NOT NULL UNIQUE,
        failures INTEGER NOT NULL DEFAULT 0,
        paused INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    );
    """,
    # restated closes: a refresh that replaces stored closes (or adds one to a day already used) is one
    # revision batch; the replaced values are kept with the time of the revision, and the batch keeps
    # the latest day's spread before it and whether the admins have been told
    """
    CREATE TABLE revision_batches (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        source TEXT NOT NULL, revised_at TEXT NOT NULL,
        first_day TEXT NOT NULL, last_day TEXT NOT NULL, rows INTEGER NOT NULL,
        latest_day TEXT, spread_before REAL, percentile_before REAL,
        announced_at TEXT
    );
    CREATE INDEX revision_batches_by_source ON revision_batches (source, id);
    CREATE TABLE price_revisions (
        batch_id INTEGER NOT NULL, source TEXT NOT NULL, code TEXT NOT NULL, date TEXT NOT NULL,
        old_close REAL, new_close REAL NOT NULL, old_amount REAL, new_amount REAL,
        revised_at TEXT NOT NULL,
        PRIMARY KEY (batch_id, code, date)
    ) WITHOUT ROWID;
    CREATE INDEX price_revisions_by_source ON price_revisions (source, date);
    """,
]
