"""Seeds the fixtures authconform's target file describes.

Organizations org-a and org-b; servers srv-a1 (org-a) and srv-b1 (org-b); agents agent-1, agent-2 (org-a) and
agent-b1 (org-b); and one key per variable below, with the value the variable holds (the suite knows it from its
target file). A variable left unset seeds no key. Nothing about the keys is printed.
"""

import os

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework_api_key.crypto import concatenate, split

from orgs.models import Agent, Organization, OrganizationAPIKey, Server

KEYS = [
    # (variable, organization, role, name)
    ("DRF_KEY_ADMIN_A", "org-a", OrganizationAPIKey.ROLE_ADMIN, "admin-a"),
    ("DRF_KEY_DEV_A", "org-a", OrganizationAPIKey.ROLE_DEVELOPER, "dev-a"),
    ("DRF_KEY_ADMIN_B", "org-b", OrganizationAPIKey.ROLE_ADMIN, "admin-b"),
    ("DRF_KEY_DEV_B", "org-b", OrganizationAPIKey.ROLE_DEVELOPER, "dev-b"),
]


def seed_key(value, **fields):
    """Stores `value` as a key exactly as `BaseAPIKeyManager.assign_key()` stores a generated one.

    The library's format is `{prefix}.{secret}`; it keeps the prefix (for the lookup) and the key's hash from the
    manager's key generator, and the primary key is `{prefix}.{hash}`. Only the generation step is replaced: the
    value is the chosen one instead of a random one.
    """
    prefix, secret = split(value)
    if not prefix or not secret or len(prefix) > OrganizationAPIKey._meta.get_field("prefix").max_length:
        raise CommandError("a seeded key must be `{prefix}.{secret}` with a prefix of at most 8 characters")
    hashed_key = OrganizationAPIKey.objects.key_generator.hash(value)
    obj = OrganizationAPIKey(**fields)
    obj.id = concatenate(prefix, hashed_key)
    obj.prefix = prefix
    obj.hashed_key = hashed_key
    obj.save()
    if not OrganizationAPIKey.objects.is_valid(value):
        raise CommandError("a seeded key does not verify")
    return obj


class Command(BaseCommand):
    help = "Seed organizations, servers, agents and API keys (values from DRF_KEY_* variables)."

    @transaction.atomic
    def handle(self, *args, **options):
        orgs = {slug: Organization.objects.create(slug=slug, name=slug) for slug in ("org-a", "org-b")}
        for sid, org in (("srv-a1", "org-a"), ("srv-b1", "org-b")):
            Server.objects.create(id=sid, organization=orgs[org], name=sid)
        for aid, org in (("agent-1", "org-a"), ("agent-2", "org-a"), ("agent-b1", "org-b")):
            Agent.objects.create(id=aid, organization=orgs[org], name=aid)
        for var, org, role, name in KEYS:
            value = os.environ.get(var)
            if value:
                seed_key(value, name=name, organization=orgs[org], role=role)
