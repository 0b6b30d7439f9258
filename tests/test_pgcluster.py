"""The throwaway PostgreSQL server the tests start themselves (tests/support/pgcluster.py, the ``pg_*`` fixtures):
password authentication over TCP, one isolated database per test, 127.0.0.1 only, a clean stop."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from conftest import PG_MISSING_REASON
from support.pgcluster import ClusterError, ThrowawayCluster, find_bindir


def test_connects_with_the_password_from_pgpassword(pg_url: str, pg_cluster: ThrowawayCluster) -> None:
    parts = urlsplit(pg_url)
    assert parts.scheme == "postgresql"
    assert (parts.username, parts.password, parts.hostname, parts.port) == (
        "spreadwatch",
        None,
        "127.0.0.1",
        pg_cluster.port,
    )
    assert pg_cluster.password not in pg_url
    assert os.environ["PGPASSWORD"] == pg_cluster.password

    with psycopg.connect(pg_url) as conn:
        who = conn.execute(
            "SELECT current_user, current_database(), pg_encoding_to_char(encoding), rolsuper"
            " FROM pg_database, pg_roles WHERE datname = current_database() AND rolname = current_user"
        ).fetchone()
        method = conn.execute(
            "SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host' ORDER BY line_number LIMIT 1"
        ).fetchone()
    assert who == ("spreadwatch", parts.path.lstrip("/"), "UTF8", True)
    assert method == ("scram-sha-256",)


def test_tcp_without_the_password_is_refused(pg_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PGPASSWORD")
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))  # not a ~/.pgpass either
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(pg_url, connect_timeout=10)

    monkeypatch.setenv("PGPASSWORD", "not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(pg_url, connect_timeout=10)


def test_each_database_is_fresh_and_isolated(pg_url: str, make_pg_url: Callable[[], str]) -> None:
    other_url = make_pg_url()
    assert urlsplit(other_url).path != urlsplit(pg_url).path

    with psycopg.connect(pg_url) as first, psycopg.connect(other_url) as second:
        for conn in (first, second):
            tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
            assert tables == (0,)
        first.execute("CREATE TABLE marker (note text)")
        first.execute("INSERT INTO marker VALUES ('first')")
        first.commit()
        assert second.execute("SELECT to_regclass('public.marker')").fetchone() == (None,)
        second.execute("CREATE TABLE marker (note text)")  # same name, another database: no conflict
        second.commit()
        assert second.execute("SELECT count(*) FROM marker").fetchone() == (0,)
        assert first.execute("SELECT note FROM marker").fetchall() == [("first",)]


def test_listens_on_127_0_0_1_only(pg_url: str, pg_cluster: ThrowawayCluster) -> None:
    assert pg_cluster.folder is not None
    with psycopg.connect(pg_url) as conn:
        settings: dict[str, str] = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings"
                " WHERE name IN ('listen_addresses', 'unix_socket_directories', 'fsync', 'port')"
            ).fetchall()
        )
        server_addr = conn.execute("SELECT host(inet_server_addr())").fetchone()
    assert settings == {
        "listen_addresses": "127.0.0.1",
        "port": str(pg_cluster.port),
        "unix_socket_directories": str(pg_cluster.folder),
        "fsync": "off",
    }
    assert server_addr == ("127.0.0.1",)
    assert pg_cluster.port is not None
    # another loopback address of the same machine: nothing listens there
    for family, address in ((socket.AF_INET, "127.0.0.2"), (socket.AF_INET6, "::1")):
        with socket.socket(family, socket.SOCK_STREAM) as s, pytest.raises(OSError):
            s.settimeout(5)
            s.connect((address, pg_cluster.port))


def test_kill_connections_ends_the_sessions_on_one_database(pg_url: str, pg_cluster: ThrowawayCluster) -> None:
    dbname = urlsplit(pg_url).path.lstrip("/")
    with (
        psycopg.connect(pg_url, autocommit=True) as conn,
        psycopg.connect(pg_cluster.url(), autocommit=True) as elsewhere,
    ):
        assert pg_cluster.kill_connections(dbname) == 1
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
        assert elsewhere.execute("SELECT 1").fetchone() == (1,)


def test_the_session_server_is_one_for_all_tests(pg_cluster: ThrowawayCluster) -> None:
    assert pg_cluster.running
    assert pg_cluster.url("x") == f"postgresql://spreadwatch@127.0.0.1:{pg_cluster.port}/x"
    assert pg_cluster.data_dir.is_dir()


# -- a server of its own: start, bad settings, stop -----------------------------------------------------

requires_pg = pytest.mark.skipif(find_bindir() is None, reason=PG_MISSING_REASON)


@requires_pg
@pytest.mark.postgres
def test_a_server_that_cannot_start_says_why_and_leaves_nothing() -> None:
    cluster = ThrowawayCluster(settings={"shared_buffers": "lots"})
    with pytest.raises(ClusterError) as failed:
        cluster.start()
    message = str(failed.value)
    assert "did not start" in message
    assert 'invalid value for parameter "shared_buffers": "lots"' in message  # from the server's log
    assert cluster.folder is None
    assert not cluster.running


@requires_pg
@pytest.mark.postgres
def test_stop_ends_the_server_and_deletes_its_folder() -> None:
    with ThrowawayCluster() as cluster:
        folder, port = cluster.folder, cluster.port
        assert folder is not None and port is not None
        with psycopg.connect(cluster.url(), password=cluster.password) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    assert not folder.exists()
    assert cluster.folder is None and cluster.port is None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s, pytest.raises(OSError):
        s.settimeout(5)
        s.connect(("127.0.0.1", port))
    cluster.stop()  # again: nothing to do
