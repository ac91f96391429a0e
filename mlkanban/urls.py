from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from board import views as board_views

from . import api_docs
from .auth import PasswordChangeView
from .health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/login/", board_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", board_views.signup, name="signup"),
    path("accounts/password/", PasswordChangeView.as_view(), name="password_change"),
    path("api/", api_docs.ApiRootApi.as_view(), name="api-root"),
    path("api/", include("board.api_urls")),
    path("api/", include("experiments.api_urls")),
    path("api/schema/", api_docs.BrowsableSchemaApi.as_view(), name="api-schema"),
    path("api/docs/", api_docs.swagger_view, name="api-docs"),
    path("api/redoc/", api_docs.redoc_view, name="api-redoc"),
    path("", include("board.urls")),
    path("", include("experiments.urls")),
]

# In the app's layout for people, JSON under /api/ (mlkanban/errors.py).
handler403 = "mlkanban.errors.permission_denied"
handler404 = "mlkanban.errors.page_not_found"
handler500 = "mlkanban.errors.server_error"
