from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AppointmentsConfig(AppConfig):
    name = "guichet.channels.appointments"
    label = "appointments"
    verbose_name = _("Appointments")

    def ready(self) -> None:
        # The customer portal lists upcoming appointments through its section registry.
        from guichet.channels.appointments.portal import upcoming_appointments_section
        from guichet.channels.webform.hooks import register_portal_section

        register_portal_section("appointments", upcoming_appointments_section)

        # A duplicate customer merged into another takes its appointments along.
        from guichet.channels.appointments.services import appointments_customer_move
        from guichet.conversations.hooks import register_customer_merge_hook

        register_customer_merge_hook("appointments", appointments_customer_move)
