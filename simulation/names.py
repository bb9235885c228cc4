"""Synthetic names and the spelling variants different sources use for the same person.

The lists are hand-typed common surnames and given names (no real individuals). A person's
name is a set of indices into these lists; each source spells it in one of a few *styles*
(upper case, transliterated, particles capitalised, ...). Every style normalises to the same
string under the rule of exports.md, so variants are a linkage challenge, never a defect.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import polars as pl

ORIGINS = ("de", "nl", "tr", "pl", "ma", "ro", "en")

SURNAMES: dict[str, tuple[str, ...]] = {
    "de": (
        "Müller",
        "Schmidt",
        "Schneider",
        "Fischer",
        "Weber",
        "Meyer",
        "Wagner",
        "Becker",
        "Schulz",
        "Hoffmann",
        "Schäfer",
        "Koch",
        "Bauer",
        "Richter",
        "Klein",
        "Wolf",
        "Schröder",
        "Neumann",
        "Schwarz",
        "Zimmermann",
        "Braun",
        "Krüger",
        "Hofmann",
        "Hartmann",
        "Lange",
        "Schmitt",
        "Werner",
        "Schmitz",
        "Krause",
        "Meier",
        "Lehmann",
        "Schulze",
        "Maier",
        "Köhler",
        "Herrmann",
        "König",
        "Walter",
        "Mayer",
        "Huber",
        "Kaiser",
        "Fuchs",
        "Peters",
        "Scholz",
        "Möller",
        "Weiß",
        "Jung",
        "Hahn",
        "Schubert",
        "Vogel",
        "Friedrich",
        "Keller",
        "Günther",
        "Frank",
        "Berger",
        "Winkler",
        "Roth",
        "Beck",
        "Lorenz",
        "Baumann",
        "Franke",
        "Albrecht",
        "Schuster",
        "Simon",
        "Ludwig",
        "Böhm",
        "Winter",
        "Kraus",
        "Schumacher",
        "Krämer",
        "Vogt",
        "Stein",
        "Jäger",
        "Otto",
        "Sommer",
        "Groß",
        "Seidel",
        "Heinrich",
        "Brandt",
        "Haas",
        "Schreiber",
        "Graf",
        "Schulte",
        "Dietrich",
        "Ziegler",
        "Kühn",
        "Pohl",
        "Engel",
        "Horn",
        "Busch",
        "Bergmann",
        "Voigt",
        "Sauer",
        "Arnold",
        "Pfeiffer",
        "Lüdenscheidt",
        "Große",
        "Strauß",
        "Nußbaum",
        "Weißmann",
        "Brückner",
        "Görlitz",
        "Kößler",
    ),
    "nl": (
        "de Jong",
        "Jansen",
        "de Vries",
        "van den Berg",
        "van der Berg",
        "van Dijk",
        "Bakker",
        "Janssen",
        "Visser",
        "Smit",
        "Meijer",
        "de Boer",
        "Mulder",
        "de Groot",
        "Bos",
        "Vos",
        "Hendriks",
        "van Leeuwen",
        "Dekker",
        "Brouwer",
        "de Wit",
        "Dijkstra",
        "Smits",
        "de Graaf",
        "van der Meer",
        "van der Linden",
        "Kok",
        "Jacobs",
        "de Haan",
        "Vermeulen",
        "van den Heuvel",
        "van der Veen",
        "van den Broek",
        "de Bruijn",
        "van der Heijden",
        "Schouten",
        "van Beek",
        "Willems",
        "van Vliet",
        "van de Ven",
        "Hoekstra",
        "Maas",
        "Verhoeven",
        "Koster",
        "van Dam",
        "van der Wal",
        "Prins",
        "Blom",
        "Huisman",
        "'t Hart",
        "van 't Hof",
        "Kuipers",
        "Veenstra",
        "Boersma",
        "Ramdin",
        "Jagessar",
        "Biharie",
        "Sitaldin",
        "Pinas",
        "Esajas",
        "Kromodimedjo",
        "Coutinho",
    ),
    "tr": (
        "Yilmaz",
        "Kaya",
        "Demir",
        "Şahin",
        "Çelik",
        "Yildiz",
        "Yildirim",
        "Öztürk",
        "Aydin",
        "Özdemir",
        "Arslan",
        "Doğan",
        "Kiliç",
        "Aslan",
        "Çetin",
        "Kara",
        "Koç",
        "Kurt",
        "Özkan",
        "Şimşek",
        "Polat",
        "Korkmaz",
        "Karataş",
        "Erdoğan",
        "Güneş",
        "Türk",
        "Akgül",
        "Uçar",
        "Bulut",
        "Keskin",
    ),
    "pl": (
        "Nowak",
        "Kowalski",
        "Wiśniewski",
        "Wójcik",
        "Kowalczyk",
        "Kamiński",
        "Lewandowski",
        "Zieliński",
        "Szymański",
        "Woźniak",
        "Dąbrowski",
        "Kozak",
        "Jankowski",
        "Mazur",
        "Kwiatkowski",
        "Krawczyk",
        "Piotrowski",
        "Grabowski",
        "Nowakowski",
        "Pawlak",
        "Michalski",
        "Król",
        "Wieczorek",
        "Wróbel",
        "Zając",
        "Górski",
        "Sikora",
    ),
    "ma": (
        "El Amrani",
        "Benali",
        "Bouzid",
        "El Idrissi",
        "Ait Taleb",
        "Ouali",
        "Boukhari",
        "El Khattabi",
        "Azzouzi",
        "Ben Said",
        "Tahiri",
        "Belhaj",
        "El Hamdaoui",
        "Ziani",
        "Bakkali",
        "Chaoui",
        "Haddouchi",
        "Mansouri",
        "Bouzidi",
        "Ait Ouahmane",
    ),
    "ro": (
        "Popescu",
        "Ionescu",
        "Popa",
        "Stan",
        "Dumitru",
        "Stoica",
        "Gheorghe",
        "Matei",
        "Ciobanu",
        "Rusu",
        "Munteanu",
        "Constantin",
        "Marin",
        "Lungu",
        "Șerban",
        "Țurcanu",
    ),
    "en": (
        "Smith",
        "Jones",
        "Taylor",
        "Williams",
        "Davies",
        "Evans",
        "Thomas",
        "Johnson",
        "Roberts",
        "Wilson",
        "Robinson",
        "Thompson",
        "Wright",
        "Walker",
        "Edwards",
        "Hughes",
        "Lewis",
        "Jackson",
        "Clarke",
        "Harris",
        "Turner",
        "Morris",
        "Cooper",
        "Ward",
        "Murphy",
        "Kelly",
        "McDonald",
        "Robertson",
        "Campbell",
        "Stewart",
    ),
}

GIVEN_MALE: dict[str, tuple[str, ...]] = {
    "de": (
        "Thomas",
        "Michael",
        "Andreas",
        "Stefan",
        "Frank",
        "Jürgen",
        "Uwe",
        "Klaus",
        "Sven",
        "Daniel",
        "Markus",
        "Christian",
        "Dennis",
        "Kevin",
        "Marcel",
        "Patrick",
        "Sebastian",
        "Tobias",
        "Jan",
        "Dirk",
        "Torsten",
        "Björn",
        "Jörg",
        "Günter",
        "Hans-Jürgen",
        "Karl-Heinz",
        "René",
        "André",
        "Sören",
        "Mario",
        "Dominik",
        "Florian",
        "Tim",
        "Marco",
        "Rüdiger",
        "Jens",
        "Holger",
        "Lars",
        "Timo",
        "Horst",
    ),
    "nl": (
        "Jan",
        "Pieter",
        "Kees",
        "Dennis",
        "Mark",
        "Sander",
        "Bas",
        "Ruud",
        "Erik",
        "Jeroen",
        "Martijn",
        "Stefan",
        "Kevin",
        "Rick",
        "Joost",
        "Wouter",
        "Niels",
        "Thijs",
        "Daan",
        "Johan",
        "Henk",
        "Gerrit",
        "Willem",
        "Dirk",
        "Bram",
        "Patrick",
        "Remco",
        "Roy",
        "Ricardo",
        "Gerard",
        "Frits",
        "Arjen",
        "Noël",
        "Jan-Willem",
    ),
    "tr": (
        "Mehmet",
        "Mustafa",
        "Ahmet",
        "Ali",
        "Hüseyin",
        "Hasan",
        "Ibrahim",
        "Murat",
        "Emre",
        "Burak",
        "Serkan",
        "Özgür",
        "Tolga",
        "Cem",
        "Kemal",
        "Yusuf",
        "Ömer",
        "Erkan",
        "Volkan",
        "Gökhan",
        "Deniz",
    ),
    "pl": (
        "Piotr",
        "Krzysztof",
        "Andrzej",
        "Tomasz",
        "Marek",
        "Grzegorz",
        "Jan",
        "Wojciech",
        "Kamil",
        "Dariusz",
        "Mariusz",
        "Zbigniew",
        "Jerzy",
        "Tadeusz",
        "Adam",
        "Marcin",
        "Artur",
        "Robert",
    ),
    "ma": (
        "Mohamed",
        "Ahmed",
        "Youssef",
        "Said",
        "Karim",
        "Rachid",
        "Mustapha",
        "Abdelkader",
        "Hamid",
        "Hicham",
        "Nordin",
        "Bilal",
        "Anouar",
        "Khalid",
        "Samir",
        "Redouan",
    ),
    "ro": (
        "Ion",
        "Mihai",
        "Andrei",
        "Alexandru",
        "Florin",
        "Marian",
        "Vasile",
        "Adrian",
        "Cristian",
        "Ionuț",
        "Costel",
    ),
    "en": (
        "John",
        "David",
        "Michael",
        "Peter",
        "Paul",
        "Stephen",
        "Robert",
        "Andrew",
        "Richard",
        "Christopher",
        "Gary",
        "Kevin",
        "Anthony",
        "Ian",
        "Alan",
        "Trevor",
        "Keith",
        "Derek",
    ),
}

GIVEN_FEMALE: dict[str, tuple[str, ...]] = {
    "de": (
        "Sabine",
        "Petra",
        "Claudia",
        "Nicole",
        "Stefanie",
        "Jennifer",
        "Sandra",
        "Melanie",
        "Katrin",
        "Anja",
        "Jessica",
        "Jasmin",
        "Michelle",
        "Julia",
        "Susanne",
        "Andrea",
        "Tanja",
        "Bärbel",
        "Dörte",
        "Anne-Marie",
        "Kerstin",
        "Lena",
    ),
    "nl": (
        "Anna",
        "Maria",
        "Sanne",
        "Lisa",
        "Fleur",
        "Anouk",
        "Femke",
        "Linda",
        "Marieke",
        "Esther",
        "Ingrid",
        "Priscilla",
        "Chantal",
        "Daniëlle",
        "Mariëlle",
        "Ilse",
        "Kim",
        "Naomi",
    ),
    "tr": (
        "Ayşe",
        "Fatma",
        "Emine",
        "Hatice",
        "Zeynep",
        "Elif",
        "Özlem",
        "Derya",
        "Gül",
        "Sibel",
        "Esra",
        "Büşra",
    ),
    "pl": (
        "Anna",
        "Katarzyna",
        "Agnieszka",
        "Krystyna",
        "Barbara",
        "Ewa",
        "Elżbieta",
        "Zofia",
        "Joanna",
        "Beata",
        "Magdalena",
        "Monika",
    ),
    "ma": (
        "Fatima",
        "Khadija",
        "Nadia",
        "Samira",
        "Naima",
        "Malika",
        "Souad",
        "Houda",
        "Latifa",
        "Zineb",
    ),
    "ro": ("Elena", "Maria", "Ioana", "Andreea", "Mihaela", "Ana"),
    "en": (
        "Susan",
        "Karen",
        "Janet",
        "Margaret",
        "Patricia",
        "Elizabeth",
        "Julie",
        "Carol",
        "Pauline",
        "Maureen",
        "Brenda",
        "Sheila",
    ),
}


def _flatten(table: dict[str, tuple[str, ...]]) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    names: list[str] = []
    offsets, counts = [], []
    for origin in ORIGINS:
        offsets.append(len(names))
        counts.append(len(table[origin]))
        names.extend(table[origin])
    return tuple(names), np.array(offsets), np.array(counts)


FAMILY, FAMILY_OFFSET, FAMILY_COUNT = _flatten(SURNAMES)
MALE, MALE_OFFSET, MALE_COUNT = _flatten(GIVEN_MALE)
FEMALE, FEMALE_OFFSET, FEMALE_COUNT = _flatten(GIVEN_FEMALE)
# Given names are one list: male names first, then female ones.
GIVEN = MALE + FEMALE

_UMLAUTS = {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"}


def strip_accents(text: str) -> str:
    """Drop combining marks after NFKD decomposition (é -> e, ş -> s)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def transliterate(text: str) -> str:
    """German transliteration (ä -> ae, ß -> ss), then other accents stripped."""
    for a, b in _UMLAUTS.items():
        text = text.replace(a, b)
    return strip_accents(text)


def normalise(text: str) -> str:
    """The linkage normalisation of exports.md: fold case, transliterate, keep letters/digits."""
    return re.sub(r"[^0-9a-z]", "", transliterate(text.casefold()))


# Spelling styles. Upper-case styles write a hyphen as a space (MUELLER LUEDENSCHEIDT).
STYLES = ("canonical", "upper", "translit", "upper_translit", "capitalised", "squashed")
_SPACED_STYLES = (1, 3)


def spell(text: str, style: int) -> str:
    """One name part (or a given name) in one style."""
    if style == 0:
        return text
    if style == 1:
        return text.upper().replace("-", " ")
    if style == 2:
        return transliterate(text)
    if style == 3:
        return transliterate(text).upper().replace("-", " ")
    if style == 4:  # particles capitalised: 'van der Berg' -> 'Van der Berg'
        return text[:1].upper() + text[1:]
    if style == 5:  # particles run together, lower case: 'vanderberg'
        return text.replace(" ", "").lower()
    raise ValueError(style)


def _variant_table(names: tuple[str, ...]) -> pl.Series:
    """All styles of all names, flat: index = name_index * len(STYLES) + style."""
    return pl.Series([spell(n, s) for n in names for s in range(len(STYLES))], dtype=pl.String)


FAMILY_VARIANTS = _variant_table(FAMILY)
GIVEN_VARIANTS = _variant_table(GIVEN)

# Style probabilities per source kind: prisons type names from documents, partners from
# conversation, the register in its own upper-case ASCII convention.
STYLE_PROBS = {
    "prison": (0.70, 0.10, 0.08, 0.06, 0.06, 0.0),
    "partner": (0.60, 0.08, 0.14, 0.04, 0.10, 0.04),
    "register": (0.08, 0.15, 0.0, 0.77, 0.0, 0.0),
}


def hash_uniform(values: np.ndarray, salt: int) -> np.ndarray:
    """A deterministic uniform [0, 1) per value (splitmix64), so a source spells a person the
    same way in every file without storing a per-source choice."""
    with np.errstate(over="ignore"):
        x = values.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        x ^= np.uint64((salt * 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF)
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def encoding_fallback(encoding: str) -> dict[str, str]:
    """Characters of any name variant the encoding cannot hold -> their accent-stripped form
    (a cp1252 prison writes Şahin as Sahin, which normalises identically)."""
    chars = {c for s in (*FAMILY_VARIANTS.to_list(), *GIVEN_VARIANTS.to_list()) for c in s}
    out = {}
    for c in sorted(chars):
        try:
            c.encode(encoding)
        except UnicodeEncodeError:
            out[c] = strip_accents(c)
    return out


def spelled_names(
    fam1: np.ndarray,
    fam2: np.ndarray,
    given: np.ndarray,
    styles: np.ndarray,
) -> tuple[pl.Series, pl.Series]:
    """Family and given names of rows in the given styles (vectorised gathers).

    fam2 < 0 means a single family name; otherwise fam1 and fam2 form a double name joined by
    a hyphen (or a space in upper-case styles).
    """
    k = len(STYLES)
    has2 = fam2 >= 0
    frame = pl.DataFrame(
        {
            "p1": FAMILY_VARIANTS.gather(fam1 * k + styles),
            "p2": FAMILY_VARIANTS.gather(np.where(has2, fam2, 0) * k + styles),
            "has2": has2,
            "sep": np.isin(styles, _SPACED_STYLES),
            "given": GIVEN_VARIANTS.gather(given * k + styles),
        }
    )
    out = frame.select(
        pl.when(pl.col("has2"))
        .then(
            pl.concat_str(
                [
                    pl.col("p1"),
                    pl.when(pl.col("sep")).then(pl.lit(" ")).otherwise(pl.lit("-")),
                    pl.col("p2"),
                ]
            )
        )
        .otherwise(pl.col("p1"))
        .alias("family_name"),
        pl.col("given").alias("given_name"),
    )
    return out["family_name"], out["given_name"]
