"""What an evaluator would otherwise write: the headline 24-month reconviction rates of
`baseline.sql`, with pandas, over the same reference-layout CSVs (same simplifications)."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pandas as pd

RELEASE_TYPES = {"end_of_sentence", "parole", "early_release"}
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def fold(series: pd.Series) -> pd.Series:
    """Names folded as exports.md says: case, umlauts, accents, spaces and punctuation."""

    def one(name: str) -> str:
        text = unicodedata.normalize("NFKD", str(name).lower().translate(_UMLAUTS))
        text = "".join(c for c in text if not unicodedata.combining(c)).upper()
        return re.sub(r"[^A-Z0-9]", "", text)

    return series.fillna("").map(one)


def read_entity(landing: Path, entity: str, key: str) -> pd.DataFrame:
    """Every delivery of an entity; the newest export of each record wins."""
    frames = []
    for path in sorted(landing.glob(f"*/{entity}.*.csv")):
        frame = pd.read_csv(path, dtype=str, on_bad_lines="skip", encoding_errors="replace")
        frame["source_id"] = path.parent.name
        frame["export_date"] = re.search(r"\d{4}-\d{2}-\d{2}", path.name).group(0)
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True)
    data = data.sort_values("export_date").drop_duplicates(["source_id", key], keep="last")
    return data


def person(frame: pd.DataFrame) -> pd.Series:
    return (
        fold(frame["family_name"])
        + "|"
        + fold(frame["given_name"])
        + "|"
        + frame["birth_date"].fillna("")
    )


def rates(landing: Path, sources_csv: Path) -> pd.DataFrame:
    """programme x group: n_full_follow_up, n_events, rate."""
    landing = Path(landing)
    sources = pd.read_csv(sources_csv, dtype=str).rename(columns={"id": "source_id"})
    inmates = read_entity(landing, "inmates", "inmate_id")
    inmates["person"] = person(inmates)
    episodes = read_entity(landing, "custody_episodes", "episode_id")
    register = read_entity(landing, "register_entries", "entry_id")
    register = register[register["decision_type"] == "conviction"].copy()
    register["person"] = person(register)
    for column in ("offence_date", "decision_date"):
        register[column] = pd.to_datetime(register[column], errors="coerce")
    as_of = pd.Timestamp(register["export_date"].max())
    participants = read_entity(landing, "participants", "client_id")
    participants = participants[
        (participants["selection"] == "accepted") & (participants["consent"] == "yes")
    ].copy()
    participants["person"] = person(participants)
    participants["intake_date"] = pd.to_datetime(participants["intake_date"], errors="coerce")
    participants = participants.merge(sources[["source_id", "programme"]], on="source_id")

    releases = episodes.merge(
        inmates[["source_id", "inmate_id", "person"]], on=["source_id", "inmate_id"]
    )
    releases = releases.merge(
        sources[["source_id", "programme", "period_start", "period_end"]], on="source_id"
    )
    releases["release_date"] = pd.to_datetime(releases["release_date"], errors="coerce")
    releases["admission_date"] = pd.to_datetime(releases["admission_date"], errors="coerce")
    releases = releases[
        releases["release_type"].isin(RELEASE_TYPES)
        & (releases["release_date"] >= pd.to_datetime(releases["period_start"]))
        & (releases["release_date"] <= pd.to_datetime(releases["period_end"]))
    ]
    releases["year"] = releases["release_date"].dt.year
    releases = releases.sort_values("release_date").drop_duplicates(["person", "year"])
    releases = releases[releases["release_date"] + pd.DateOffset(months=30) <= as_of]
    releases = releases[["person", "programme", "admission_date", "release_date"]]
    releases = releases.reset_index(drop=True).reset_index(names="release")

    joined = releases.merge(
        participants[["person", "programme", "intake_date"]], on=["person", "programme"]
    )
    inside = joined["intake_date"].between(
        joined["admission_date"], joined["release_date"] + pd.Timedelta(days=90)
    )
    participating = set(joined.loc[inside, "release"])
    joined = releases.merge(register[["person", "offence_date", "decision_date"]], on="person")
    window_end = joined["release_date"] + pd.DateOffset(months=24)
    hit = joined["offence_date"].between(joined["release_date"], window_end) & (
        joined["decision_date"] <= as_of
    )
    with_event = set(joined.loc[hit, "release"])
    releases["group"] = (
        releases["release"].isin(participating).map({True: "participant", False: "comparison"})
    )
    releases["has_event"] = releases["release"].isin(with_event)
    out = (
        releases.groupby(["programme", "group"])
        .agg(n_full_follow_up=("release", "size"), n_events=("has_event", "sum"))
        .reset_index()
    )
    out["rate"] = out["n_events"] / out["n_full_follow_up"]
    return out.sort_values(["programme", "group"]).reset_index(drop=True)
