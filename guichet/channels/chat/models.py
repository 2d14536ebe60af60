"""Chat presence: which agents have the chat console open, so the widget can say whether a
person is there to answer now."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AgentPresence(models.Model):
    """When an agent's chat console last showed signs of life (page load or WebSocket ping).

    An agent counts as available for chat while `last_seen_at` is younger than
    `CHAT_PRESENCE_SECONDS` and `accepting` is on. One row per agent, updated in place.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="chat_presence",
        verbose_name=_("agent"),
    )
    last_seen_at = models.DateTimeField(_("last seen"), db_index=True)
    accepting = models.BooleanField(_("accepting chats"), default=True)

    class Meta:
        verbose_name = _("chat presence")
        verbose_name_plural = _("chat presences")

    def __str__(self) -> str:
        return f"{self.user_id} {self.last_seen_at:%Y-%m-%d %H:%M:%S}"
