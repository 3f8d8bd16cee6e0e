"""Screens whose GET writes an audit entry open only on a deliberate navigation.

Opening a customer's record or consent page records a ``customer.view`` in
the agent's name, and the customer sees it in "who accessed my data". A
link on another site (or in a mail opened in a web client) must not be able
to write that entry for them: when the browser says where the navigation
came from (``Sec-Fetch-Site``, Fetch Metadata) and it is neither this site
(``same-origin``) nor the user's own action (``none``: typed, bookmarked),
the view is not run; an interstitial page asks, and its link (a same-origin
navigation) opens the screen. Browsers that send no ``Sec-Fetch-Site`` are
served as before: the header is a defence in depth, not a requirement.
"""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable

from flask import render_template, request

# Fetch Metadata: what a navigation's Sec-Fetch-Site may say for the view to run.
DELIBERATE = frozenset({"same-origin", "none"})


def _here() -> str:
    query = request.query_string.decode("ascii", "replace")
    return request.path + (f"?{query}" if query else "")


def deliberate_navigation(screen: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run the GET view only for a same-origin or user-typed navigation; else ask first.

    ``screen`` names what opens, on the interstitial ("this customer's record").
    """

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            site = request.headers.get("Sec-Fetch-Site")
            if request.method == "GET" and site is not None and site.lower() not in DELIBERATE:
                return render_template("staff/confirm_navigation.html", screen=screen,
                                       target=_here())
            return view(*args, **kwargs)

        return wrapper

    return decorator
