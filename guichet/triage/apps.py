from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TriageConfig(AppConfig):
    name = "guichet.triage"
    label = "triage"
    verbose_name = _("Triage")

    def ready(self) -> None:
        # Triage reads every new inbound message the way an extension would (STYLE 7).
        from django.contrib.auth.signals import user_logged_out

        from guichet.conversations.hooks import register_ingest_hook
        from guichet.triage.services import (
            triage_helpers_started,
            triage_inbound,
            triage_inbound_many,
        )
        from guichet.triage.signals_django import agent_logged_out

        register_ingest_hook(
            "triage", triage_inbound, many=triage_inbound_many, helpers=triage_helpers_started
        )
        user_logged_out.connect(agent_logged_out, dispatch_uid="triage_agent_logged_out")
