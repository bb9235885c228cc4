"""The privacy scanner itself must be able to fail: it finds names hidden in every medium."""

from __future__ import annotations

import duckdb
import polars as pl
import xlsxwriter

from .privacy_scan import Identifiers, scan_tree


def test_scanner_finds_names_in_compressed_duckdb_tables_and_in_text(tmp_path) -> None:
    ids = Identifiers(name_tokens={"wischnewski", "roswitha"}, birth_dates={"1971-02-03"})
    con = duckdb.connect(str(tmp_path / "x.duckdb"))
    con.execute("create schema raw")
    con.execute("create table raw.t as select 'row ' || i as note, i from range(200000) t(i)")
    con.execute("insert into raw.t values ('Wischnewski', 1)")  # one row among many
    con.execute("create table raw.j as select {'v': '03.02.1971'}::json as record")
    con.close()
    (tmp_path / "run.log").write_text("loaded Roswitha\n", encoding="cp1252")
    (tmp_path / "clean.log").write_text("nothing to see\n", encoding="utf-8")
    # Compressed containers: a Parquet file and a workbook (a zip of XML parts).
    pl.DataFrame({"n": list(range(5000)), "who": ["x"] * 4999 + ["Roswitha"]}).write_parquet(
        tmp_path / "cache.parquet"
    )
    with xlsxwriter.Workbook(str(tmp_path / "pack.xlsx")) as book:
        book.add_worksheet().write_string(0, 0, "born 03.02.1971")
    leaks = scan_tree(tmp_path, ids)
    assert leaks == {
        "x.duckdb:raw.t.note": {"wischnewski"},
        "x.duckdb:raw.j.record": {"1971-02-03"},
        "run.log": {"roswitha"},
        "cache.parquet": {"roswitha"},
        "pack.xlsx": {"1971-02-03"},
    }
