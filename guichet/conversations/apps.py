from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class ConversationsConfig(AppConfig):
    name = "guichet.conversations"
    label = "conversations"
    verbose_name = _("Conversations")

    def ready(self) -> None:
        from guichet.conversations import search

        # SQLite table rebuilds drop triggers: put the search triggers back after each migrate.
        post_migrate.connect(
            search.on_post_migrate, sender=self, dispatch_uid="search_index_ensure"
        )
