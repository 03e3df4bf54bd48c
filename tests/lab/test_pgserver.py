"""The throwaway PostgreSQL server: real Debian binaries on 127.0.0.1, durable across a
crash, gone (process and folder) after stop()."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from netatlas.lab import pgserver
from netatlas.lab.pgserver import TempPostgres
from netatlas.lab.services import LabError


def _gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


def test_life_cycle_survives_a_crash() -> None:
    pg = TempPostgres()
    with pg:
        root, first_pid = pg.root, pg.pid
        assert first_pid is not None
        assert pg.url == f"postgresql://postgres@127.0.0.1:{pg.port}/netatlas"
        assert pg.data_dir == root / "data" and (pg.data_dir / "PG_VERSION").is_file()
        with psycopg.connect(pg.url) as conn:
            version = conn.execute("SELECT version()").fetchone()
            assert version is not None and version[0].startswith("PostgreSQL 15.")
            assert conn.execute("SHOW fsync").fetchone() == ("on",)
            conn.execute("CREATE EXTENSION pg_trgm")
            assert conn.execute("SELECT similarity('nginx', 'nginx')").fetchone() == (1.0,)
            conn.execute("CREATE TABLE t (id int PRIMARY KEY, note text)")
            conn.execute("INSERT INTO t VALUES (1, 'committed')")
            conn.commit()
        # An open transaction at the crash must not survive it; the commit must.
        pending = psycopg.connect(pg.url)
        pending.execute("INSERT INTO t VALUES (2, 'uncommitted')")

        pg.kill()
        assert pg.pid is None and _gone(first_pid)
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(pg.url, connect_timeout=2)
        pending.close()

        pg.restart()
        assert pg.pid not in (None, first_pid) and pg.root == root
        with psycopg.connect(pg.url) as conn:
            assert conn.execute("SELECT id, note FROM t").fetchall() == [(1, "committed")]
        last_pid = pg.pid
    assert last_pid is not None and _gone(last_pid)
    assert not root.exists()
    pg.stop()  # a second stop is harmless


def test_create_database_is_fresh_and_separate() -> None:
    with TempPostgres() as pg:
        url = pg.create_database("fresh_one")
        assert url == pg.url_for("fresh_one")
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("fresh_one",)
            assert conn.execute(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
        with pytest.raises(ValueError):
            pg.create_database("no; DROP")
        pg.drop_database("fresh_one")
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(url, connect_timeout=2)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the server to `postgres`")
def test_refuses_a_base_dir_the_postgres_user_cannot_enter(tmp_path: Path) -> None:
    # pytest's tmp_path sits under a root-only folder: refused with a clear error rather
    # than a failed initdb, and the temp folder is removed again.
    with pytest.raises(LabError, match="cannot enter"):
        TempPostgres(base_dir=tmp_path).start()
    assert list(tmp_path.iterdir()) == []


def test_restart_of_a_running_server_keeps_data_and_port() -> None:
    with TempPostgres() as pg:
        port = pg.port
        with psycopg.connect(pg.url) as conn:
            conn.execute("CREATE TABLE kept (x int)")
        pg.restart()
        assert pg.port == port
        with psycopg.connect(pg.url) as conn:
            assert conn.execute("SELECT count(*) FROM kept").fetchone() == (0,)


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.1", "192.168.1.1", "::1", "localhost",
                                  "example.org"])
def test_refuses_a_non_loopback_host(host: str) -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.0/8"):
        TempPostgres(host=host)


def test_missing_binaries_fail_with_a_clear_message(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pgserver, "PG_BIN", tmp_path / "nowhere")
    with pytest.raises(LabError, match=r"install-system-deps\.sh"):
        TempPostgres().start()


def test_session_fixtures(pg_server: TempPostgres, pg_url: str) -> None:
    assert pg_server.pid is not None and pg_url.startswith(pg_server.url_for("test_"))
    with psycopg.connect(pg_url) as conn:
        conn.execute("CREATE TABLE mine (x int)")
    with psycopg.connect(pg_server.url) as conn:  # `netatlas` is untouched
        assert conn.execute("SELECT to_regclass('mine')").fetchone() == (None,)
