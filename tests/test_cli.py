"""The command line: clear stops for a missing key or a wrong registry, and a working ingest."""

from __future__ import annotations

import pytest

from reentry.cli import main
from reentry.pseudonym import KEY_ENV

from .conftest import Landing, query


def test_ingest_without_key_stops_before_touching_anything(
    landing: Landing, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    landing.source("jva-a", "prison")
    landing.file(
        "jva-a",
        "inmates.2005-01-31.csv",
        "inmate_id,family_name,given_name,birth_date\nA1,Müller,Hans,1980-02-01\n",
    )
    code = main(["ingest", "--landing", str(landing.root), "--workdir", str(tmp_path / "w")])
    err = capsys.readouterr().err
    assert code == 2
    assert "no pseudonym key: set REENTRY_PSEUDONYM_KEY or pass --key-file" in err
    assert not (tmp_path / "w").exists()


def test_ingest_with_wrong_registry_names_file_and_field(
    landing: Landing, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv(KEY_ENV, "k" * 40)
    landing.source("jva-a", "prison", delivery={"inmates": "sometimes"})
    code = main(["ingest", "--landing", str(landing.root), "--workdir", str(tmp_path / "w")])
    err = capsys.readouterr().err
    assert code == 2
    assert "sources.yml" in err and "delivery.inmates" in err


def test_ingest_with_key_file_loads_and_prints_summary(
    landing: Landing, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    key_file = tmp_path / "key"
    key_file.write_text("0123456789abcdef" * 4, encoding="utf-8")
    landing.source("jva-a", "prison")
    landing.file(
        "jva-a",
        "inmates.2005-01-31.csv",
        "inmate_id,family_name,given_name,birth_date\nA1,Müller,Hans,1980-02-01\n"
        "A2,Nowak,,1981-01-01\n",
    )
    code = main(
        [
            "ingest",
            "-v",
            "--landing",
            str(landing.root),
            "--workdir",
            str(tmp_path / "w"),
            "--key-file",
            str(key_file),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "1 loaded, 1 quarantined" in out  # the file's own line, shown with -v
    assert "missing_required" in out
    assert "Müller" not in out and "1980-02-01" not in out
    # Only ingestion has run: no link rate is counted outside the build's mart.
    assert "Link rates" in out and "come with the build" in out and "linked:" not in out
    assert query(
        tmp_path / "w" / "work" / "warehouse.duckdb", "select count(*) from raw.inmates"
    ) == [(1,)]
