"""GET /, /app and the app's pages and assets: public, no bearer (the app signs in itself)."""
from chalice import Response

from chalicelib import deps
from chalicelib.apidoc import Operation
from chalicelib.webapp.blueprint import bp
from chalicelib.web import route

TAGS = ("web app",)
HTML = "text/html"


def _answer(body_and_headers: tuple[str, dict[str, str]]) -> Response:
    body, headers = body_and_headers
    return Response(body=body, status_code=200, headers=headers)


@route(bp, "/", doc=Operation("The web app's address: a redirect to /app/", "public", {302: None}, tags=TAGS))
def root():
    return Response(body="", status_code=302, headers={"Location": "/app/", "Cache-Control": "no-store"})


# API Gateway (and chalice local) drop a trailing slash: /app/ arrives here as /app.
@route(bp, "/app", doc=Operation("The web app (index.html)", "public", {200: str}, response_media_type=HTML,
                                 tags=TAGS))
def index():
    return _answer(deps.web_app().page())


@route(bp, "/app/{page}", doc=Operation("A page of the web app (index.html; the browser draws the page)",
                                        "public", {200: str}, response_media_type=HTML, tags=TAGS))
def page(page):
    return _answer(deps.web_app().page(page))


@route(bp, "/app/{page}/{item}", doc=Operation("A page of the web app about one thing (index.html)",
                                               "public", {200: str}, response_media_type=HTML, tags=TAGS))
def item_page(page, item):
    return _answer(deps.web_app().page(page, item))


@route(bp, "/app/assets/{name}", doc=Operation("A file of the web app's build (hashed name, immutable)",
                                               "public", {200: str}, response_media_type="text/javascript",
                                               tags=TAGS))
def asset(name):
    return _answer(deps.web_app().asset(name))
