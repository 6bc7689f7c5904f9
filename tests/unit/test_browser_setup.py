"""`make test` finds a Chromium, ignores Ubuntu's snap shim, and stops with one line when there is no way to get one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import browser

pytestmark = pytest.mark.unit


def _executable(path: Path, content: str) -> Path:
    path.write_text(content)
    path.chmod(0o755)
    return path


@pytest.fixture
def bare_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(browser.ENV_OVERRIDE, raising=False)
    monkeypatch.setattr(browser, "MACOS_APPS", ())
    return tmp_path


def test_a_chromium_on_the_path_is_found(bare_path: Path) -> None:
    found = _executable(bare_path / "chromium", "#!/bin/sh\n")
    assert browser.system_chromium() == str(found)


def test_ubuntus_snap_shim_is_not_taken_for_a_browser(bare_path: Path) -> None:
    _executable(bare_path / "chromium-browser", '#!/bin/sh\nexec /snap/bin/chromium "$@"\n')
    assert browser.system_chromium() is None


def test_with_no_way_to_get_one_it_stops_with_one_line(
    bare_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    attempts: list[str] = []
    monkeypatch.setattr(browser, "playwright_chromium", lambda python: None)
    monkeypatch.setattr(browser, "_apt_install", lambda: attempts.append("apt") or False)
    monkeypatch.setattr(browser, "_playwright_download", lambda python: attempts.append("download") or False)

    assert browser.main(["python3"]) == 1

    assert attempts == ["apt", "download"]
    assert capsys.readouterr().err.strip().splitlines() == [browser.HOW_TO_INSTALL]


def test_apt_is_tried_before_the_download(bare_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def apt_install() -> bool:
        _executable(bare_path / "chromium", "#!/bin/sh\n")
        return True

    monkeypatch.setattr(browser, "playwright_chromium", lambda python: None)
    monkeypatch.setattr(browser, "_apt_install", apt_install)
    monkeypatch.setattr(browser, "_playwright_download", lambda python: pytest.fail("downloaded after apt worked"))

    assert browser.ensure_chromium("python3") == str(bare_path / "chromium")
