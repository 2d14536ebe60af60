"""SMS."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SmsChannelConfig(AppConfig):
    name = "guichet.channels.sms"
    label = "sms"
    verbose_name = _("SMS")

    def ready(self) -> None:
        # Built-in channels register their sender the way an extension would (STYLE 7).
        from guichet.channels.sms.services import sms_sender
        from guichet.conversations.senders import register_sender

        register_sender("sms", sms_sender)
