"""Paper mail."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaperChannelConfig(AppConfig):
    name = "guichet.channels.paper"
    label = "paper"
    verbose_name = _("Paper mail")

    def ready(self) -> None:
        # Replies on paper conversations become printable letters (registered like any channel).
        from guichet.channels.paper.letters import paper_sender
        from guichet.conversations.senders import register_sender

        register_sender("paper", paper_sender)
