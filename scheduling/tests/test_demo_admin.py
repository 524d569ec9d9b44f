import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def test_demo_credentials_show_the_served_port_and_log_every_demo_user_in(tmp_path, monkeypatch):
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("PORT", "8123")
    credentials = tmp_path / "demo-credentials.txt"

    call_command("create_demo_admin", credentials_file=credentials)

    text = credentials.read_text()
    assert "admin login: http://127.0.0.1:8123/admin/  user: admin  password: " in text
    assert "POST http://127.0.0.1:8123/api/auth/token" in text
    passwords = dict(
        line.split("user: ")[1].split("  password: ")
        for line in text.splitlines()
        if "user: " in line
    )
    assert sorted(passwords) == ["admin", "alice", "bob", "carol"]
    for username, password in passwords.items():
        assert authenticate(username=username, password=password).username == username
    staff = set(get_user_model().objects.filter(is_staff=True).values_list("username", flat=True))
    assert staff == {"admin"}


def test_demo_credentials_are_left_alone_once_a_superuser_exists(tmp_path, django_user_model):
    django_user_model.objects.create_superuser(username="root", password="root-password-1")
    credentials = tmp_path / "demo-credentials.txt"

    call_command("create_demo_admin", credentials_file=credentials)

    assert not credentials.exists()
    assert list(django_user_model.objects.values_list("username", flat=True)) == ["root"]


def test_a_credentials_file_that_cannot_be_written_creates_no_user(tmp_path, django_user_model):
    with pytest.raises(CommandError) as raised:
        call_command("create_demo_admin", credentials_file=tmp_path)

    assert str(raised.value) == f"Cannot write {tmp_path}: Is a directory. No user was created."
    assert not django_user_model.objects.exists()
