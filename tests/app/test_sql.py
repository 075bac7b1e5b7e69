"""The pooled psycopg connection a signature commits on (campaign.common.sql)."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

from campaign.common.sql import autocommit_driver_connection
from campaign.extensions import db


def test_the_connection_goes_back_to_the_pool_out_of_autocommit(app):
    with app.app_context():
        with autocommit_driver_connection() as connection:
            assert connection.autocommit
            connection.execute("SELECT 1")
        # The session's transactions run on the same pooled connections.
        assert connection.autocommit is False
        assert not connection.closed


def test_a_failed_statement_leaves_no_transaction_behind(app):
    with app.app_context():
        with pytest.raises(psycopg.errors.UndefinedTable):
            with autocommit_driver_connection() as connection:
                connection.execute("SELECT * FROM no_such_table")
        assert connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert connection.autocommit is False
        with autocommit_driver_connection() as again:
            assert again.execute("SELECT 41 + 1").fetchone() == (42,)
        assert db.session.execute(text("SELECT 1")).scalar() == 1
