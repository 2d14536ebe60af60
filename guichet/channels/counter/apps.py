from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CounterChannelConfig(AppConfig):
    name = "guichet.channels.counter"
    label = "counter"
    verbose_name = _("Counter and walk-in queue")

    def ready(self) -> None:
        # A duplicate customer merged into another takes its counter visits along.
        from guichet.channels.counter.services import tickets_customer_move
        from guichet.conversations.hooks import register_customer_merge_hook

        register_customer_merge_hook("counter", tickets_customer_move)
