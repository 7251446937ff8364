from django.utils import timezone
from rest_framework import permissions
from rest_framework_api_key.permissions import BaseHasAPIKey

from .models import OrganizationAPIKey


class HasOrganizationAPIKey(BaseHasAPIKey):
    """A valid key of the organization named in the URL (`/organizations/<org>/…`).

    The library's guide: subclass `BaseHasAPIKey` with `.model`, and customize `.has_permission()` when needed.
    """

    model = OrganizationAPIKey

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        api_key = OrganizationAPIKey.objects.get_from_key(self.get_key(request))
        if api_key.organization.slug != view.kwargs.get("org"):
            return False
        # Views use the key (its organization and role); record when it was last used.
        request.api_key = api_key
        OrganizationAPIKey.objects.filter(pk=api_key.pk).update(last_used=timezone.now())
        return True


class IsOrganizationAdmin(permissions.BasePermission):
    """The key's organization role is admin (use after `HasOrganizationAPIKey`)."""

    def has_permission(self, request, view):
        api_key = getattr(request, "api_key", None)
        return api_key is not None and api_key.role == OrganizationAPIKey.ROLE_ADMIN
