from django.urls import path

from . import views

org = "organizations/<str:org>"

urlpatterns = [
    path(f"{org}/api-keys", views.APIKeyList.as_view()),
    path(f"{org}/api-keys/<str:id>", views.APIKeyDetail.as_view()),
    path(f"{org}/servers", views.ServerList.as_view()),
    path(f"{org}/servers/<str:id>", views.ServerDetail.as_view()),
    path(f"{org}/agents", views.AgentList.as_view()),
    path(f"{org}/agents/<str:id>", views.AgentDetail.as_view()),
]
