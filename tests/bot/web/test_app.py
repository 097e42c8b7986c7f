from pathlib import Path

import pytest

from bot.web.app import PAGE_CSP, STATIC_DIR, WidgetMissing, create_app
from tests.bot.web.support import running_rasa, settings_for, widget_client

pytestmark = pytest.mark.asyncio

BUNDLE = "/* rasa-webchat */ window.WebChat = {};\n"


@pytest.fixture
def widget_js(tmp_path: Path) -> Path:
    path = tmp_path / "index.js"
    path.write_text(BUNDLE)
    return path


async def test_the_page_loads_rasa_webchat_then_the_loader(widget_js: Path) -> None:
    async with running_rasa() as rasa, widget_client(settings_for(rasa.url, widget_js)) as client:
        response = await client.get("/")
        html = await response.text()

        assert response.status == 200
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert response.headers["Content-Security-Policy"] == PAGE_CSP
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert html == (STATIC_DIR / "index.html").read_text()
        assert html.index('src="/vendor/rasa-webchat.js"') < html.index(
            'src="/static/support-widget.js"'
        )
        assert "<script>" not in html  # the CSP allows no inline script


async def test_the_bundle_and_the_assets_are_served(widget_js: Path) -> None:
    async with running_rasa() as rasa, widget_client(settings_for(rasa.url, widget_js)) as client:
        bundle = await client.get("/vendor/rasa-webchat.js")
        assert bundle.status == 200
        assert bundle.headers["Content-Type"] == "application/javascript; charset=utf-8"
        assert await bundle.text() == BUNDLE
        types = {
            "support-widget.js": "text/javascript",
            "support-widget.css": "text/css",
            "page.css": "text/css",
        }
        for name, content_type in types.items():
            asset = await client.get(f"/static/{name}")
            assert asset.status == 200
            assert asset.headers["Content-Type"] == content_type
            assert asset.headers["Cache-Control"] == "no-cache"
            assert await asset.text() == (STATIC_DIR / name).read_text()


@pytest.mark.parametrize("path", ["/static/../settings.py", "/static/index.html", "/nothing"])
async def test_anything_else_is_not_found(widget_js: Path, path: str) -> None:
    async with running_rasa() as rasa, widget_client(settings_for(rasa.url, widget_js)) as client:
        response = await client.get(path)
        assert response.status == 404
        assert await response.json() == {"error": "Not Found"}


async def test_a_missing_bundle_stops_the_server_with_advice(tmp_path: Path) -> None:
    settings = settings_for("http://127.0.0.1:1", tmp_path / "missing.js")
    with pytest.raises(WidgetMissing, match=r"missing.js is missing\): run `make setup`"):
        create_app(settings)


async def test_health_reports_rasa(widget_js: Path) -> None:
    async with running_rasa() as rasa, widget_client(settings_for(rasa.url, widget_js)) as client:
        response = await client.get("/health")
        assert response.status == 200
        assert await response.json() == {"status": "ok", "rasa": "ok"}

    settings = settings_for("http://127.0.0.1:1", widget_js, rasa_timeout_s=1)
    async with widget_client(settings) as client:
        response = await client.get("/health")
        body = await response.json()
        assert response.status == 503
        assert body["status"] == "unavailable"
        assert body["error"].startswith("Rasa at http://127.0.0.1:1 is unreachable: ")


async def test_pages_from_allowed_sites_may_use_the_relay(widget_js: Path) -> None:
    async with running_rasa() as rasa:
        settings = settings_for(rasa.url, widget_js, allowed_origins=("https://shop.example",))
        async with widget_client(settings) as client:
            allowed = await client.get(
                "/webhooks/rest/inbox/s1", headers={"Origin": "https://shop.example"}
            )
            assert allowed.status == 200
            assert allowed.headers["Access-Control-Allow-Origin"] == "https://shop.example"
            assert allowed.headers["Vary"] == "Origin"

            refused = await client.post(
                "/socket.io/?EIO=4&transport=polling", data="40", headers={"Origin": "https://evil"}
            )
            assert refused.status == 403
            assert await refused.json() == {
                "error": "pages from https://evil may not use this chat server "
                "(see WEB_ALLOWED_ORIGINS)"
            }

            preflight = await client.options(
                "/webhooks/rest/inbox/s1", headers={"Origin": "https://shop.example"}
            )
            assert preflight.status == 204
            assert preflight.headers["Access-Control-Allow-Origin"] == "https://shop.example"
            assert preflight.headers["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"

            # The server's own page is always allowed, and gets no CORS headers.
            own = f"http://{client.host}:{client.port}"
            same = await client.get("/socket.io/?EIO=4", headers={"Origin": own})
            assert same.status == 200
            assert "Access-Control-Allow-Origin" not in same.headers
            # Only the relay is guarded: the scripts load anywhere.
            script = await client.get(
                "/static/support-widget.js", headers={"Origin": "https://evil"}
            )
            assert script.status == 200
    assert [r["method"] for r in rasa.requests] == ["GET", "GET"]
