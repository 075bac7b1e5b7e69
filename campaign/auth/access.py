"""Who may do what among staff: every signed-in account edits pages, letters and lists;
admins also erase supporters and read the activity record."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort
from flask_login import current_user

ADMINS_ONLY = ("Only an admin may do this. Ask one of your organisation's admins, who can "
               "also make your account an admin.")


def admin_required(view: Callable) -> Callable:
    """For a view already behind login_required: 403 for accounts that are not admins."""

    @wraps(view)
    def admins_only(*args, **kwargs):
        if not current_user.is_admin:
            abort(403, description=ADMINS_ONLY)
        return view(*args, **kwargs)

    return admins_only
