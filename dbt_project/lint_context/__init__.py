"""Stand-ins for the code-list macros while sqlfluff lints the dbt project (.sqlfluff).

The real macros (macros/code_lists.sql) read the lists from the work database with run_query,
which the offline Jinja templater cannot do. These return two placeholder codes per list, so
that loops over a list render the shape of the real SQL. They state no list of contract/codes.yml.
"""


def code_values(name: str) -> list[str]:
    return [f"{name}_code_1", f"{name}_code_2"]


def code_list(name: str, type: str = "varchar") -> str:
    if type == "integer":
        return "[1, 2]"
    return "[" + ", ".join(f"'{code}'" for code in code_values(name)) + "]"


def recidivism_measures() -> str:
    return code_list("measure")


def follow_up_windows() -> str:
    return code_list("follow_up_months", "integer")
