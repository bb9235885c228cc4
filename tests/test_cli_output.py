"""What the command line shows: quiet runs of one screen, -v for files and dbt, full error
messages, the researcher shell, status against the data's as-of date, the docs site."""

from __future__ import annotations

import contextlib
import io
import os
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reentry.cli import Console, build_parser, main

from .conftest import Landing, query, run_argv, settings_for

REPO = Path(__file__).resolve().parents[1]
# What Dagster and dagster-dbt say about themselves, which a run must never show.
DAGSTER_INTERNALS = (
    "dbt subsetted",
    "partial_parse",
    "Running dbt command",
    "Finished dbt command",
    "did not yield or return",
    "Skipping step",
    "Blocking asset check",
    "Execution of step",
    "Dependencies for step",
)
PER_FILE = re.compile(r"^\[\s*[\d.]+s\] \[\s*\d+/\d+\] \S+: ", re.M)


def cli(*argv: str) -> tuple[int, str, str]:
    """main() with stdout and stderr captured as a pipe would take them (no terminal)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def runs(built_demo, demo_keys, tmp_path_factory) -> dict:
    """A copy of the built demo through `reentry run`: after one new partner file (default
    output); with nothing new; and with -v after another new file when the last publish had
    four times the placements (validation then stops the run before the publish and the
    dashboards, which keeps this fixture short)."""
    import duckdb

    from bench.run import add_partner_file

    root = tmp_path_factory.mktemp("cli_output") / "demo"
    shutil.copytree(built_demo["root"], root)
    argv = run_argv(root, root / "landing", demo_keys)
    add_partner_file(root / "archive", root / "landing")
    first = cli(*argv)
    second = cli(*argv)
    con = duckdb.connect(str(root / "published" / "warehouse.duckdb"))
    for _ in range(2):
        con.execute("insert into marts.placements select * from marts.placements")
    con.close()
    add_partner_file(root / "archive", root / "landing")
    failing_verbose = cli("-v", *argv)
    return {"root": root, "first": first, "second": second, "failing_verbose": failing_verbose}


def test_a_run_prints_one_line_per_step_and_fits_one_screen(runs) -> None:
    code, out, err = runs["first"]
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) <= 45, out
    for step in (
        r"ingestion run \d+: 1 files loaded",
        r"dbt: new files of placements",
        r"dbt: \d+ of \d+ nodes passed in \d+ s",
        r"validation: \d+ of \d+ expectations",
        r"published \d+ marts",
        r"dashboards written",
        r"ministry pack \S+ written",
        r"researchers' database published",
    ):
        assert re.search(step, out), step
    assert not PER_FILE.search(out)  # files only with -v
    assert "Sources: " in out and "  kind " not in out  # totals, not the table per source
    assert "\x1b[" not in out + err
    for internal in DAGSTER_INTERNALS:
        assert internal not in out + err, internal
    assert err == ""


def test_a_second_run_with_nothing_new_says_so_briefly(runs) -> None:
    code, out, err = runs["second"]
    assert code == 0, err
    assert "dbt: nothing to rebuild" in out
    assert "researchers' database unchanged" in out
    assert max(len(line) for line in (out + err).splitlines()) <= 300
    assert "warn" not in (out + err).lower()
    for internal in DAGSTER_INTERNALS:
        assert internal not in out + err, internal
    assert len(out.splitlines()) <= 30


def test_the_summary_has_the_table_per_source_only_when_asked(built_demo) -> None:
    from reentry.ingest.summary import format_summary, load_summary

    summary = load_summary(built_demo["db"])
    compact = format_summary(summary, sources_table=False)
    table = format_summary(summary)
    n = len(summary["sources"])
    assert f"Sources: {n} (" in compact and "  kind " not in compact
    assert "  kind " in table and len(table.splitlines()) >= len(compact.splitlines()) + n
    assert all(s["source_id"] in table for s in summary["sources"])
    # Linkage is the mart's link rate over every programme and source, nothing else.
    rates = dict(
        query(
            built_demo["db"],
            "select entity, n_linked from marts.data_quality_link_rates "
            "where programme = 'all' and source_id = 'all'",
        )
    )
    assert {e: r["linked"] for e, r in summary["link_rates"].items()} == {
        "participants": rates["participants"],
        "register_entries": rates["register_entries"],
    }
    for text in (compact, table):
        assert f"linked: {rates['participants']:,} (" in text
        assert f"linked: {rates['register_entries']:,} (" in text
        assert "come with the build" not in text


def test_verbose_shows_each_file_dbts_lines_and_the_failure(runs) -> None:
    code, out, err = runs["failing_verbose"]
    assert code == 1
    assert PER_FILE.search(out)
    assert re.search(r"\d+ of \d+ START sql table model marts\.placements", out)
    assert re.search(r"\d+ of \d+ PASS ", out)
    assert re.search(r"dbt: \d+ of \d+ nodes passed", out)
    assert "marts/placements great_expectations" in err
    assert "\x1b[" not in out + err  # piped: dbt runs with --no-use-colors
    for internal in DAGSTER_INTERNALS:
        assert internal not in out + err, internal
    assert "WARNING" not in err  # neither Dagster's warnings nor deprecation notices


def test_ingest_shows_files_only_with_verbose(landing: Landing, tmp_path, demo_keys) -> None:
    landing.source("jva-a", "prison")
    header = "inmate_id,family_name,given_name,birth_date\nA1,Müller,Hans,1980-02-01\n"
    landing.file("jva-a", "inmates.2005-01-31.csv", header)
    landing.file("jva-a", "inmates.2005-02-28.csv", header + "A2,Nowak,Jan,1981-03-04\n")
    keys = ["--key-file", str(demo_keys["key_file"])]
    code, out, _ = cli(
        "ingest", "--landing", str(landing.root), "--workdir", str(tmp_path / "a"), *keys
    )
    assert code == 0 and "ingestion run 1: 2 files loaded" in out and not PER_FILE.search(out)
    landing.file("jva-a", "inmates.2005-03-31.csv", header + "A3,Kaya,Elif,1982-05-06\n")
    code, out, _ = cli(
        "ingest", "--landing", str(landing.root), "--workdir", str(tmp_path / "b"), *keys, "-v"
    )
    assert code == 0 and len(PER_FILE.findall(out)) == 1  # the others were archived
    for secret in ("Müller", "Nowak", "Kaya", "1980-02-01", "1981-03-04"):
        assert secret not in out


def test_on_a_terminal_progress_is_rewritten_in_place() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    console = Console(out=out)
    for i in range(1, 4):
        console.say(f"[{i}/3] jva-a/inmates.2005-0{i}-28.csv: 1 loaded, 0 quarantined (0.01 s)")
    console.dbt("1 of 2 OK created sql table model marts.releases ...... [OK in 0.1s]")
    console.say("ingestion run 1: 3 files loaded")
    text = out.getvalue()
    assert "\r\x1b[2K" in text and "ingest: file 3 of 3" in text
    assert "dbt build: 1 of 2 nodes done" in text
    permanent = [
        line
        for line in text.replace("\r\x1b[2K", "\n").splitlines()
        if line.endswith("files loaded")
    ]
    assert len(permanent) == 1
    piped = io.StringIO()
    console = Console(out=piped)
    console.say("[1/1] jva-a/inmates.2005-01-28.csv: 1 loaded, 0 quarantined (0.01 s)")
    console.dbt("1 of 2 OK created sql table model marts.releases ...... [OK in 0.1s]")
    assert piped.getvalue() == ""


def test_a_registry_typo_through_run_names_the_source_and_the_field(
    landing: Landing, tmp_path, demo_keys
) -> None:
    from reentry.pipeline import PipelineFailed, run_pipeline

    landing.source("jva-a", "prisn")
    code, out, err = cli(*run_argv(tmp_path / "w", landing.root, demo_keys))
    assert code == 2
    assert "sources.yml: invalid configuration" in err
    assert "sources[0] (id jva-a).kind: Input should be 'prison', 'partner' or 'register'" in err
    assert not (tmp_path / "w").exists()
    # Inside the job (a registry that changed after the run started) the same detail.
    root = tmp_path / "job"
    shutil.copytree(landing.root, root / "landing")
    with pytest.raises(PipelineFailed) as failed:
        run_pipeline(settings_for(root, demo_keys), lambda _m: None)
    assert failed.value.exit_code == 2
    assert "(id jva-a).kind: Input should be" in str(failed.value)
    assert "ConfigError" not in str(failed.value)


def shell_output(published: Path, script: str) -> str:
    from reentry.research import open_research, shell

    out = io.StringIO()
    con = open_research(published)
    try:
        shell(con, io.StringIO(script), out)
    finally:
        con.close()
    return out.getvalue()


def test_shell_schema_tables_describe_and_unqualified_names(built_demo) -> None:
    published = built_demo["published"]
    tables = [t for (t,) in query(published, "select table_name from duckdb_tables() order by 1")]
    assert len(tables) > 19
    text = shell_output(published, ".tables\n")
    assert all(re.search(rf"│ {t}\s+│", text) for t in tables), text
    text = shell_output(published, ".schema recidivism_effects\n")
    assert "CREATE TABLE marts.recidivism_effects (" in text
    assert re.search(r"difference DOUBLE,\s+-- \S", text)
    text = shell_output(published, ".describe releases\n")
    (n,) = query(published, "select count(*) from marts.releases")[0]
    assert f"marts.releases: {n:,} rows" in text and "person_key" in text
    text = shell_output(published, "select count(*) as n\n  from releases;\n")
    assert re.search(rf"│\s+{n} │", text)


def test_shell_results_are_not_cut_to_ten_rows_or_eight_columns(built_demo) -> None:
    published = built_demo["published"]
    columns = [
        c
        for (c,) in query(
            published,
            "select column_name from duckdb_columns() where "
            "table_name = 'recidivism_effects' "
            "order by column_index",
        )
    ]
    assert len(columns) > 8
    text = shell_output(published, "select * from recidivism_effects limit 40;\n")
    header = next(line for line in text.splitlines() if "programme" in line)
    assert all(f" {c} " in header for c in columns)
    body = [line for line in text.splitlines() if line.startswith("│ ")]
    assert len(body) == 40 + 2  # names and types, then every row
    assert "…" not in text and "·" not in text
    capped = shell_output(published, ".maxrows 5\nselect * from releases;\n")
    assert "5 shown" in capped


def test_shell_stays_sealed_and_reads_no_file(built_demo) -> None:
    text = shell_output(
        built_demo["published"],
        "set enable_external_access = true;\nset lock_configuration = false;\n"
        "select * from read_csv('/etc/passwd');\n"
        f"attach '{built_demo['db']}' as work;\n",
    )
    assert text.count("error: ") == 4
    assert "Cannot change configuration" in text and "Permission Error" in text


def test_interactive_shell_continues_statements_and_keeps_a_history(built_demo, tmp_path) -> None:
    """A real terminal (a pseudo-terminal): readline, the continuation prompt, the history
    file with what was typed and nothing else."""
    import pty

    root = tmp_path / "w"
    (root / "published").mkdir(parents=True)
    shutil.copyfile(built_demo["published"], root / "published" / "warehouse.duckdb")
    history = tmp_path / "history"
    env = {
        **os.environ,
        "REENTRY_HISTORY": str(history),
        "PAGER": "cat",
        "TERM": "dumb",
        "COLUMNS": "200",
        "LINES": "50",
    }
    main_fd, child_fd = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "reentry.cli", "shell", "--workdir", str(root)],
        stdin=child_fd,
        stdout=child_fd,
        stderr=child_fd,
        env=env,
        cwd=REPO,
    )
    os.close(child_fd)
    os.write(main_fd, b"select count(*) as n\nfrom releases;\n.quit\n")
    output = b""
    while True:
        ready, _, _ = select.select([main_fd], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    proc.wait(timeout=60)
    os.close(main_fd)
    text = output.decode("utf-8", "replace")
    (n,) = query(built_demo["published"], "select count(*) from marts.releases")[0]
    assert proc.returncode == 0, text
    assert "   ...> " in text and str(n) in text
    assert history.read_text(encoding="utf-8").splitlines()[-3:] == [
        "select count(*) as n",
        "from releases;",
        ".quit",
    ]
    assert oct(history.stat().st_mode & 0o777) == "0o600"


def test_status_measures_overdue_deliveries_against_the_as_of_date(
    built_demo, landing, tmp_path, demo_keys
) -> None:
    (as_of,) = query(built_demo["db"], "select as_of_date from marts.run_metadata")[0]
    code, out, _ = cli("status", "--workdir", str(built_demo["root"]))
    assert code == 0
    assert f"Overdue deliveries as of {as_of}, the as-of date of the last build" in out
    expected = query(
        built_demo["db"],
        f"""
        select count(*) from (
            select f.source_id, f.entity, s.cadence_days from ingest.files f
            join ingest.sources s using (source_id) where f.status in ('loaded', 'duplicate')
            and s.cadence_days is not null group by all
            having date '{as_of}' - max(f.export_date) > s.cadence_days)""",
    )[0][0]
    section = out.split("Overdue deliveries")[1].split("\n\n")[0]
    listed = [line for line in section.splitlines()[1:] if "days old" in line]
    assert len(listed) == min(expected, 20)
    # Nothing built yet: no as-of date to measure against, and it says so.
    landing.source("jva-a", "prison")
    landing.file(
        "jva-a",
        "inmates.2005-01-31.csv",
        "inmate_id,family_name,given_name,birth_date\nA1,Müller,Hans,1980-02-01\n",
    )
    assert (
        cli(
            "ingest",
            "--landing",
            str(landing.root),
            "--workdir",
            str(tmp_path / "w"),
            "--key-file",
            str(demo_keys["key_file"]),
        )[0]
        == 0
    )
    code, out, _ = cli("status", "--workdir", str(tmp_path / "w"))
    assert "Overdue deliveries: known after the first build (reentry run)" in out


def test_docs_writes_the_dictionary_site_into_the_work_folder(
    built_demo, tmp_path, monkeypatch
) -> None:
    monkeypatch.delenv("REENTRY_WORK_DB", raising=False)
    root = tmp_path / "w"
    (root / "published").mkdir(parents=True)
    shutil.copyfile(built_demo["published"], root / "published" / "warehouse.duckdb")
    started = time.time()
    code, out, err = cli("docs", "--workdir", str(root))
    assert code == 0, err
    index = root / "docs" / "index.html"
    assert str(index) in out
    html = index.read_text(encoding="utf-8")
    assert "recidivism_effects" in html and "Participant rate minus comparison rate" in html
    assert (root / "docs" / "dbt" / "catalog.json").exists()
    # nothing of docs generate written into the repository's dbt project
    for name in ("catalog.json", "index.html", "static_index.html", "run_results.json"):
        written = REPO / "dbt_project" / "target" / name
        assert not written.exists() or written.stat().st_mtime < started, name


def test_every_subcommand_explains_itself_and_shares_one_workdir_rule(monkeypatch) -> None:
    monkeypatch.delenv("REENTRY_WORKDIR", raising=False)
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command").choices
    defaults = set()
    for name, sub in subparsers.items():
        assert sub.description and len(sub.description) > 80, name
        for action in sub._actions:
            if action.dest == "workdir":
                defaults.add(action.default)
                assert "REENTRY_WORKDIR" in action.help
    assert defaults == {"demo"}
    monkeypatch.setenv("REENTRY_WORKDIR", "/srv/reentry")
    assert build_parser().parse_args(["status"]).workdir == "/srv/reentry"
    assert build_parser().parse_args(["-v", "run", "--landing", "x"]).verbose is True
    assert build_parser().parse_args(["run", "--landing", "x", "-v"]).verbose is True
    assert build_parser().parse_args(["run", "--landing", "x"]).verbose is False
