"""Django settings. Every value comes from `guichet.core.conf.env`, declared once there."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import dj_database_url

from guichet.core.conf import BASE_DIR, ConfigurationError, development_secret_key, env

MODE = env("GUICHET_MODE")
PRODUCTION = MODE == "production"
DEBUG = env("DEBUG")
if PRODUCTION and DEBUG:
    raise ConfigurationError("DEBUG must be false in production mode")

DATA_DIR = Path(env("DATA_DIR"))
SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ConfigurationError(
            "SECRET_KEY is required in production mode: set it to a long random value, e.g. "
            "the output of `python3 -c 'import secrets; print(secrets.token_urlsafe(50))'`"
        )
    SECRET_KEY = development_secret_key(DATA_DIR)

ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env("CSRF_TRUSTED_ORIGINS")
TRUSTED_PROXIES = env("TRUSTED_PROXIES")
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError as error:
        raise ConfigurationError(f"TRUSTED_PROXIES: {error}") from None

INSTALLED_APPS = [
    "guichet.web.admin_config.GuichetAdminConfig",  # the admin, branded, with throttled sign-in
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "guichet.core",
    "guichet.accounts",
    "guichet.customers",
    "guichet.conversations",
    "guichet.channels",
    "guichet.channels.email",
    "guichet.channels.webform",
    "guichet.channels.chat",
    "guichet.channels.phone",
    "guichet.channels.sms",
    "guichet.channels.appointments",
    "guichet.channels.counter",
    "guichet.channels.paper",
    "guichet.triage",
    "guichet.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "guichet.web.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "guichet.web.middleware.DatabaseUnavailableMiddleware",
    "guichet.web.middleware.MethodNotAllowedPageMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

_database_url = env("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'guichet.sqlite3'}"
# Health checks: after a database restart, the next request opens a new connection instead of
# failing on the dead one it kept.
DATABASES = {
    "default": dj_database_url.parse(_database_url, conn_max_age=60, conn_health_checks=True)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL + synchronous=FULL: a reported commit survives power loss (RELIABILITY T03).
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
        # Take the write lock at BEGIN so concurrent writers queue instead of failing.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "inbox"
LOGOUT_REDIRECT_URL = "login"
LOGIN_MAX_ATTEMPTS = env("LOGIN_MAX_ATTEMPTS")
LOGIN_LOCKOUT_SECONDS = env("LOGIN_LOCKOUT_SECONDS")
LOGIN_ACCOUNT_MAX_ATTEMPTS = env("LOGIN_ACCOUNT_MAX_ATTEMPTS")
LOGIN_ACCOUNT_LOCKOUT_SECONDS = env("LOGIN_ACCOUNT_LOCKOUT_SECONDS")

LANGUAGE_CODE = env("LANGUAGE_CODE")
LANGUAGES = [("fr", "Français"), ("en", "English")]
if LANGUAGE_CODE not in dict(LANGUAGES):
    raise ConfigurationError("LANGUAGE_CODE must be 'fr' or 'en'")
LOCALE_PATHS = [BASE_DIR / "guichet" / "locale"]
TIME_ZONE = env("TIME_ZONE")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
if not PRODUCTION:
    # WhiteNoise expects the folder; `serve` fills it with collectstatic.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG

ATTACHMENT_MAX_BYTES = env("ATTACHMENT_MAX_BYTES")
INBOX_PAGE_SIZE = env("INBOX_PAGE_SIZE")
SLA_AT_RISK_MINUTES = env("SLA_AT_RISK_MINUTES")
# Paper mail (guichet.channels.paper): OCR limits and the address block of letters.
PAPER_OCR_TIMEOUT_SECONDS = env("PAPER_OCR_TIMEOUT_SECONDS")
PAPER_OCR_MEMORY_MB = env("PAPER_OCR_MEMORY_MB")
PAPER_OCR_MAX_PAGES = env("PAPER_OCR_MAX_PAGES")
LETTER_SENDER_ADDRESS = env("LETTER_SENDER_ADDRESS")
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
DATA_UPLOAD_MAX_NUMBER_FILES = 20
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# Outgoing email (guichet.channels.email.outbound) goes through Django's SMTP backend.
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = env("EMAIL_HOST")
EMAIL_PORT = env("EMAIL_PORT")
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env("EMAIL_USE_TLS")
EMAIL_TIMEOUT = env("EMAIL_TIMEOUT")
EMAIL_FROM_DOMAIN = env("EMAIL_FROM_DOMAIN")
EMAIL_SEND_MAX_ATTEMPTS = env("EMAIL_SEND_MAX_ATTEMPTS")
EMAIL_AUTO_REPLY_HOURLY_CAP = env("EMAIL_AUTO_REPLY_HOURLY_CAP")

# Acknowledgements (guichet.channels.acknowledgements), web form and portal (channels.webform).
ACKNOWLEDGEMENT_WINDOW_HOURS = env("ACKNOWLEDGEMENT_WINDOW_HOURS")
WEBFORM_MIN_FILL_SECONDS = env("WEBFORM_MIN_FILL_SECONDS")
WEBFORM_MAX_ATTACHMENTS = env("WEBFORM_MAX_ATTACHMENTS")
WEBFORM_ATTACHMENT_MAX_BYTES = env("WEBFORM_ATTACHMENT_MAX_BYTES")
PUBLIC_HOURLY_LIMIT_PER_IP = env("PUBLIC_HOURLY_LIMIT_PER_IP")
WEBFORM_HOURLY_LIMIT_PER_ADDRESS = env("WEBFORM_HOURLY_LIMIT_PER_ADDRESS")
PORTAL_LINK_HOURLY_LIMIT_PER_ADDRESS = env("PORTAL_LINK_HOURLY_LIMIT_PER_ADDRESS")
PORTAL_LINK_MINUTES = env("PORTAL_LINK_MINUTES")
PORTAL_SESSION_HOURS = env("PORTAL_SESSION_HOURS")
DEFAULT_FROM_EMAIL = f"noreply@{EMAIL_FROM_DOMAIN}"

# Phone, callbacks and SMS (guichet.channels.phone, guichet.channels.sms).
SMS_ADAPTER = env("SMS_ADAPTER")
SMS_SENDER_ID = env("SMS_SENDER_ID")
SMS_HTTP_SEND_URL = env("SMS_HTTP_SEND_URL")
SMS_HTTP_AUTH_HEADER = env("SMS_HTTP_AUTH_HEADER")
SMS_HTTP_TIMEOUT = env("SMS_HTTP_TIMEOUT")
SMS_WEBHOOK_SECRET = env("SMS_WEBHOOK_SECRET")
SMS_SEND_MAX_ATTEMPTS = env("SMS_SEND_MAX_ATTEMPTS")
SMS_MAX_PARTS = env("SMS_MAX_PARTS")
PHONE_API_TOKEN = env("PHONE_API_TOKEN")
CALLBACK_MINUTES_PER_REQUEST = env("CALLBACK_MINUTES_PER_REQUEST")
CALLBACK_MAX_ATTEMPTS = env("CALLBACK_MAX_ATTEMPTS")
CALLBACK_HOURLY_LIMIT_PER_NUMBER = env("CALLBACK_HOURLY_LIMIT_PER_NUMBER")

# Appointments (guichet.channels.appointments).
APPOINTMENT_PUBLIC_URL = env("APPOINTMENT_PUBLIC_URL")
APPOINTMENT_LINK_MAX_AGE_DAYS = env("APPOINTMENT_LINK_MAX_AGE_DAYS")
APPOINTMENT_HOURLY_LIMIT_PER_ADDRESS = env("APPOINTMENT_HOURLY_LIMIT_PER_ADDRESS")
APPOINTMENT_REMINDER_HOURS = env("APPOINTMENT_REMINDER_HOURS")

_tasks_backend = env("TASKS_BACKEND")
TASKS = {
    "default": {
        "BACKEND": {
            "database": "django_tasks_db.DatabaseBackend",
            "immediate": "django_tasks.backends.immediate.ImmediateBackend",
        }[_tasks_backend]
    }
}

# Live chat (guichet.channels.chat): Redis shares WebSocket groups between web processes; the
# in-memory layer works within one process only (`serve` then starts one web worker).
# Redis Pub/Sub: a line for a team reaches each web process once, which hands it to its consoles
# (bench/chat.py: the list-based RedisChannelLayer read each console's copy with its own round
# trips, and dropped lines past 100 waiting per process). The socket timeout stays above the
# layer's own waits (redis-py 8 defaults to 5 s, which made idle consumers fail).
REDIS_URL = env("REDIS_URL")
CHANNEL_LAYERS = {
    "default": (
        {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}]},
        }
        if REDIS_URL
        else {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    )
}
CHAT_PRESENCE_SECONDS = env("CHAT_PRESENCE_SECONDS")
CHAT_MESSAGE_MAX_CHARS = env("CHAT_MESSAGE_MAX_CHARS")
CHAT_MAX_MESSAGES_PER_MINUTE = env("CHAT_MAX_MESSAGES_PER_MINUTE")
CHAT_WIDGET_ORIGINS = env("CHAT_WIDGET_ORIGINS")

# Security (RELIABILITY W02, W03, A07; `manage.py check --deploy` is clean in production mode).
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_SSL_REDIRECT = PRODUCTION
SECURE_HSTS_SECONDS = 31536000 if PRODUCTION else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_AGE = 12 * 3600

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"guichet": {"handlers": ["console"], "level": env("LOG_LEVEL")}},
}
