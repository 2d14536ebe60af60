"""The Django admin with Guichet's site (branding, throttled sign-in): listed in INSTALLED_APPS.

Kept apart from `admin_site` because an app config is imported before the models are ready.
"""

from django.contrib.admin.apps import AdminConfig


class GuichetAdminConfig(AdminConfig):
    default_site = "guichet.web.admin_site.GuichetAdminSite"
