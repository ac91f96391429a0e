"""The API's front door: /api/ lists the endpoints, /api/schema/ is the
OpenAPI schema, /api/docs/ (Swagger UI) and /api/redoc/ (ReDoc) read it.

Everything is served from this site (drf-spectacular-sidecar's copies of
Swagger UI and ReDoc), under the site's CSP: our own page templates hold no
inline script or <style> element, Swagger UI's start-up script is a separate
request (SpectacularSwaggerSplitView, ?script), ReDoc's is static/js/redoc_init.js.

Here in mlkanban rather than in board: the list names the endpoints of board
and experiments alike, and board never imports experiments.
"""

import re

from csp.constants import NONCE, SELF
from csp.decorators import csp_update
from django.contrib.auth.decorators import login_required
from django.urls import URLPattern, reverse
from drf_spectacular.renderers import OpenApiJsonRenderer2, OpenApiYamlRenderer
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.response import Response
from rest_framework.views import APIView

from board import api as board_api
from board import api_urls as board_api_urls
from experiments import api_urls as experiments_api_urls

_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


def _route_template(pattern: URLPattern) -> str:
    """'boards/<int:board_id>/' -> 'boards/{board_id}/', as the schema writes paths."""
    return _CONVERTER.sub(r"{\1}", str(pattern.pattern))


class ApiRootApi(APIView):
    """GET /api/: where everything is, for people and scripts.

    JSON for clients, DRF's browsable page for a browser. Paths with
    {placeholders} are templates: fill in the ids."""

    def get_view_name(self):
        return "mlkanban API"

    def get_view_description(self, html=False):
        # What the browsable page says above the list (the docstring is for developers); plain text, escaped there.
        return ("Every endpoint of this API; paths with {placeholders} are templates: fill in the ids. "
                "Read and try them at /api/docs/ (Swagger UI) or /api/redoc/ (ReDoc).")

    @extend_schema(exclude=True)
    def get(self, request):
        base = request.build_absolute_uri(reverse("api-root"))
        endpoints = {}
        for module in (board_api_urls, experiments_api_urls):
            for pattern in module.urlpatterns:
                endpoints[pattern.name] = base + _route_template(pattern)
        return Response({
            "documentation": request.build_absolute_uri(reverse("api-docs")),
            "redoc": request.build_absolute_uri(reverse("api-redoc")),
            "schema": request.build_absolute_uri(reverse("api-schema")),
            "authentication": "A session (signed in on this site) or the header 'Authorization: Token <key>'.",
            "endpoints": endpoints,
        })


class _BrowserYamlRenderer(OpenApiYamlRenderer):
    # The same YAML, as a type browsers display: application/vnd.oai.openapi
    # (the schema's own type) makes a browser download a file.
    media_type = "text/plain"


class BrowsableSchemaApi(board_api.SchemaApi):
    """GET /api/schema/: the schema; a browser gets it as text it shows.

    DRF picks a renderer by the Accept header's most specific types first and
    falls back on */* to the first renderer, YAML as application/vnd.oai.openapi.
    A page load (Accept: text/html...) gets the same YAML as text/plain, or
    with ?format=json JSON as application/json; tools keep the OpenAPI types."""

    def perform_content_negotiation(self, request, force=False):
        if "text/html" in request.headers.get("Accept", ""):
            renderer = {None: _BrowserYamlRenderer, "yaml": _BrowserYamlRenderer,
                        "json": OpenApiJsonRenderer2}.get(request.query_params.get("format"))
            if renderer is not None:
                return renderer(), renderer.media_type
        return super().perform_content_negotiation(request, force)


class SwaggerApi(SpectacularSwaggerSplitView):
    """GET /api/docs/: Swagger UI, with "Try it out" on the signed-in session."""

    url_name = "api-schema"
    template_name = "api/swagger_ui.html"
    title = "mlkanban API"


class RedocApi(SpectacularRedocView):
    """GET /api/redoc/: the same schema as one reading page."""

    url_name = "api-schema"
    template_name = "api/redoc.html"
    title = "mlkanban API"


# The documentation pages are for people: signed out, they go to the login
# page and come back, as every other page does. (/api/ and the schema answer
# 401 like the rest of the API.)
swagger_view = login_required(SwaggerApi.as_view())
# ReDoc writes its styles as <style> elements: on this page only, style-src
# also takes the request's nonce, which static/js/redoc_init.js hands to ReDoc
# for the elements it writes once started. Two are written while its bundle
# loads, before it can know the nonce: an empty one and perfect-scrollbar's
# CSS; they are allowed by their hashes (a new sidecar version may change the
# second: tests/browser/test_api_docs_in_browser.py then reports a violation).
# Its search index runs in a worker made from a blob: URL. Any other <style>
# element stays blocked here as everywhere.
REDOC_STYLE_HASHES = [
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",  # the empty string
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",  # perfect-scrollbar.css in redoc.standalone.js 2.5
]
redoc_view = login_required(csp_update({"style-src": [NONCE, *REDOC_STYLE_HASHES], "worker-src": [SELF, "blob:"]})(
    RedocApi.as_view()))
