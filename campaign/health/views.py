"""`/healthz`: 200 when the database and (if configured) Redis answer, 503 otherwise."""

from __future__ import annotations

import redis
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from campaign.extensions import db, limiter

bp = Blueprint("health", __name__)


def database_state() -> str:
    try:
        db.session.execute(text("SELECT 1"))
        return "ok"
    except SQLAlchemyError as exc:
        db.session.rollback()
        return f"down: {type(exc).__name__}"


def redis_state() -> str:
    url = current_app.config.get("REDIS_URL")
    if not url:
        return "not configured"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            client.ping()
        finally:
            client.close()
        return "ok"
    except redis.RedisError as exc:
        return f"down: {type(exc).__name__}"


@bp.get("/healthz")
@limiter.exempt
def healthz():
    state = {"database": database_state(), "redis": redis_state()}
    healthy = all(value in ("ok", "not configured") for value in state.values())
    state["status"] = "ok" if healthy else "unavailable"
    return jsonify(state), 200 if healthy else 503
