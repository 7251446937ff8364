from rest_framework import serializers

from .models import Agent, OrganizationAPIKey, Server


class OrganizationAPIKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = OrganizationAPIKey
        fields = ["id", "name", "role", "created", "last_used"]
        read_only_fields = ["id", "created", "last_used"]


class ServerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Server
        fields = ["id", "name", "created"]
        read_only_fields = ["id", "created"]


class AgentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Agent
        fields = ["id", "name", "created"]
        read_only_fields = ["id", "created"]
