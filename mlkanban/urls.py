from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from board import api as board_api
from board import views as board_views

from .auth import PasswordChangeView
from .health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/login/", board_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", board_views.signup, name="signup"),
    path("accounts/password/", PasswordChangeView.as_view(), name="password_change"),
    path("api/", include("board.api_urls")),
    path("api/", include("experiments.api_urls")),
    path("api/schema/", board_api.SchemaApi.as_view(), name="api-schema"),
    path("", include("board.urls")),
    path("", include("experiments.urls")),
]
