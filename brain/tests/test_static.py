def test_whitenoise_serves_the_admin_css_without_debug(client, settings):
    assert settings.DEBUG is False

    response = client.get("/static/admin/css/base.css")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert b"body" in b"".join(response.streaming_content)
