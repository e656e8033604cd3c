"""Issue #17, item 6: a `..` path under /static/ is a 404 from the server `make run` starts, not a 500."""

import io
from wsgiref.util import setup_testing_defaults

import pytest
from django.core.management import get_commands, load_command_class


def runserver_handler():
    """The WSGI handler `manage.py runserver --insecure` serves (dispatch's supervisor starts it so)."""
    command = load_command_class(get_commands()["runserver"], "runserver")
    options = vars(command.create_parser("manage.py", "runserver").parse_args(["--noreload", "--insecure"]))
    return command.get_handler(**options)


def get(handler, path: str) -> tuple[int, bytes]:
    environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET", "wsgi.errors": io.StringIO()}
    setup_testing_defaults(environ)
    answered = {}

    def start_response(status, headers, exc_info=None):
        answered["status"] = int(status.split()[0])

    body = b"".join(handler(environ, start_response))
    return answered["status"], body


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    ["/static/../config/settings.py", "/static/../../etc/passwd", "/static/admin/../../x", "/static/.."],
)
def test_a_path_out_of_static_is_a_404(path):
    status, body = get(runserver_handler(), path)
    assert status == 404
    assert b"SECRET_KEY" not in body and b"root:" not in body


@pytest.mark.django_db
def test_the_admins_assets_are_still_served_without_collectstatic():
    status, body = get(runserver_handler(), "/static/admin/css/base.css")
    assert status == 200 and b"body" in body
