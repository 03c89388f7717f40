"""System checks for the origin, credentials and encoder settings, compared by value."""

from __future__ import annotations

from django.core.checks import Error, Warning
from django.test import override_settings

from django_socketio.checks import check_cors_credentials, check_origins, check_settings

W020 = Warning(
    "ALLOWED_HOSTS contains '*' and SOCKETIO['CORS_ALLOWED_ORIGINS'] lists no origins, so a "
    "page on any site may open a Socket.IO connection as the logged-in user.",
    hint="List the origins of your pages in SOCKETIO['CORS_ALLOWED_ORIGINS'] "
    "(e.g. ['https://www.example.com']); then only they, and same-origin pages, are allowed.",
    id="django_socketio.W020",
)
W021 = Warning(
    "SOCKETIO['CORS_ALLOWED_ORIGINS'] is '*' and SOCKETIO['CORS_CREDENTIALS'] is True: any "
    "site's page may use the Socket.IO connection of a logged-in user (with SameSite=None "
    "session cookies, or from a sibling subdomain).",
    hint="List your pages' origins instead of '*', or remove CORS_CREDENTIALS: '*' alone "
    "sends 'Access-Control-Allow-Origin: *' and ignores cookies.",
    id="django_socketio.W021",
)


def test_allowed_hosts_star_without_listed_origins_warns():
    """W020 while any site can get in through ALLOWED_HOSTS; listing origins ends it."""
    with override_settings(ALLOWED_HOSTS=["*"], SOCKETIO={}):
        assert check_origins() == [W020]
    with override_settings(ALLOWED_HOSTS=["*"], SOCKETIO={"CORS_ALLOWED_ORIGINS": ["https://a.b"]}):
        assert check_origins() == []
    with override_settings(ALLOWED_HOSTS=["example.com"], SOCKETIO={}):
        assert check_origins() == []


def test_star_with_explicit_credentials_is_a_deploy_warning():
    """W021 only for the explicit opt-in; "*" alone is anonymous and fine."""
    for origins in ("*", ["*"]):
        with override_settings(
            SOCKETIO={"CORS_ALLOWED_ORIGINS": origins, "CORS_CREDENTIALS": True}
        ):
            assert check_cors_credentials() == [W021]
    for extra in ({}, {"CORS_CREDENTIALS": False}, {"CORS_CREDENTIALS": None}):
        with override_settings(SOCKETIO={"CORS_ALLOWED_ORIGINS": "*", **extra}):
            assert check_cors_credentials() == []


def test_cors_credentials_must_be_none_or_a_bool():
    with override_settings(SOCKETIO={"CORS_CREDENTIALS": "yes"}):
        assert check_settings() == [
            Error(
                "SOCKETIO['CORS_CREDENTIALS'] must be None (the default), True or False, "
                "not 'yes'.",
                id="django_socketio.E014",
            )
        ]


def test_json_encoder_must_be_a_json_encoder_class():
    def e015(problem: str) -> Error:
        return Error(
            f"SOCKETIO['JSON_ENCODER'] {problem}.",
            hint="The default is 'django.core.serializers.json.DjangoJSONEncoder'.",
            id="django_socketio.E015",
        )

    with override_settings(SOCKETIO={"JSON_ENCODER": "json.JSONDecoder"}):
        assert check_settings() == [
            e015("must name a json.JSONEncoder subclass, not <class 'json.decoder.JSONDecoder'>")
        ]
    with override_settings(SOCKETIO={"JSON_ENCODER": "nowhere.Encoder"}):
        assert check_settings() == [e015("cannot be imported (No module named 'nowhere')")]
    with override_settings(SOCKETIO={"JSON_ENCODER": "json.JSONEncoder"}):
        assert check_settings() == []
