"""From simulated facts to per-source tables: record numbers, spelled names, reference columns.

Each source numbers its own records (booking numbers, client numbers, entry numbers) and
spells names its own way; these tables hold every record a source will ever export, with
typed dates, before any export date is applied.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from . import names as nm
from .population import SEX_CODES, Population
from .sources import Catalogue, SourceSpec


@dataclass
class Tables:
    """All records per entity, each with a `source` column (source id)."""

    inmates: pl.DataFrame
    custody_episodes: pl.DataFrame
    prison_measures: pl.DataFrame
    participants: pl.DataFrame
    placements: pl.DataFrame
    aftercare_contacts: pl.DataFrame
    register_entries: pl.DataFrame

    def of(self, entity: str) -> pl.DataFrame:
        return getattr(self, entity)


def _serial(frame: pl.DataFrame, order: list[str], base: dict[str, int]) -> pl.DataFrame:
    """Number rows per source in the order given, starting at a per-source base."""
    frame = frame.sort(["source", *order], maintain_order=True)
    return frame.with_columns(
        (
            pl.int_range(1, pl.len() + 1).over("source")
            + pl.col("source").replace_strict(base, return_dtype=pl.Int64)
        ).alias("serial")
    )


def _fmt(prefix: pl.Expr, serial: pl.Expr, width: int, sep: str = "-") -> pl.Expr:
    return pl.concat_str([prefix, pl.lit(sep), serial.cast(pl.String).str.zfill(width)])


def _names(
    pop: Population, pid: np.ndarray, source_idx: np.ndarray, kind: str, seed: int
) -> tuple[pl.Series, pl.Series]:
    """Names as the given sources spell them (one style per person and source)."""
    salt = source_idx.astype(np.uint64) * np.uint64(1_000_003) + np.uint64(seed)
    with np.errstate(over="ignore"):
        u = nm.hash_uniform(pid.astype(np.uint64) ^ (salt << np.uint64(24)), seed)
    cum = np.cumsum(nm.STYLE_PROBS[kind])
    styles = np.minimum(np.searchsorted(cum / cum[-1], u, side="right"), len(nm.STYLES) - 1)
    return nm.spelled_names(pop.fam1[pid], pop.fam2[pid], pop.given[pid], styles)


def _with_names(
    frame: pl.DataFrame,
    pop: Population,
    cat: Catalogue,
    kind: str,
    seed: int,
    fallbacks: dict[str, dict[str, str]],
) -> pl.DataFrame:
    pid = frame["pid"].to_numpy()
    src = frame["source"].replace_strict(cat.source_index, return_dtype=pl.Int64).to_numpy()
    family, given = _names(pop, pid, src, kind, seed)
    frame = frame.with_columns(
        family.alias("family_name"),
        given.alias("given_name"),
        pl.Series("birth_date", pop.birth[pid].astype(np.int32)).cast(pl.Date),
    )
    # Sources whose encoding lacks a letter write it without its accent (Şahin -> Sahin).
    for source, mapping in fallbacks.items():
        if not mapping:
            continue
        keys, vals = list(mapping), list(mapping.values())
        frame = frame.with_columns(
            pl.when(pl.col("source") == source)
            .then(pl.col(c).str.replace_many(keys, vals))
            .otherwise(pl.col(c))
            .alias(c)
            for c in ("family_name", "given_name")
        )
    return frame


def _prefix(specs: list[SourceSpec]) -> pl.Expr:
    return pl.col("source").replace_strict({s.id: s.prefix for s in specs}, return_dtype=pl.String)


def build_tables(
    pop,
    cat: Catalogue,
    episodes,
    measures,
    participants,
    placements,
    contacts,
    register,
    rng: np.random.Generator,
    seed: int,
    fallbacks: dict[str, dict[str, str]],
) -> Tables:
    """Number and name every record; the result feeds the export snapshots."""
    prisons, partners, registers = cat.prisons, cat.partners, cat.registers
    prison_ids = pl.Series([p.id for p in prisons], dtype=pl.String)
    partner_ids = pl.Series([p.id for p in partners], dtype=pl.String)
    digit_prisons = [p.id for p in prisons if p.booking_numbers == "digits"]
    base = {
        p.id: int(b) for p, b in zip(prisons, rng.integers(1000, 60000, len(prisons)), strict=True)
    }
    pbase = {
        p.id: int(b) for p, b in zip(partners, rng.integers(100, 3000, len(partners)), strict=True)
    }
    rbase = {
        r.id: int(b)
        for r, b in zip(registers, rng.integers(10**6, 10**7, len(registers)), strict=True)
    }
    prefix = _prefix(prisons)
    digits_only = pl.col("source").is_in(digit_prisons)

    # --- prisons: one booking number per person and prison
    episodes = episodes.with_columns(source=prison_ids.gather(episodes["prison"].to_numpy()))
    inmates = episodes.group_by("source", "pid").agg(
        pl.col("admission").min().alias("first_admission")
    )
    inmates = _serial(inmates, ["first_admission", "pid"], base).with_columns(
        pl.when(digits_only)
        .then(pl.col("serial").cast(pl.String).str.zfill(8))
        .otherwise(_fmt(prefix, pl.col("serial"), 6))
        .alias("inmate_id")
    )
    inmates = _with_names(inmates, pop, cat, "prison", seed, fallbacks).with_columns(
        pl.Series("sex", np.asarray(SEX_CODES)[pop.sex[inmates["pid"].to_numpy()]]),
        pl.Series(
            "nationality",
            np.asarray(cat.nationalities)[pop.nationality[inmates["pid"].to_numpy()]],
        ).replace("", None),
    )
    key = inmates.select("source", "pid", "inmate_id")
    episodes = _serial(
        episodes.join(key, on=["source", "pid"]), ["admission", "pid", "kind"], base
    ).with_columns(
        pl.concat_str(
            [
                prefix,
                pl.col("admission").dt.year().cast(pl.String),
                pl.lit("-"),
                pl.col("serial").cast(pl.String).str.zfill(6),
            ]
        ).alias("episode_id")
    )
    measures = measures.with_columns(source=prison_ids.gather(measures["prison"].to_numpy()))
    measures = _serial(
        measures.join(key, on=["source", "pid"]), ["start", "pid", "measure_type"], base
    ).with_columns(_fmt(prefix, pl.col("serial"), 7, "-M").alias("measure_id"))

    # --- partners: one client number per person and partner
    pprefix = _prefix(partners)
    participants = participants.with_columns(
        source=partner_ids.gather(participants["partner"].to_numpy())
    )
    participants = _serial(participants, ["intake", "pid"], pbase).with_columns(
        _fmt(pprefix, pl.col("serial"), 6).alias("client_id")
    )
    participants = _with_names(participants, pop, cat, "partner", seed, fallbacks)
    ckey = participants.select("source", "pid", "client_id")
    placements = placements.with_columns(
        source=partner_ids.gather(placements["partner"].to_numpy())
    )
    placements = _serial(placements.join(ckey, on=["source", "pid"]), ["arranged", "pid"], pbase)
    placements = placements.with_columns(
        _fmt(pprefix, pl.col("serial"), 6, "-P").alias("placement_id"),
        _fmt(pprefix, pl.col("employer"), 4, "-AG").alias("employer_ref"),
    )
    contacts = contacts.with_columns(source=partner_ids.gather(contacts["partner"].to_numpy()))
    contacts = _serial(
        contacts.join(ckey, on=["source", "pid"]), ["contact_date", "pid"], pbase
    ).with_columns(_fmt(pprefix, pl.col("serial"), 7, "-K").alias("contact_id"))

    # --- registers: the one serving the person's programme
    register = register.with_columns(
        source=pl.Series([r.id for r in registers], dtype=pl.String).gather(
            cat.register_of[pop.programme[register["pid"].to_numpy()]]
        )
    )
    register = _serial(register, ["decision", "pid", "offence"], rbase)
    entry_id = pl.lit(None, dtype=pl.String)
    for r in registers:
        entry_id = (
            pl.when(pl.col("source") == r.id)
            .then(
                pl.concat_str(
                    [
                        pl.lit(r.prefix + r.entry_id_separator),
                        pl.col("serial").cast(pl.String).str.zfill(r.entry_id_digits),
                    ]
                )
            )
            .otherwise(entry_id)
        )
    register = register.with_columns(entry_id.alias("entry_id"))
    register = _with_names(register, pop, cat, "register", seed, fallbacks)
    return Tables(inmates, episodes, measures, participants, placements, contacts, register)
