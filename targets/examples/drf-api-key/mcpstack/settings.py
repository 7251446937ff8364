"""
Django settings for the MCPStack-shaped example API (authconform's drf-api-key target).

A plain `startproject` layout with Django REST framework and djangorestframework-api-key configured as their
documentation shows. Nothing here hardens the library's defaults: the point of this target is to see what
authconform finds in them.
"""

import os
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# A test-only value: this example never runs outside a test harness.
SECRET_KEY = "django-insecure-authconform-drf-api-key-example-only"

# Production-style: no debug pages. The server only listens on the loopback interface.
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "orgs",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mcpstack.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "mcpstack.wsgi.application"

# SQLite in a temporary folder: the launcher (`run`) points DRF_DB_PATH at a fresh file for every start.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DRF_DB_PATH") or os.path.join(tempfile.gettempdir(), "drf-api-key-example.sqlite3"),
    }
}

AUTH_PASSWORD_VALIDATORS = []

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django REST framework: API keys on every view (djangorestframework-api-key, "Setting permissions").
# Authentication classes are left at DRF's defaults.
REST_FRAMEWORK = {
    "DEFAULT_PERMISSION_CLASSES": [
        "orgs.permissions.HasOrganizationAPIKey",
    ],
}

# djangorestframework-api-key, "Custom header": clients send `X-Api-Key: <key>`.
API_KEY_CUSTOM_HEADER = "HTTP_X_API_KEY"
