"""What a person wants to know after a load: per source, rows in and out, and linkage.

Linkage is defined once, by the link rates of marts.data_quality_link_rates (the share of
participant records and register entries whose pseudonym matches a custody spell); the summary
shows its rows over every programme, and before the first build says they come with it."""

from __future__ import annotations

from pathlib import Path

import duckdb

from reentry.contract import QUARANTINE_REASONS
from reentry.store import Warehouse, as_warehouse

# The entities the link rate is defined for (data_quality_link_rates), as the summary names them.
LINKED_ENTITIES = {"participants": "participant records", "register_entries": "register entries"}


def load_summary(database: Warehouse | Path) -> dict:
    """Totals of the work database's current ingestion state, as plain data."""
    with as_warehouse(database).connect(read_only=True) as con:
        by_source = con.execute(
            """
            select s.kind, s.source_id, s.layout,
                   count(*) filter (where f.status = 'loaded') as files,
                   count(*) filter (where f.status = 'rejected') as rejected,
                   coalesce(sum(f.n_received), 0) as received,
                   coalesce(sum(f.n_loaded), 0) as loaded,
                   coalesce(sum(f.n_quarantined), 0) as quarantined,
                   coalesce(sum(f.n_removed), 0) as removed
            from ingest.sources s
            left join ingest.files f on f.source_id = s.source_id
            group by all order by s.kind, s.source_id
            """
        ).fetchall()
        reasons = con.execute(
            "select reason, count(*) from ingest.quarantine group by 1 order by 2 desc"
        ).fetchall()
        ignored = con.execute(
            "select file_name, error from ingest.files where status in ('ignored', 'rejected') "
            "qualify row_number() over (partition by file_name order by load_id desc) = 1 "
            "order by file_name"
        ).fetchall()
        persons = con.execute(
            """
            with inmates as (select distinct person_key from raw.inmates__current),
            part as (select distinct person_key from raw.participants__current),
            reg as (select distinct person_key from raw.register_entries__current)
            select (select count(*) from inmates),
                   (select count(*) from part),
                   (select count(*) from reg),
                   (select count(*) from (select person_key from inmates union
                                          select person_key from part union
                                          select person_key from reg))
            """
        ).fetchone()
        link_rates = _link_rates(con)
    return {
        "sources": [
            dict(
                zip(
                    (
                        "kind",
                        "source_id",
                        "layout",
                        "files",
                        "rejected",
                        "received",
                        "loaded",
                        "quarantined",
                        "removed",
                    ),
                    row,
                    strict=True,
                )
            )
            for row in by_source
        ],
        "quarantine_by_reason": dict(reasons),
        "not_loaded": [{"file": f, "error": e} for f, e in ignored],
        "persons": dict(
            zip(("in_prisons", "participants", "in_register", "distinct"), persons, strict=True)
        ),
        "link_rates": link_rates,
    }


def _link_rates(con: duckdb.DuckDBPyConnection) -> dict[str, dict] | None:
    """entity -> records, linked and link rate over every programme and source, from
    marts.data_quality_link_rates; None before the first build (no such mart)."""
    (built,) = con.execute(
        "select count(*) from duckdb_tables() "
        "where schema_name = 'marts' and table_name = 'data_quality_link_rates'"
    ).fetchone()
    if not built:
        return None
    rows = con.execute(
        "select entity, n_records, n_linked, link_rate from marts.data_quality_link_rates "
        "where programme = 'all' and source_id = 'all' and entity <> 'all' order by entity"
    ).fetchall()
    return {e: {"records": n, "linked": k, "link_rate": r} for e, n, k, r in rows}


def format_summary(summary: dict, sources_table: bool = True, max_files: int | None = None) -> str:
    """The summary as text for the terminal: the table of sources (or, without
    `sources_table`, their totals in two lines), quarantine by reason, the files not loaded
    (at most `max_files` of them), the persons and the link rates."""
    tot = dict.fromkeys(("files", "received", "loaded", "quarantined", "removed"), 0)
    for s in summary["sources"]:
        for k in tot:
            tot[k] += s[k]
    if sources_table:
        out = ["", "Sources"]
        w = max([len(s["source_id"]) for s in summary["sources"]] + [6]) + 2
        lw = max([len(s["layout"]) for s in summary["sources"]] + [6]) + 2
        out.append(
            f"  {'kind':<9}{'source':<{w}}{'layout':<{lw}}{'files':>6}{'received':>11}"
            f"{'loaded':>11}{'quarant.':>10}{'removed':>9}"
        )
        for s in summary["sources"]:
            out.append(
                f"  {s['kind']:<9}{s['source_id']:<{w}}{s['layout']:<{lw}}"
                f"{s['files']:>6}{s['received']:>11,}{s['loaded']:>11,}"
                f"{s['quarantined']:>10,}{s['removed']:>9,}"
            )
        out.append(
            f"  {'all':<9}{str(len(summary['sources'])) + ' sources':<{w}}{'':<{lw}}"
            f"{tot['files']:>6}{tot['received']:>11,}{tot['loaded']:>11,}"
            f"{tot['quarantined']:>10,}{tot['removed']:>9,}"
        )
    else:
        kinds: dict[str, int] = {}
        for s in summary["sources"]:
            kinds[s["kind"]] = kinds.get(s["kind"], 0) + 1
        by_kind = ", ".join(f"{n} {k}{'s' if n != 1 else ''}" for k, n in sorted(kinds.items()))
        rejected = sum(s["rejected"] for s in summary["sources"])
        out = [
            "",
            f"Sources: {len(summary['sources'])} ({by_kind}), {tot['files']:,} files "
            "loaded" + (f", {rejected:,} rejected" if rejected else ""),
        ]
        out.append(
            f"  rows: {tot['received']:,} received, {tot['loaded']:,} loaded, "
            f"{tot['quarantined']:,} quarantined, {tot['removed']:,} removed by a newer "
            "snapshot"
        )
    out += ["", "Quarantined rows by reason"]
    if not summary["quarantine_by_reason"]:
        out.append("  none")
    for reason, n in summary["quarantine_by_reason"].items():
        out.append(f"  {reason:<18}{n:>8,}  {QUARANTINE_REASONS.get(reason, '')}")
    if summary["not_loaded"]:
        shown = summary["not_loaded"][:max_files] if max_files else summary["not_loaded"]
        out += ["", "Files not loaded"]
        out += [f"  {f['file']}: {f['error']}" for f in shown]
        if len(shown) < len(summary["not_loaded"]):
            out.append(f"  … and {len(summary['not_loaded']) - len(shown)} more")
    p = summary["persons"]
    out += [
        "",
        "Persons (pseudonyms)",
        f"  distinct persons          {p['distinct']:>9,}",
        f"  in prison records         {p['in_prisons']:>9,}",
        f"  partner participants      {p['participants']:>9,}",
        f"  in the register           {p['in_register']:>9,}",
        "",
        "Link rates (records whose pseudonym matches a custody spell)",
    ]
    rates = summary["link_rates"]
    if rates is None:
        out.append("  come with the build (marts.data_quality_link_rates)")
        return "\n".join(out)
    for entity, label in LINKED_ENTITIES.items():
        r = rates.get(entity)
        if r is None:
            out.append(f"  {label:<24}{'none':>11}")
            continue
        out.append(
            f"  {label:<24}{r['records']:>11,}  linked: {r['linked']:,} ({r['link_rate']:.1%})"
        )
    return "\n".join(out)
