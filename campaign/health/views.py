"""`/healthz`: 200 when the database and (if configured) Redis answer, 503 otherwise; a
delivery problem (a drain failing run after run, rows due too long) makes it "degraded",
still 200: the web app itself is fine, and a load balancer must not take it out."""

from __future__ import annotations

import redis
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from campaign.extensions import db, limiter
from campaign.health.drains import delivery_problems

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
    state: dict = {"database": database_state(), "redis": redis_state()}
    healthy = all(value in ("ok", "not configured") for value in state.values())
    problems = delivery_problems() if state["database"] == "ok" else []
    state["delivery"] = [
        {"drain": p.drain, "problem": p.summary, "error": p.error,
         "since": p.since.isoformat() if p.since else None} for p in problems]
    state["status"] = ("unavailable" if not healthy else "degraded" if problems else "ok")
    return jsonify(state), 200 if healthy else 503


@bp.app_template_global("delivery_problems")
def delivery_problems_for_staff():
    """For the staff layout: the problems, or none when they cannot be read."""
    try:
        return delivery_problems()
    except SQLAlchemyError:
        db.session.rollback()
        return []
