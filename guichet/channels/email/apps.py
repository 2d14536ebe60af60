from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EmailChannelConfig(AppConfig):
    name = "guichet.channels.email"
    label = "email_channel"
    verbose_name = _("Email")

    def ready(self) -> None:
        # Built-in channels register their sender the way an extension would (STYLE 7).
        from guichet.channels.email.delivery import deliveries_read, reply_recipient
        from guichet.channels.email.outbound import email_sender
        from guichet.conversations.senders import register_delivery_reader, register_sender

        register_sender("email", email_sender, recipient=reply_recipient)
        register_delivery_reader("email", deliveries_read)
