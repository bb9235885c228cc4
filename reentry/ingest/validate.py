"""Typing and checking the text fields of `_rows` against the contract, in one SQL statement.

Produces the temp table `_checked`: one row per data row with typed reference columns, the
person key and birth year (names and birth date dropped), the key as text, and `problems`:
a list of {column, reason, value} that is empty for a clean row. Values of identifying
columns never enter `problems`.
"""

from __future__ import annotations

from datetime import date

import duckdb

from reentry.contract import EARLIEST_DATE, ENTITIES, Column, Entity
from reentry.pseudonym import PseudonymKey, normalise_name_sql, person_key_sql

from .layouts import Layout

CHECKED = "_checked"
SQL_TYPES = {
    "text": "varchar",
    "code": "varchar",
    "date": "date",
    "integer": "integer",
    "decimal": "double",
}
_EXCEL_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d")


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _trim(col: str) -> str:
    # Stray whitespace (including no-break spaces) is normal in exports: trim, never quarantine.
    return f"nullif(regexp_replace({col}, '^[\\s\\x{{00a0}}]+|[\\s\\x{{00a0}}]+$', '', 'g'), '')"


def _code_expr(col: Column, t: str, layout: Layout, entity: str) -> str:
    words = {w.strip().lower(): c for w, c in layout.code_map(entity, col.name).items()}
    words.update({c.lower(): c for c in col.codes})
    if col.name == "nationality":
        fallback = f"case when regexp_full_match({t}, '[A-Za-z]{{2}}') then upper({t}) end"
    else:
        fallback = "null"
    if not words:
        return fallback
    whens = " ".join(f"when {_lit(w)} then {_lit(c)}" for w, c in sorted(words.items()))
    return f"case lower({t}) {whens} else {fallback} end"


def _date_expr(t: str, layout: Layout) -> str:
    formats = list(layout.date_formats)
    if layout.format == "xlsx":
        formats += [f for f in _EXCEL_DATE_FORMATS if f not in formats]
    tries = ", ".join(f"try_strptime({t}, {_lit(f)})" for f in formats)
    return f"cast(coalesce({tries}) as date)" if len(formats) > 1 else f"cast({tries} as date)"


def _number_expr(col: Column, t: str, layout: Layout) -> str:
    target = SQL_TYPES[col.type]
    candidates = []
    if layout.decimal == "," and col.type == "decimal":
        candidates.append(f"try_cast(replace({t}, ',', '.') as {target})")
    candidates.append(f"try_cast({t} as {target})")
    if col.type == "integer":
        # Excel stores whole numbers as floats; accept 12.0 but not 12.5.
        candidates.append(
            f"case when try_cast({t} as double) = floor(try_cast({t} as double)) "
            f"then try_cast(try_cast({t} as double) as integer) end"
        )
    return f"coalesce({', '.join(candidates)})"


def _typed_expr(col: Column, t: str, layout: Layout, entity: str) -> str:
    if col.type == "code":
        return _code_expr(col, t, layout, entity)
    if col.type == "date":
        return _date_expr(t, layout)
    if col.type in ("integer", "decimal"):
        return _number_expr(col, t, layout)
    return t


def _problem(column: str, reason: str, condition: str, value: str | None) -> str:
    val = value if value is not None else "null::varchar"
    return (
        f"case when {condition} then "
        f"{{'column': {_lit(column)}, 'reason': {_lit(reason)}, 'value': {val}}} end"
    )


def _problems(entity: Entity, present: set[str], export_date: date) -> list[str]:
    out: list[str] = []
    export = f"date {_lit(export_date.isoformat())}"
    for col in entity.columns:
        t, v = f"t_{col.name}", f"v_{col.name}"
        shown = None if col.identifying else t
        if col.name not in present:
            continue  # an absent optional column is simply missing; required ones were checked
        if col.required:
            out.append(_problem(col.name, "missing_required", f"{t} is null", None))
        bad = {
            "code": "unknown_code",
            "date": "invalid_date",
            "integer": "invalid_number",
            "decimal": "invalid_number",
        }.get(col.type)
        if bad:
            out.append(_problem(col.name, bad, f"{t} is not null and {v} is null", shown))
        if col.type == "date":
            late = "false" if col.future_allowed else f"{v} > {export}"
            out.append(
                _problem(
                    col.name,
                    "implausible_date",
                    f"{v} < date {_lit(EARLIEST_DATE)} or {late}",
                    shown,
                )
            )
        if col.identifying and col.type == "text":
            out.append(
                _problem(
                    col.name,
                    "invalid_name",
                    f"{t} is not null and n_{col.name} = ''",
                    None,
                )
            )
    for order in entity.date_orders:
        if {order.earlier, order.later} <= present:
            out.append(
                _problem(
                    order.later,
                    "date_order",
                    f"v_{order.later} < v_{order.earlier}",
                    f"t_{order.later} || ' before ' || {_lit(order.earlier)} || ' ' "
                    f"|| t_{order.earlier}",
                )
            )
    out.append(
        _problem(
            entity.key,
            "duplicate_key",
            f"t_{entity.key} is not null and _key_count > 1",
            f"t_{entity.key}",
        )
    )
    return out


def check_rows(
    con: duckdb.DuckDBPyConnection,
    entity_name: str,
    layout: Layout,
    present: list[str],
    export_date: date,
    key: PseudonymKey,
) -> None:
    """Build `_checked` from `_rows`: typed values, person key, problems."""
    entity = ENTITIES[entity_name]
    present_set = set(present)
    trims = ", ".join(
        f"{_trim(c.name) if c.name in present_set else 'null::varchar'} as t_{c.name}"
        for c in entity.columns
    )
    typed = ", ".join(
        f"{_typed_expr(c, f't_{c.name}', layout, entity_name)} as v_{c.name}"
        for c in entity.columns
    )
    person = "null::varchar as person_key, null::smallint as birth_year"
    names = ""
    params: dict[str, bytes] = {}
    if entity.has_person:
        names = (
            f", {normalise_name_sql('t_family_name')} as n_family_name, "
            f"{normalise_name_sql('t_given_name')} as n_given_name"
        )
        person = (
            "case when v_birth_date is not null and n_family_name <> '' and n_given_name <> '' "
            f"then {person_key_sql('n_family_name', 'n_given_name', 'v_birth_date')} end "
            "as person_key, cast(year(v_birth_date) as smallint) as birth_year"
        )
        params = key.pads()
    problems = ",\n".join(_problems(entity, present_set, export_date))
    con.execute(
        f"""
        create or replace temp table {CHECKED} as
        with trimmed as (select _line, {trims} from _rows),
        typed as (
            select *, {typed},
                   count(*) over (partition by t_{entity.key}) as _key_count{names}
            from trimmed
        )
        select *, {person},
               list_filter([{problems}], lambda p: p is not null) as problems
        from typed
        """,
        params,
    )
