"""SMS."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SmsChannelConfig(AppConfig):
    name = "guichet.channels.sms"
    label = "sms"
    verbose_name = _("SMS")

    def ready(self) -> None:
        # Built-in channels register their sender the way an extension would (STYLE 7).
        from guichet.channels.sms.delivery import deliveries_read, reply_recipient
        from guichet.channels.sms.services import sms_sender
        from guichet.conversations.senders import register_delivery_reader, register_sender

        register_sender("sms", sms_sender, recipient=reply_recipient)
        register_delivery_reader("sms", deliveries_read)
