"""Phone and callbacks."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PhoneChannelConfig(AppConfig):
    name = "guichet.channels.phone"
    label = "phone"
    verbose_name = _("Phone and callbacks")

    def ready(self) -> None:
        from guichet.channels.phone.hooks import sms_callback_keyword
        from guichet.conversations.hooks import register_ingest_hook

        register_ingest_hook("phone.sms_callback_keyword", sms_callback_keyword)
