"""Pseudonyms: normalisation, agreement with a reference HMAC, key handling."""

from __future__ import annotations

import hashlib
import hmac

import duckdb
import pytest

from reentry.pseudonym import (
    KEY_ENV,
    PseudonymKey,
    PseudonymKeyError,
    ensure_demo_key,
    load_key,
    normalise_name_sql,
    pseudonym_sql,
)

from .conftest import TEST_KEY


def normalise(name: str) -> str:
    return duckdb.execute(f"select {normalise_name_sql('$n')}", {"n": name}).fetchone()[0]


def pseudonym(family: str, given: str, birth: str, key: PseudonymKey = TEST_KEY) -> str:
    sql = pseudonym_sql("$f", "$g", "cast($b as date)")
    return duckdb.execute(
        f"select {sql}", {"f": family, "g": given, "b": birth, **key.pads()}
    ).fetchone()[0]


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("Müller-Lüdenscheidt", "MUELLERLUEDENSCHEIDT"),
        ("MUELLER LUEDENSCHEIDT", "MUELLERLUEDENSCHEIDT"),
        ("müller lüdenscheidt", "MUELLERLUEDENSCHEIDT"),
        ("Groß", "GROSS"),
        ("Gross", "GROSS"),
        ("GROẞ", "GROSS"),
        ("Schröder", "SCHROEDER"),
        ("van der Berg", "VANDERBERG"),
        ("Van der Berg", "VANDERBERG"),
        ("vanderberg", "VANDERBERG"),
        ("O'Neill", "ONEILL"),
        ("Šimić", "SIMIC"),
        ("Øster-Ærø", "OSTERAERO"),
        ("Łukasz", "LUKASZ"),
        ("  José  María ", "JOSEMARIA"),
        ("Özdemir", "OEZDEMIR"),
    ],
)
def test_normalisation_folds_spellings(variant: str, expected: str) -> None:
    assert normalise(variant) == expected


def test_spelling_variants_share_one_pseudonym() -> None:
    a = pseudonym("Müller-Lüdenscheidt", "Jürgen", "1970-03-04")
    b = pseudonym("MUELLER LUEDENSCHEIDT", "JUERGEN", "1970-03-04")
    c = pseudonym("Mueller-Luedenscheidt", "jürgen", "1970-03-04")
    assert a == b == c
    assert a != pseudonym("Müller-Lüdenscheidt", "Jürgen", "1970-03-05")
    assert a != pseudonym("Müller", "Lüdenscheidt Jürgen", "1970-03-04")  # the separator holds


def test_sql_hmac_equals_reference_hmac() -> None:
    for key in (TEST_KEY, PseudonymKey(b"x" * 100)):  # a key longer than the block is hashed
        message = b"MUELLERLUEDENSCHEIDT|JUERGEN|1970-03-04"
        expected = hmac.new(key.secret, message, hashlib.sha256).hexdigest()
        assert pseudonym("Müller-Lüdenscheidt", "Jürgen", "1970-03-04", key) == expected


def test_a_changed_key_changes_every_pseudonym() -> None:
    people = [
        ("Müller", "Hans", "1980-01-01"),
        ("de Vries", "Jan", "1975-06-30"),
        ("Yılmaz", "Ayşe", "1990-12-31"),
        ("Nowak", "Piotr", "1966-02-28"),
    ]
    other = PseudonymKey(b"another-key-" + b"z" * 32)
    before = {pseudonym(*p) for p in people}
    after = {pseudonym(*p, key=other) for p in people}
    assert len(before) == len(after) == len(people)
    assert before.isdisjoint(after)


def test_key_never_shows_in_repr() -> None:
    key = PseudonymKey(b"super-secret-value-0123456789abcdef")
    assert "super-secret" not in repr(key)
    assert "super-secret" not in str(key)


def test_run_without_key_stops_with_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(PseudonymKeyError, match="no pseudonym key: set REENTRY_PSEUDONYM_KEY"):
        load_key(None)


def test_short_key_refused_outside_demo(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv(KEY_ENV, "too-short")
    with pytest.raises(PseudonymKeyError, match="at least 32 are required"):
        load_key(None)
    assert load_key(None, demo=True).secret == b"too-short"
    key_file = ensure_demo_key(tmp_path / "k" / "pseudonym.key")
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert len(load_key(key_file).secret) == 64
    assert ensure_demo_key(key_file).read_bytes() == key_file.read_bytes()  # kept, not replaced
