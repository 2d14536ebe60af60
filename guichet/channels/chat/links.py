"""Where a customer goes when no one can chat: the callback request page, else the contact form.

The callback page belongs to the phone channel (URL name `callback_request`) and the contact form
to the web form (`contact`); either may be absent from an installation, so the link is resolved
when a page is shown, with `/contact/` as the last resort.
"""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse


def callback_url() -> str:
    for name in ("callback_request", "webform:contact", "contact"):
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return "/contact/"


def contact_url() -> str:
    for name in ("webform:contact", "contact"):
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return "/contact/"
