import secrets

from django.db import models
from rest_framework_api_key.models import AbstractAPIKey


class Organization(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=128, blank=True)

    def __str__(self):
        return self.slug


def _server_id():
    return "srv-" + secrets.token_hex(4)


def _agent_id():
    return "agent-" + secrets.token_hex(4)


class Server(models.Model):
    id = models.CharField(max_length=64, primary_key=True, default=_server_id)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="servers")
    name = models.CharField(max_length=128)
    created = models.DateTimeField(auto_now_add=True)


class Agent(models.Model):
    id = models.CharField(max_length=64, primary_key=True, default=_agent_id)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="agents")
    name = models.CharField(max_length=128)
    created = models.DateTimeField(auto_now_add=True)


class OrganizationAPIKey(AbstractAPIKey):
    """A service-account key of one organization, with an organization role (library guide, "API key models")."""

    ROLE_DEVELOPER = "developer"
    ROLE_ADMIN = "admin"
    ROLES = [(ROLE_DEVELOPER, "Developer"), (ROLE_ADMIN, "Admin")]

    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="api_keys",
    )
    role = models.CharField(max_length=16, choices=ROLES, default=ROLE_DEVELOPER)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "Organization API key"
        verbose_name_plural = "Organization API keys"
