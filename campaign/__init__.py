from __future__ import annotations

import logging
import os

from flask import Flask

from campaign.config import INSTANCE_PATH, PROJECT_ROOT, load_config
from campaign.proxies import TrustedProxies, check_proxy_settings


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(__name__, template_folder=str(PROJECT_ROOT / "templates"),
                instance_path=str(INSTANCE_PATH))
    app.config.from_object(load_config())
    # The embedded default keeps its SQLite file and mail outbox here.
    os.makedirs(app.instance_path, exist_ok=True)
    if overrides:
        app.config.update(overrides)
    hops, networks = check_proxy_settings(app.config)
    app.config["PROXY_FIX_X_FOR"] = hops
    from campaign.common.input import register_input_checks

    register_input_checks(app)  # before the blueprints: their routes use its converter
    register_drains()  # before Celery, whose task modules and beat schedule they give
    register_extensions(app)
    register_blueprints(app)
    register_commands(app)
    from campaign.security import StrictTransportSecurity, register_security

    register_security(app)
    from campaign.pages.fast_path import CachedPageViews

    app.wsgi_app = CachedPageViews(app.wsgi_app, app)
    if app.config["HSTS_MAX_AGE_SECONDS"]:
        app.wsgi_app = StrictTransportSecurity(app.wsgi_app, app.config["HSTS_MAX_AGE_SECONDS"])
    app.wsgi_app = TrustedProxies(app.wsgi_app, hops, networks)
    logging.basicConfig(level=logging.INFO)
    # Flask-Limiter logs each breach with the client's address; supporters' addresses
    # stay out of our logs.
    logging.getLogger("flask-limiter").setLevel(logging.WARNING)
    from campaign.common.logging import install_log_redaction, keep_database_errors_terse

    install_log_redaction()
    keep_database_errors_terse()
    return app


def register_extensions(app: Flask) -> None:
    from campaign.auth.services import load_staff_user
    from campaign.extensions import (
        celery_init_app,
        csrf,
        db,
        limiter,
        login_manager,
        migrate,
    )
    from campaign.mail.transport import transport_from_config
    from campaign.outbox import DrainAsker
    from campaign.pages.cache import PageCaches, ViewCounter

    redis_url = app.config.get("REDIS_URL")
    app.config.setdefault("RATELIMIT_STORAGE_URI", redis_url or "memory://")
    # Redis down must not take the sign form down with it: limits fall back to memory.
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_KEY_PREFIX", app.config.get("CELERY_QUEUE", "campaign"))

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.user_loader(load_staff_user)
    celery_init_app(app)
    app.extensions["drain_asker"] = DrainAsker(app)
    if redis_url:
        import redis

        app.extensions["redis"] = redis.Redis.from_url(
            redis_url, socket_connect_timeout=2, socket_timeout=5)
    app.extensions["mail_transport"] = transport_from_config(app.config)
    app.extensions["page_caches"] = PageCaches.from_config(app.config)
    app.extensions["view_counter"] = ViewCounter(lambda: _engine(app),
                                                 app.config["VIEW_FLUSH_SECONDS"])


def _engine(app: Flask):
    # The view counter may flush from campaign.pages.fast_path, outside any app context.
    from campaign.extensions import db

    with app.app_context():
        return db.engine


def register_blueprints(app: Flask) -> None:
    import campaign.models  # noqa: F401  (registers every table with the metadata)
    from campaign.auth.views import bp as auth_bp
    from campaign.donations import register as register_donations
    from campaign.health.views import bp as health_bp
    from campaign.letters.kind import register as register_letter_kind
    from campaign.letters.staff_views import bp as letters_staff_bp
    from campaign.letters.views import bp as letters_bp
    from campaign.pages.kinds import register_page_kinds
    from campaign.pages.views import bp as pages_bp
    from campaign.staff.supporter_views import bp as staff_supporters_bp
    from campaign.staff.views import bp as staff_bp
    from campaign.supporters.views import bp as supporters_bp
    from campaign.targets.staff_views import bp as targets_staff_bp

    app.register_blueprint(pages_bp)
    app.register_blueprint(letters_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(staff_supporters_bp)
    # Each domain's staff pages; their navigation entries follow this order.
    app.register_blueprint(targets_staff_bp)
    app.register_blueprint(letters_staff_bp)
    app.register_blueprint(supporters_bp)
    # What differs by page kind: pages/ knows the petition, each other domain its own.
    register_page_kinds(app)
    register_letter_kind(app)
    register_donations(app)


def register_drains() -> None:
    """Each domain that sends mail registers its drains in its drains.py (campaign/outbox.py)."""
    import campaign.donations.drains  # noqa: F401
    import campaign.letters.drains  # noqa: F401
    import campaign.supporters.drains  # noqa: F401


def register_commands(app: Flask) -> None:
    from campaign.cli import register_cli

    register_cli(app)
