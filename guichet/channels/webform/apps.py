from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebformChannelConfig(AppConfig):
    name = "guichet.channels.webform"
    label = "webform"
    verbose_name = _("Web form and customer portal")
