"""Live chat."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChatChannelConfig(AppConfig):
    name = "guichet.channels.chat"
    label = "chat"
    verbose_name = _("Live chat")

    def ready(self) -> None:
        # Built-in channels register their sender the way an extension would (STYLE 7).
        from guichet.channels.chat.push import chat_sender
        from guichet.conversations.senders import register_sender

        register_sender("chat", chat_sender)
