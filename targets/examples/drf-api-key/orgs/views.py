from rest_framework import generics, status
from rest_framework.response import Response

from .models import Agent, OrganizationAPIKey, Server
from .permissions import HasOrganizationAPIKey, IsOrganizationAdmin
from .serializers import AgentSerializer, OrganizationAPIKeySerializer, ServerSerializer


class OrganizationMixin:
    """Views under `/organizations/<org>/`: objects of that organization only."""

    model = None

    def get_queryset(self):
        return self.model.objects.filter(organization__slug=self.kwargs["org"])


class AdminForWritesMixin:
    """Reading needs a key of the organization; anything else needs an admin key too."""

    def get_permissions(self):
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            return [HasOrganizationAPIKey()]
        return [HasOrganizationAPIKey(), IsOrganizationAdmin()]


class APIKeyList(AdminForWritesMixin, OrganizationMixin, generics.ListCreateAPIView):
    model = OrganizationAPIKey
    serializer_class = OrganizationAPIKeySerializer

    def get_queryset(self):
        # Active keys only: the library's `get_usable_keys()` leaves out revoked ones.
        return OrganizationAPIKey.objects.get_usable_keys().filter(organization__slug=self.kwargs["org"])

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # The library's guide: `create_key()` returns the object and the generated key, shown once.
        api_key, key = OrganizationAPIKey.objects.create_key(
            organization=request.api_key.organization,
            **serializer.validated_data,
        )
        data = OrganizationAPIKeySerializer(api_key).data
        data["key"] = key
        return Response(data, status=status.HTTP_201_CREATED)


class APIKeyDetail(AdminForWritesMixin, OrganizationMixin, generics.RetrieveDestroyAPIView):
    model = OrganizationAPIKey
    serializer_class = OrganizationAPIKeySerializer
    lookup_field = "id"

    def get_queryset(self):
        return OrganizationAPIKey.objects.get_usable_keys().filter(organization__slug=self.kwargs["org"])

    def perform_destroy(self, instance):
        # Revoke rather than delete (the library's `revoked` field; it cannot be undone).
        instance.revoked = True
        instance.save()


class ServerList(OrganizationMixin, generics.ListCreateAPIView):
    model = Server
    serializer_class = ServerSerializer

    def perform_create(self, serializer):
        serializer.save(organization=self.request.api_key.organization)


class ServerDetail(OrganizationMixin, generics.RetrieveAPIView):
    model = Server
    serializer_class = ServerSerializer
    lookup_field = "id"


class AgentList(OrganizationMixin, generics.ListCreateAPIView):
    model = Agent
    serializer_class = AgentSerializer

    def perform_create(self, serializer):
        serializer.save(organization=self.request.api_key.organization)


class AgentDetail(OrganizationMixin, generics.RetrieveDestroyAPIView):
    model = Agent
    serializer_class = AgentSerializer
    lookup_field = "id"
