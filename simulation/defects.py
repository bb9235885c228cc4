"""Row-level defects, injected into the string frame of a file just before it is written.

Every defective row gets exactly one defect and every defect is logged with the line it lands
on, so a test can check that the warehouse quarantines exactly these lines. `whitespace` is the
one kind that must *not* be quarantined: the warehouse trims and loads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from reentry.contract import ENTITIES
from reentry.ingest.layouts import Layout

from .export import inverse_codes

KINDS = (
    "unknown_code",
    "invalid_date",
    "date_order",
    "invalid_number",
    "duplicate_key",
    "malformed_line",
    "whitespace",
    "missing_required",  # last: it also takes rows where the drawn kind has nothing to spoil
)
LOG_SCHEMA = {"line": pl.Int64, "kind": pl.String, "column": pl.String}
_IMPOSSIBLE_DAYS = ("-02-30", "-02-31", "-04-31", "-06-31", "-09-31", "-11-31")
_NUMBER_NOISE = (("ca. ", ""), ("", " h"), ("", "?"), ("~", ""), ("", " Tage"), ("", "x"))
_BLANKS = ((" ", ""), ("", "  "), (" ", " "), ("  ", ""))


@dataclass
class Injected:
    """A frame with its defects, the rows to write malformed, and the defect log."""

    frame: pl.DataFrame
    malformed_rows: list[int] = field(default_factory=list)  # 0-based data rows of the output
    log: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=LOG_SCHEMA))
    keys: list[str] = field(default_factory=list)  # clean keys of the rows that got a defect


def _mangles(word: str, taken: set[str]) -> list[str]:
    """Typos of a code word that are neither a code nor a mapped word."""
    mid = max(1, len(word) // 2)
    out = []
    for w in (
        word[:mid] + word[mid - 1] + word[mid:],
        word[:-1] if len(word) > 3 else "",
        word + "x",
        word + "xx",
    ):
        if len(w.strip()) >= 2 and w.strip().casefold() not in taken and w not in out:
            out.append(w)
    return out[:2]


def _unknown_codes(
    values: pl.Series, entity: str, column: str, layout: Layout, rng: np.random.Generator
) -> pl.Series:
    col = ENTITIES[entity].column(column)
    inverse = inverse_codes(entity, layout, column)
    taken = {c.casefold() for c in col.codes}
    taken |= {w.strip().casefold() for w in layout.code_map(entity, column)}
    first, second = {}, {}
    for code in col.codes:
        m = _mangles(inverse.get(code, code), taken)
        first[code], second[code] = m[0], m[-1]
    pick = rng.integers(0, 2, len(values)) == 0
    a = values.replace_strict(first, return_dtype=pl.String)
    b = values.replace_strict(second, return_dtype=pl.String)
    return pl.select(pl.when(pl.Series(pick)).then(a).otherwise(b)).to_series()


def _pick(rng: np.random.Generator, options, k: int) -> pl.Series:
    return pl.Series(
        np.asarray(options, dtype=object)[rng.integers(0, len(options), k)], dtype=pl.String
    )


def inject_defects(
    frame: pl.DataFrame, entity: str, layout: Layout, rate: float, rng: np.random.Generator
) -> Injected:
    """Spoil about `rate` of the rows of a reference string frame, one defect per row."""
    n = frame.height
    if rate <= 0 or n == 0:
        return Injected(frame)
    rows = np.flatnonzero(rng.random(n) < rate)
    if rows.size == 0:
        return Injected(frame)
    ent = ENTITIES[entity]
    key = ent.key
    kinds = [k for k in KINDS if not (k == "malformed_line" and layout.format == "xlsx")]
    kind = np.asarray(kinds, dtype=object)[rng.integers(0, len(kinds), rows.size)]
    sub = frame[rows]
    present = {c: sub[c].is_not_null().to_numpy() for c in frame.columns}
    cols = [c for c in ent.columns if c.name in frame.columns]
    targets: dict[str, list[tuple[str, np.ndarray]]] = {
        "unknown_code": [(c.name, present[c.name]) for c in cols if c.type == "code" and c.codes],
        "invalid_date": [(c.name, present[c.name]) for c in cols if c.type == "date"],
        "date_order": [
            (o.later, present[o.earlier] & present[o.later])
            for o in ent.date_orders
            if o.earlier in frame.columns and o.later in frame.columns
        ],
        "invalid_number": [
            (c.name, present[c.name]) for c in cols if c.type in ("integer", "decimal")
        ],
        "duplicate_key": [(key, present[key])],
        "malformed_line": [(key, present[key])],
        "whitespace": [
            (c.name, present[c.name])
            for c in cols
            if c.type == "text" or (c.type == "code" and c.codes)
        ],
        "missing_required": [(c.name, present[c.name]) for c in cols if c.required],
    }
    clean_keys = sub[key].to_list()
    assigned_kind = np.full(rows.size, None, dtype=object)
    assigned_col = np.full(rows.size, None, dtype=object)
    pending = np.ones(rows.size, dtype=bool)
    for k in kinds:
        mine = pending & ((kind == k) | (k == "missing_required"))
        if not mine.any() or not targets[k]:
            continue
        ok = np.stack([t[1] for t in targets[k]], axis=1)[mine]
        choice = np.argmax(rng.random(ok.shape) * ok, axis=1)
        idx = np.flatnonzero(mine)[ok.any(axis=1)]
        chosen = choice[ok.any(axis=1)]
        assigned_kind[idx] = k
        assigned_col[idx] = np.asarray([t[0] for t in targets[k]], dtype=object)[chosen]
        pending[idx] = False

    out = frame
    for k in kinds:
        if k == "duplicate_key":
            continue
        for column in sorted(
            {c for c, kk in zip(assigned_col, assigned_kind, strict=False) if kk == k}
        ):
            sel = np.flatnonzero((assigned_kind == k) & (assigned_col == column))
            where = rows[sel]
            old = sub[column][sel]
            m = len(sel)
            if k == "unknown_code":
                new = _unknown_codes(old, entity, column, layout, rng)
            elif k == "invalid_date":
                new = old.str.slice(0, 4) + _pick(rng, _IMPOSSIBLE_DAYS, m)
            elif k == "date_order":
                earlier = next(o.earlier for o in ent.date_orders if o.later == column)
                shift = pl.Series(rng.integers(1, 91, m)).cast(pl.Int64)
                new = pl.select(
                    (
                        sub[earlier][sel].str.to_date("%Y-%m-%d") - pl.duration(days=shift)
                    ).dt.strftime("%Y-%m-%d")
                ).to_series()
            elif k == "invalid_number":
                noise = np.asarray(_NUMBER_NOISE, dtype=object)[
                    rng.integers(0, len(_NUMBER_NOISE), m)
                ]
                new = (
                    pl.Series(noise[:, 0], dtype=pl.String)
                    + old.str.extract(r"^(\d+)", 1)
                    + pl.Series(noise[:, 1], dtype=pl.String)
                )
            elif k == "malformed_line":
                half = old.str.len_chars() // 2
                new = pl.select(
                    pl.concat_str(
                        [old.str.slice(0, half), pl.lit(layout.delimiter), old.str.slice(half)]
                    )
                ).to_series()
            elif k == "whitespace":
                blanks = np.asarray(_BLANKS, dtype=object)[rng.integers(0, len(_BLANKS), m)]
                new = (
                    pl.Series(blanks[:, 0], dtype=pl.String)
                    + old
                    + pl.Series(blanks[:, 1], dtype=pl.String)
                )
            else:  # missing_required
                new = pl.Series([None] * m, dtype=pl.String)
            series = out[column].clone()
            series.scatter(where, new.cast(pl.String))
            out = out.with_columns(series)

    # Duplicate keys: a second row right after the original, identical or with one code
    # changed to another valid code.
    dup = rows[assigned_kind == "duplicate_key"]
    if dup.size:
        copies = out[dup]
        code_cols = [c for c in cols if c.type == "code" and len(c.codes) > 1 and c.name != key]
        if code_cols:
            c = code_cols[0]
            nxt = {a: c.codes[(i + 1) % len(c.codes)] for i, a in enumerate(c.codes)}
            change = pl.Series(rng.random(dup.size) < 0.5)
            copies = copies.with_columns(
                pl.when(change & pl.col(c.name).is_not_null())
                .then(pl.col(c.name).replace_strict(nxt, default=pl.col(c.name)))
                .otherwise(pl.col(c.name))
                .alias(c.name)
            )
        order = np.argsort(np.concatenate([np.arange(n) * 2, dup * 2 + 1]), kind="stable")
        out = pl.concat([out, copies]).select(pl.all().gather(order))
    dup_sorted = np.sort(dup)

    def final(r: np.ndarray) -> np.ndarray:
        return r + np.searchsorted(dup_sorted, r, side="left")

    done = assigned_kind != None  # noqa: E711 - object array comparison
    pos = final(rows[done])
    kinds_done = assigned_kind[done].astype(str)
    cols_done = np.where(kinds_done == "malformed_line", "", assigned_col[done]).astype(str)
    lines = pos + 2
    is_dup = kinds_done == "duplicate_key"
    log = pl.DataFrame(
        {
            "line": np.concatenate([lines, lines[is_dup] + 1]).astype(np.int64),
            "kind": np.concatenate([kinds_done, kinds_done[is_dup]]),
            "column": np.concatenate([cols_done, cols_done[is_dup]]),
        }
    ).sort("line")
    malformed = sorted(pos[kinds_done == "malformed_line"].tolist())
    keys = [k for k, d in zip(clean_keys, done, strict=False) if d]
    return Injected(out, malformed, log, keys)
