"""Synthetic data at national scale: district offices and departments with their divisions,
school networks, schools and users; the strategy tree; and projects over several fiscal years
with their texts, weighted steps, results in every state, progress reports, allocations,
installments, KPIs, evaluations, audit rows and relayed outbox events.

Everything follows from the options and the seed (one `random.Random(seed)`; no clock, no other
randomness), so two runs with the same options write the same rows. Rows are built as tuples
and loaded in bulk on the caller's connection and transaction: binary COPY on PostgreSQL,
`executemany` in large batches elsewhere. Ids are allocated here (max(id) + 1 per table) and
PostgreSQL sequences are moved past them afterwards. On PostgreSQL, when the role may, foreign
key triggers are off during the load (`session_replication_role = replica`, as pg_restore
does): the rows are built consistent, and checking a million references one by one would
triple the load time. Check and unique constraints are enforced as always.

Units, users, fiscal years, strategy nodes and KPIs are found by their natural key (code,
email, year) when they exist, so the demo stays as it is and generated projects live beside it;
projects are always new. A run leaves an `audit_entry` row with action `generate.data` recording
its options: the next run refuses to add more unless told (`mode="append"`), or empties every
table first (`mode="truncate"`).
"""

from __future__ import annotations

import itertools
import json
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal

from sqlalchemy import Connection, func, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

import service.models  # noqa: F401  (every table in the metadata)
from service.core.db import Base
from service.core.fiscal import fiscal_year_bounds, quarter_bounds
from service.projects import participants
from service.projects.figures import figures_today, repair_figures
from tools import vocabulary as words

GENERATOR_ACTION = "generate.data"
EMAIL_DOMAIN = "gen.tidtam.local"
#: Every generated user signs in with this password (its hash is computed once).
GENERATED_PASSWORD = "generated-tidtam-2566"
ADMINISTRATION_CODE = "10000000"
EVALUATING_OFFICE_CODE = "11000000"
#: Officers approve allocations up to this; above it the unit's approver must approve too.
APPROVAL_LIMIT = Decimal("50000.00")

#: Loads of this many projects or more (at least doubling the data) drop the plain indexes
#: of the tables they fill and build them again at the end.
REBUILD_INDEXES_FROM = 10_000

Mode = Literal["new", "append", "truncate"]
Progress = Callable[[str], None]

# Columns written per table, in load order (parents before children).
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    table: tuple(columns.split())
    for table, columns in {
        "org_unit": "id parent_id kind code name_th name_en path approval_limit "
        "approvals_required withdrawn_at",
        "app_user": "id email name password_hash language active phone session_version created_at",
        "role_assignment": "id user_id role unit_id is_head granted_at withdrawn_at",
        "fiscal_year": "id be_year starts_on ends_on is_open",
        "strategy_node": "id parent_id code level name",
        "kpi": "id code fiscal_year_id name definition unit_label measure_kind target kpi_type "
        "level owner_unit_id computation",
        "kpi_quarter_result": "id kpi_id quarter value narrative numerator denominator "
        "sub_score_1 sub_score_2 updated_at",
        "project": "id code fiscal_year_id name owner_unit_id responsible_unit_id kind "
        "multi_year in_plan rationale unit_codes contact_name contact_phone approved_budget "
        "state version created_at updated_at",
        "project_objective": "id project_id position text",
        "project_target": "id project_id position kind text",
        "project_strategy": "project_id strategy_node_id",
        "kpi_project": "kpi_id project_id",
        "plan_step": "id project_id position name weight planned_start planned_end "
        "responsible_unit_id",
        "step_result": "id step_id unit_id state completion accepted_completion narrative "
        "submitted_by_id submitted_at reviewed_by_id reviewed_at review_reason version due_on",
        "progress_report": "id project_id reported_on percent narrative problems obstacles "
        "author_id created_at withdrawn_at",
        "allocation": "id project_id recipient_unit_id amount purpose state created_by_id "
        "created_at submitted_at approval_round version",
        "installment": "id allocation_id amount state purpose requested_by_id requested_at "
        "paid_on approval_round version",
        "approval": "id subject_type subject_id level round approver_id acting_for_id amount "
        "approved_at cancelled_at",
        "evaluation": "id subject_type project_id kpi_id fiscal_year_id quarter state "
        "self_value self_narrative score sub_score_1 sub_score_2 comment evaluator_id "
        "scored_at published_at version",
        "evaluation_revision": "id evaluation_id score sub_score_1 sub_score_2 comment "
        "evaluator_id published_at reopened_by_id reopened_at reason",
        "audit_entry": "id occurred_at actor_id acting_for_id action object_type object_id "
        "from_state to_state changes reason",
        "outbox_event": "id created_at kind object_type object_id actor_id payload relayed_at",
    }.items()
}

# Exact decimals, built once: CENTS[n] is n/100 with two places (0.00 … 100.00).
CENTS = [Decimal(n).scaleb(-2) for n in range(10001)]
ZERO = CENTS[0]
HUNDRED = CENTS[10000]
EMPTY: dict[str, Any] = {}


class GeneratedDataExists(RuntimeError):
    """The database already holds generated data and neither append nor truncate was asked."""


@dataclass(frozen=True)
class GenerateOptions:
    """What to generate. `years` are Buddhist Era fiscal years; `as_of` is the day the latest
    year has reached (default: the last day of its second quarter): its steps due well before
    are mostly accepted, its later ones not started. Earlier years are over.

    Raises ValueError for options that cannot be generated.
    """

    projects: int = 100_000
    seed: int = 2566
    years: tuple[int, ...] = (2566, 2567, 2568)
    districts: int = 50
    departments: int = 20
    schools_per_network: int = 4
    as_of: date | None = None
    mode: Mode = "new"
    chunk: int = 2_000
    analyze: bool = True

    def __post_init__(self) -> None:
        if self.projects < 0:
            raise ValueError("projects must not be negative")
        if not self.years or list(self.years) != sorted(set(self.years)):
            raise ValueError("years must be distinct and ascending")
        if not 1 <= self.districts <= 99:
            raise ValueError("districts must be 1..99 (district codes are 50xx0000)")
        if not 1 <= self.departments <= 39:
            raise ValueError("departments must be 1..39 (codes 11000000 … 49000000)")
        if not 1 <= self.schools_per_network <= 99:
            raise ValueError("schools per network must be 1..99")
        if self.chunk < 1:
            raise ValueError("chunk must be positive")

    @property
    def latest_as_of(self) -> date:
        return self.as_of or quarter_bounds(self.years[-1], 2)[1]

    def recorded(self) -> dict[str, Any]:
        """The options that shape the data, as the marker row records them (JSON)."""
        data = asdict(self)
        data["years"] = list(self.years)
        data["as_of"] = self.latest_as_of.isoformat()
        for transient in ("mode", "chunk", "analyze"):
            data.pop(transient)
        return data


@dataclass
class GenerateSummary:
    rows: dict[str, int]
    seconds: float
    options: dict[str, Any]

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def parse_years(spec: str) -> tuple[int, ...]:
    """Read a list of fiscal years: "2566-2568" → (2566, 2567, 2568), "2566,2568" →
    (2566, 2568).

    Raises ValueError for anything else or for years outside 2400..2700 (Buddhist Era).
    """
    years: list[int] = []
    for part in spec.replace(" ", "").split(","):
        if "-" in part:
            first, last = (int(x) for x in part.split("-", 1))
            if last < first:
                raise ValueError(f"empty year range {part}")
            years.extend(range(first, last + 1))
        elif part:
            years.append(int(part))
    if not years:
        raise ValueError("no fiscal year given")
    for year in years:
        if not 2400 <= year <= 2700:
            raise ValueError(f"{year} is not a Buddhist Era fiscal year")
    return tuple(sorted(set(years)))


def generated_runs(bind: Connection | Session) -> list[dict[str, Any]]:
    """The recorded options of every generator run in this database, oldest first."""
    conn = bind.connection() if isinstance(bind, Session) else bind
    audit = Base.metadata.tables["audit_entry"]
    rows = conn.execute(
        select(audit.c.changes).where(audit.c.action == GENERATOR_ACTION).order_by(audit.c.id)
    ).scalars()
    return [dict(row) for row in rows]


# --------------------------------------------------------------------------------------------
# Writing rows

_PG_BINARY_TYPES = {
    "INTEGER": "int4",
    "VARCHAR": "text",
    "TEXT": "text",
    "NUMERIC": "numeric",
    "DATE": "date",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "BOOLEAN": "bool",
    "JSON": "text",  # binary json is its text; values are dumped to str first
}


def _binary_types(table: str) -> list[str]:
    columns = Base.metadata.tables[table].columns
    names: list[str] = []
    for column in TABLE_COLUMNS[table]:
        compiled = columns[column].type.compile(dialect=postgresql.dialect())
        names.append(_PG_BINARY_TYPES[compiled.split("(")[0]])
    return names


class BulkWriter:
    """Writes row tuples (columns as in TABLE_COLUMNS) on the caller's connection and
    transaction: binary COPY on PostgreSQL, executemany elsewhere. Counts rows and seconds."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        self.rows: dict[str, int] = dict.fromkeys(TABLE_COLUMNS, 0)
        self.seconds: dict[str, float] = dict.fromkeys(TABLE_COLUMNS, 0.0)
        self._types = {table: _binary_types(table) for table in TABLE_COLUMNS}

    def write(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        started = time.perf_counter()
        if self.postgres:
            self._copy(table, rows)
        else:
            self._insert(table, rows)
        self.rows[table] += len(rows)
        self.seconds[table] += time.perf_counter() - started

    def _copy(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        columns = TABLE_COLUMNS[table]
        json_at = [i for i, kind in enumerate(self._types[table]) if kind == "text"]
        json_at = [i for i in json_at if columns[i] in ("changes", "payload")]
        driver = self.conn.connection.driver_connection
        assert driver is not None
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types(self._types[table])
            write_row = copy.write_row
            if not json_at:
                for row in rows:
                    write_row(row)
                return
            dumps = json.dumps
            for row in rows:
                values = list(row)
                for i in json_at:
                    values[i] = "{}" if not values[i] else dumps(values[i], ensure_ascii=False)
                write_row(values)

    def _insert(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        columns = TABLE_COLUMNS[table]
        statement = Base.metadata.tables[table].insert()
        for start in range(0, len(rows), 20_000):
            batch = rows[start : start + 20_000]
            self.conn.execute(statement, [dict(zip(columns, row, strict=True)) for row in batch])


class _BackgroundWriter:
    """Hands batches of rows to a thread that writes them, so that PostgreSQL works through
    one batch while the next is generated. The thread alone uses the connection meanwhile."""

    def __init__(self, writer: BulkWriter) -> None:
        self.writer = writer
        self.batches: queue.Queue[dict[str, list[tuple[Any, ...]]] | None] = queue.Queue(2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._work, name="generate-data-copy", daemon=True)
        self.thread.start()

    def _work(self) -> None:
        while (batch := self.batches.get()) is not None:
            if self.error is not None:
                continue  # drain: the caller learns of the error at its next put or at close
            try:
                for table, rows in batch.items():
                    self.writer.write(table, rows)
            except BaseException as error:
                self.error = error

    def put(self, batch: dict[str, list[tuple[Any, ...]]]) -> None:
        self._raise()
        self.batches.put(batch)

    def close(self) -> None:
        self.batches.put(None)
        self.thread.join()
        self._raise()

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error


# --------------------------------------------------------------------------------------------
# The world the projects live in


@dataclass(slots=True)
class _Person:
    id: int
    name: str


@dataclass(slots=True)
class _Unit:
    id: int
    code: str
    name: str
    path: str


@dataclass(slots=True)
class _Network:
    unit: _Unit
    chair: _Person
    schools: list[tuple[_Unit, _Person]]


@dataclass(slots=True)
class _Division:
    unit: _Unit
    topic: str
    officers: list[_Person]
    networks: list[_Network] = field(default_factory=list)


@dataclass(slots=True)
class _Agency:
    unit: _Unit
    area: str
    phone: str
    divisions: list[_Division]
    division_weights: list[float]
    approvers: list[_Person]
    evaluator: _Person | None = None
    serial: int = 1000
    kpis: dict[int, list[int]] = field(default_factory=dict)  # fiscal year id → KPI ids


@dataclass(slots=True)
class _Year:
    id: int
    be_year: int
    starts_on: date
    ends_on: date
    cutoff: date  # how far the year has got: results and reports stop here
    done_quarters: int  # quarters over by the cutoff
    latest: bool
    quarter_ends: tuple[date, ...]  # last day of Q1 … Q4


def _at(day: date, hour: int = 3) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _cumulative(pairs: Iterable[tuple[str, float]]) -> tuple[tuple[float, str], ...]:
    total = 0.0
    table: list[tuple[float, str]] = []
    for value, weight in pairs:
        total += weight
        table.append((total, value))
    return tuple((bound / total, value) for bound, value in table)


def _distinct(r: Callable[[], float], upper: int, count: int) -> list[int]:
    """`count` distinct integers from 1 … upper - 1, ascending (random.sample without its
    overhead, which counts here: it runs for every project)."""
    chosen: set[int] = set()
    while len(chosen) < count:
        chosen.add(1 + int(r() * (upper - 1)))
    return sorted(chosen)


def _pick(x: float, table: Sequence[tuple[float, str]]) -> str:
    """The value of a (cumulative probability, value) table that `x` in [0, 1) falls on."""
    for bound, value in table:
        if x < bound:
            return value
    return table[-1][1]


STATES_PAST_YEAR = _cumulative(
    [
        ("closed", 70),
        ("locked", 20),
        ("withdrawn", 3),
        ("revision_requested", 2),
        ("draft", 2),
        ("submitted", 3),
    ]
)
STATES_LATEST_YEAR = _cumulative(
    [
        ("locked", 75),
        ("submitted", 6),
        ("draft", 6),
        ("revision_requested", 4),
        ("closed", 6),
        ("withdrawn", 3),
    ]
)
RESULT_PAST_DUE = _cumulative(
    [("accepted", 78), ("submitted", 7), ("returned", 5), ("in_progress", 6), ("not_started", 4)]
)
RESULT_CURRENT = _cumulative(
    [("in_progress", 45), ("submitted", 25), ("accepted", 20), ("not_started", 10)]
)
RESULT_FUTURE = _cumulative([("not_started", 95), ("in_progress", 5)])
ALLOCATION_LOCKED = _cumulative(
    [
        ("approved", 50),
        ("disbursing", 30),
        ("submitted", 8),
        ("draft", 5),
        ("returned", 4),
        ("rejected", 3),
    ]
)
EVALUATION_CURRENT = _cumulative(
    [("published", 40), ("scored", 20), ("self_assessed", 20), ("open", 20)]
)
SCORES = (100, 100, 100, 100, 90, 90, 80, 80, 70, 60, 50)
RESULT_VERSIONS = {"not_started": 1, "in_progress": 1, "submitted": 2, "accepted": 3, "returned": 3}
STEP_DAYS = (0, 0, 7, 14, 30, 30, 45, 60)
DAYS = [timedelta(days=n) for n in range(400)]
FIRST_STEPS, MIDDLE_STEPS = words.FIRST_STEPS, words.MIDDLE_STEPS
SCHOOL_STEPS, LAST_STEPS = words.SCHOOL_STEPS, words.LAST_STEPS
RESULT_NARRATIVES = words.RESULT_NARRATIVES


class _Generator:
    def __init__(self, conn: Connection, options: GenerateOptions, progress: Progress) -> None:
        self.conn = conn
        self.options = options
        self.progress = progress
        self.rng = random.Random(options.seed)
        self.writer = BulkWriter(conn)
        self.buffers: dict[str, list[tuple[Any, ...]]] = {t: [] for t in TABLE_COLUMNS}
        tables = Base.metadata.tables
        self.ids: dict[str, Iterator[int]] = {}
        self.first_ids: dict[str, int] = {}
        for name, columns in TABLE_COLUMNS.items():
            if columns[0] == "id":
                current = conn.execute(select(func.max(tables[name].c.id))).scalar()
                self.first_ids[name] = (current or 0) + 1
                self.ids[name] = itertools.count(self.first_ids[name])
        # One hash for every generated user: scrypt takes tens of milliseconds a call.
        self.password_hash = generate_password_hash(GENERATED_PASSWORD, method="scrypt")
        self.epoch = _at(fiscal_year_bounds(options.years[0])[0] - timedelta(days=90))
        self.rows_generated = 0
        self.background = _BackgroundWriter(self.writer) if self.writer.postgres else None
        self.audit_rows = self.buffers["audit_entry"]
        self.audit_ids = self.ids["audit_entry"]

    # ---- plumbing

    def flush(self) -> None:
        """Write what is buffered: in the background while generating on PostgreSQL."""
        batch = {table: rows for table, rows in self.buffers.items() if rows}
        self.rows_generated += sum(len(rows) for rows in batch.values())
        for table in batch:
            self.buffers[table] = []
        self.audit_rows = self.buffers["audit_entry"]
        if self.background is not None:
            self.background.put(batch)
        else:
            for table, rows in batch.items():
                self.writer.write(table, rows)

    def finish(self) -> None:
        """Write what is buffered and wait until everything is written."""
        self.flush()
        if self.background is not None:
            background, self.background = self.background, None
            background.close()

    def abandon(self) -> None:
        """Stop the writing thread after a failure (its own error, if any, is dropped: the
        one being raised says more)."""
        if self.background is not None:
            background, self.background = self.background, None
            background.error = background.error or RuntimeError("abandoned")
            background.batches.put(None)
            background.thread.join()

    def audit(
        self,
        when: datetime,
        actor_id: int | None,
        action: str,
        object_type: str,
        object_id: int,
        from_state: str | None,
        to_state: str | None,
        reason: str = "",
    ) -> None:
        self.audit_rows.append(
            (
                next(self.audit_ids),
                when,
                actor_id,
                None,
                action,
                object_type,
                object_id,
                from_state,
                to_state,
                EMPTY,
                reason,
            )
        )

    def choice(self, options: Sequence[str]) -> str:
        return options[int(self.rng.random() * len(options))]

    # ---- reference data: found by natural key, or created

    def load_existing(self) -> None:
        t = Base.metadata.tables
        c = self.conn
        unit = t["org_unit"].c
        self.units: dict[str, _Unit] = {
            code: _Unit(id_, code, name, path)
            for id_, code, name, path in c.execute(
                select(unit.id, unit.code, unit.name_th, unit.path)
            )
        }
        user = t["app_user"].c
        self.users: dict[str, _Person] = {
            email: _Person(id_, name)
            for id_, email, name in c.execute(select(user.id, user.email, user.name))
        }
        role = t["role_assignment"].c
        # The role column reads as an enum member, whose hash is not its value's.
        self.roles: set[tuple[int, str, int]] = {
            (user_id, str(getattr(name, "value", name)), unit_id)
            for user_id, name, unit_id in c.execute(select(role.user_id, role.role, role.unit_id))
        }
        fiscal = t["fiscal_year"].c
        self.fiscal_ids: dict[int, int] = {
            be_year: id_ for be_year, id_ in c.execute(select(fiscal.be_year, fiscal.id))
        }
        node = t["strategy_node"].c
        self.strategy_ids: dict[str, int] = {
            code: id_ for code, id_ in c.execute(select(node.code, node.id))
        }
        kpi = t["kpi"].c
        self.kpi_codes: set[tuple[str, int]] = {
            (code, year) for code, year in c.execute(select(kpi.code, kpi.fiscal_year_id))
        }
        project = t["project"].c
        self.project_codes: set[tuple[str, int]] = {
            (code, year) for code, year in c.execute(select(project.code, project.fiscal_year_id))
        }

    def person_name(self) -> str:
        r = self.rng.random
        if r() < 0.5:
            title, first = "นาย", self.choice(words.MALE_FIRST)
        else:
            title, first = ("นาง" if r() < 0.6 else "นางสาว"), self.choice(words.FEMALE_FIRST)
        return f"{title}{first} {self.choice(words.LAST_NAMES)}"

    def phone(self) -> str:
        r = self.rng.random
        return f"02-{100 + int(r() * 900)}-{int(r() * 10000):04d}"

    def unit(
        self,
        code: str,
        name_th: str,
        name_en: str,
        kind: str,
        parent: _Unit | None,
        limit: Decimal | None = None,
    ) -> _Unit:
        found = self.units.get(code)
        if found is not None:
            return found
        unit_id = next(self.ids["org_unit"])
        path = f"{parent.path if parent else '/'}{unit_id}/"
        self.buffers["org_unit"].append(
            (
                unit_id,
                parent.id if parent else None,
                kind,
                code,
                name_th,
                name_en,
                path,
                limit,
                None if limit is None else 2,
                None,
            )
        )
        made = _Unit(unit_id, code, name_th, path)
        self.units[code] = made
        return made

    def person(self, role: str, unit: _Unit, number: int, is_head: bool = False) -> _Person:
        email = f"{role}{number}.{unit.code}@{EMAIL_DOMAIN}"
        # Drawn even for a user who exists: the random sequence must not depend on the database.
        name, phone = self.person_name(), self.phone()
        found = self.users.get(email)
        if found is None:
            found = _Person(next(self.ids["app_user"]), name)
            self.buffers["app_user"].append(
                (found.id, email, name, self.password_hash, "th", True, phone, 1, self.epoch)
            )
            self.users[email] = found
        if (found.id, role, unit.id) not in self.roles:
            self.roles.add((found.id, role, unit.id))
            self.buffers["role_assignment"].append(
                (
                    next(self.ids["role_assignment"]),
                    found.id,
                    role,
                    unit.id,
                    is_head,
                    self.epoch,
                    None,
                )
            )
        return found

    def build_years(self) -> list[_Year]:
        years: list[_Year] = []
        latest_cutoff = self.options.latest_as_of
        for be_year in self.options.years:
            starts_on, ends_on = fiscal_year_bounds(be_year)
            latest = be_year == self.options.years[-1]
            year_id = self.fiscal_ids.get(be_year)
            if year_id is None:
                year_id = next(self.ids["fiscal_year"])
                self.buffers["fiscal_year"].append((year_id, be_year, starts_on, ends_on, latest))
                self.fiscal_ids[be_year] = year_id
            cutoff = min(max(latest_cutoff, starts_on), ends_on) if latest else ends_on
            ends = tuple(quarter_bounds(be_year, q)[1] for q in range(1, 5))
            done = sum(1 for end in ends if end <= cutoff)
            years.append(_Year(year_id, be_year, starts_on, ends_on, cutoff, done, latest, ends))
        return years

    def build_org(self) -> list[_Agency]:
        o = self.options
        admin = self.unit(
            ADMINISTRATION_CODE,
            "กรุงเทพมหานคร",
            "Bangkok Metropolitan Administration",
            "administration",
            None,
        )
        self.person("admin", admin, 1, is_head=True)
        agencies = [self.district(admin, number) for number in range(1, o.districts + 1)]
        agencies += [self.department(admin, number) for number in range(1, o.departments + 1)]
        # The evaluating office (สยป.) is the first department; its evaluators share the agencies.
        evaluating = self.units[EVALUATING_OFFICE_CODE]
        evaluators = [
            self.person("evaluator", evaluating, n)
            for n in range(1, max(2, len(agencies) // 5) + 1)
        ]
        for index, agency in enumerate(agencies):
            agency.evaluator = evaluators[index % len(evaluators)]
        return agencies

    def district(self, admin: _Unit, number: int) -> _Agency:
        if number <= len(words.DISTRICTS):
            area, area_en = words.DISTRICTS[number - 1]
        else:
            area, area_en = f"พื้นที่ {number}", f"Area {number}"
        prefix = f"50{number:02d}"
        office = self.unit(
            f"{prefix}0000",
            f"สำนักงานเขต{area}",
            f"{area_en} District Office",
            "district_office",
            admin,
            APPROVAL_LIMIT,
        )
        approvers = [self.person("approver", office, n, is_head=n == 1) for n in (1, 2)]
        divisions: list[_Division] = []
        for div_number, div_name, div_en, topic in words.DISTRICT_DIVISIONS:
            unit = self.unit(f"{prefix}{div_number:02d}00", div_name, div_en, "division", office)
            officers = [self.person("officer", unit, n, is_head=n == 1) for n in (1, 2)]
            division = _Division(unit, topic, officers)
            if div_number == words.EDUCATION_DIVISION:
                for k in range(2 + (self.rng.random() < 0.5)):
                    division.networks.append(self.network(prefix, unit, 71 + k))
            divisions.append(division)
        # Education runs most of a district's projects, as on the real plans.
        weights = [3.0 if division.networks else 1.0 for division in divisions]
        return _Agency(office, area, self.phone(), divisions, weights, approvers)

    def department(self, admin: _Unit, number: int) -> _Agency:
        if number <= len(words.DEPARTMENTS):
            name, name_en, topic = words.DEPARTMENTS[number - 1]
        else:
            name, name_en, topic = f"สำนักงานพิเศษ {number}", f"Office {number}", "admin"
        prefix = f"{10 + number}"
        unit = self.unit(f"{prefix}000000", name, name_en, "department", admin, APPROVAL_LIMIT)
        approvers = [self.person("approver", unit, n, is_head=n == 1) for n in (1, 2)]
        divisions: list[_Division] = []
        for k, (div_name, div_en) in enumerate(words.DEPARTMENT_DIVISIONS[:4], start=1):
            div_unit = self.unit(f"{prefix}{k:02d}0000", div_name, div_en, "division", unit)
            officers = [self.person("officer", div_unit, n, is_head=n == 1) for n in (1, 2)]
            divisions.append(_Division(div_unit, topic, officers))
        return _Agency(unit, "กรุงเทพมหานคร", self.phone(), divisions, [1.0] * 4, approvers)

    def network(self, prefix: str, division: _Unit, number: int) -> _Network:
        code = f"{prefix}07{number}"
        unit = self.unit(
            code, f"เครือข่าย {number}", f"School network {number}", "school_network", division
        )
        chair = self.person("school", unit, 1, is_head=True)
        schools: list[tuple[_Unit, _Person]] = []
        for k in range(1, self.options.schools_per_network + 1):
            name = f"โรงเรียน{self.choice(words.SCHOOL_PREFIXES)}{self.choice(words.SCHOOL_NAMES)}"
            school = self.unit(f"{code}{k:02d}", name, "", "school", unit)
            schools.append((school, self.person("school", school, 1, is_head=True)))
        return _Network(unit, chair, schools)

    def build_strategy(self) -> list[int]:
        """The strategy tree (7 dimensions, then 3 more levels); returns its leaves' ids."""
        r = self.rng.random
        leaves: list[int] = []

        def node(code: str, level: int, name: str, parent_id: int | None) -> int:
            found = self.strategy_ids.get(code)
            if found is not None:
                return found
            node_id = next(self.ids["strategy_node"])
            self.buffers["strategy_node"].append((node_id, parent_id, code, level, name))
            self.strategy_ids[code] = node_id
            return node_id

        def phrase() -> str:
            return self.choice(words.STRATEGY_PHRASES) + self.choice(words.STRATEGY_QUALIFIERS)

        for top, dimension in enumerate(words.STRATEGY_DIMENSIONS, start=1):
            top_id = node(str(top), 1, dimension, None)
            for second in range(1, 4 + int(r() * 2)):
                code2 = f"{top}.{second}"
                id2 = node(code2, 2, phrase(), top_id)
                for third in range(1, 3 + int(r() * 2)):
                    code3 = f"{code2}.{third}"
                    id3 = node(code3, 3, phrase(), id2)
                    for fourth in range(1, 3 + int(r() * 2)):
                        leaves.append(node(f"{code3}.{fourth}", 4, phrase(), id3))
        return leaves

    # ---- KPIs per agency and year, with their quarterly results and evaluations

    def build_kpis(self, agencies: list[_Agency], years: list[_Year]) -> None:
        r = self.rng.random
        for year in years:
            for agency in agencies:
                prefix = agency.unit.code[:4]
                count = 6 if agency.unit.code.startswith("50") else 4
                kpi_ids: list[int] = []
                for index in range(count):
                    template = words.KPI_TEMPLATES[0 if index == 0 else 1 + int(r() * 7)]
                    name_template, unit_label, measure_kind, target = template
                    topic = agency.divisions[int(r() * len(agency.divisions))].topic
                    subject = self.choice(words.PROJECT_ACTIVITIES[topic])
                    code = f"{prefix}-{100 + int(r() * 9900)}"
                    while (code, year.id) in self.kpi_codes:
                        code = f"{prefix}-{100 + int(r() * 9900)}"
                    self.kpi_codes.add((code, year.id))
                    kpi_id = next(self.ids["kpi"])
                    self.buffers["kpi"].append(
                        (
                            kpi_id,
                            code,
                            year.id,
                            name_template.format(subject=subject),
                            "",
                            unit_label,
                            measure_kind,
                            Decimal(target),
                            "routine" if index == 0 or r() < 0.5 else "strategic",
                            "output" if r() < 0.7 else "outcome",
                            agency.unit.id,
                            "routine_projects_on_target" if index == 0 else "",
                        )
                    )
                    kpi_ids.append(kpi_id)
                    self.kpi_results(kpi_id, year, measure_kind, Decimal(target), agency)
                agency.kpis[year.id] = kpi_ids

    def kpi_results(
        self, kpi_id: int, year: _Year, measure_kind: str, target: Decimal, agency: _Agency
    ) -> None:
        """Four quarters, the value cumulative through the year; quarters not over yet are
        empty. Each quarter that is over is evaluated and published."""
        r = self.rng.random
        denominator = 4 + int(r() * 37)
        numerator = 0
        value = ZERO
        evaluator_id = agency.evaluator.id if agency.evaluator else None
        for quarter in range(1, 5):
            result_id = next(self.ids["kpi_quarter_result"])
            if quarter > year.done_quarters:
                self.buffers["kpi_quarter_result"].append(
                    (result_id, kpi_id, quarter, None, "", None, None, None, None, self.epoch)
                )
                continue
            sub_1, sub_2 = CENTS[int(r() * 101) * 100], CENTS[int(r() * 101) * 100]
            num = den = None
            if measure_kind == "percent":
                numerator = min(denominator, numerator + int(r() * (denominator / 3 + 1)))
                num, den = Decimal(numerator), Decimal(denominator)
                value = (Decimal(100 * numerator) / denominator).quantize(CENTS[1])
            else:
                reached = target * quarter / 4 * CENTS[60 + int(r() * 50)]
                value = max(value, reached.quantize(CENTS[1]))
            end = year.quarter_ends[quarter - 1]
            updated = _at(end + DAYS[3 + int(r() * 10)])
            self.buffers["kpi_quarter_result"].append(
                (result_id, kpi_id, quarter, value, "", num, den, sub_1, sub_2, updated)
            )
            scored = updated + DAYS[7]
            evaluation_id = next(self.ids["evaluation"])
            self.buffers["evaluation"].append(
                (
                    evaluation_id,
                    "kpi",
                    None,
                    kpi_id,
                    year.id,
                    quarter,
                    "published",
                    value,
                    "",
                    CENTS[SCORES[int(r() * len(SCORES))] * 100],
                    sub_1,
                    sub_2,
                    "",
                    evaluator_id,
                    scored,
                    scored + DAYS[2],
                    1,
                )
            )
            if evaluator_id is not None:
                self.audit(
                    scored + DAYS[2],
                    evaluator_id,
                    "evaluation.publish",
                    "evaluation",
                    evaluation_id,
                    "scored",
                    "published",
                )

    # ---- projects

    def project(self, year: _Year, agency: _Agency, leaves: list[int]) -> None:
        rng = self.rng
        r = rng.random
        buffers = self.buffers

        x = r() * sum(agency.division_weights)
        division = agency.divisions[-1]
        for candidate, weight in zip(agency.divisions, agency.division_weights, strict=True):
            if x < weight:
                division = candidate
                break
            x -= weight
        agency.serial += 1 + int(r() * 3)
        code = f"{agency.unit.code}-{agency.serial}"
        while (code, year.id) in self.project_codes:
            agency.serial += 1
            code = f"{agency.unit.code}-{agency.serial}"
        self.project_codes.add((code, year.id))
        state = _pick(r(), STATES_LATEST_YEAR if year.latest else STATES_PAST_YEAR)
        routine = r() < 0.7
        officer = division.officers[int(r() * len(division.officers))]
        approver = agency.approvers[0]
        activity = self.choice(words.PROJECT_ACTIVITIES[division.topic])
        suffix = self.choice(words.PROJECT_SUFFIXES).format(year=year.be_year, area=agency.area)
        name = self.choice(words.PROJECT_PREFIXES) + activity + suffix
        networks: list[_Network] = []
        if division.networks and r() < 0.8:
            count = 1 + int(r() * min(3, len(division.networks)))
            first = int(r() * (len(division.networks) - count + 1))
            networks = division.networks[first : first + count]
        if networks:
            budget = Decimal((3 + int(r() * 15)) * 10_000 * len(networks))
        else:
            tier = r()
            if tier < 0.3:
                budget = Decimal((20 + int(r() * 80)) * 1000)
            elif tier < 0.7:
                budget = Decimal((100 + int(r() * 900)) * 1000)
            elif tier < 0.95:
                budget = Decimal((1000 + int(r() * 9000)) * 1000)
            else:
                budget = Decimal((10_000 + int(r() * 40_000)) * 1000)

        # The project's own life: created before the year, submitted, locked, then closed or not.
        project_id = next(self.ids["project"])
        created = _at(year.starts_on - DAYS[10 + int(r() * 50)], 2 + int(r() * 8))
        submitted_at = created + DAYS[3 + int(r() * 17)]
        locked_at = submitted_at + DAYS[2 + int(r() * 13)]
        changes: list[tuple[datetime, int, str, str | None, str]] = [
            (created, officer.id, "project.create", None, "draft")
        ]
        if state != "draft":
            changes.append((submitted_at, officer.id, "project.submit", "draft", "submitted"))
        if state in ("locked", "closed", "revision_requested"):
            changes.append((locked_at, approver.id, "project.lock", "submitted", "locked"))
        if state == "revision_requested":
            when = locked_at + DAYS[20 + int(r() * 60)]
            changes.append(
                (when, approver.id, "project.request_revision", "locked", "revision_requested")
            )
        elif state == "closed":
            when = _at(year.ends_on + DAYS[5 + int(r() * 35)])
            changes.append((when, approver.id, "project.close", "locked", "closed"))
        elif state == "withdrawn":
            when = submitted_at + DAYS[10 + int(r() * 30)]
            changes.append((when, officer.id, "project.withdraw", "submitted", "withdrawn"))
        buffers["project"].append(
            (
                project_id,
                code,
                year.id,
                name,
                agency.unit.id,
                division.unit.id,
                "routine" if routine else "strategic",
                r() < 0.05,
                r() < 0.95,
                self.rationale(activity, division, agency, year),
                f"{division.unit.code}/{division.unit.code}",
                officer.name,
                f"{agency.phone} ต่อ {1000 + int(r() * 9000)}",
                ZERO if state in ("draft", "submitted") else budget,
                state,
                len(changes),
                created,
                changes[-1][0],
            )
        )
        for when, actor_id, action, before, after in changes:
            self.audit(when, actor_id, action, "project", project_id, before, after)

        objective_ids, target_ids = self.ids["project_objective"], self.ids["project_target"]
        objectives = [words.OBJECTIVES[i - 1] for i in _distinct(r, 7, 2 + int(r() * 2))]
        for position, objective in enumerate(objectives, 1):
            buffers["project_objective"].append(
                (next(objective_ids), project_id, position, objective.format(activity=activity))
            )
        targets = [
            ("quantity", self.choice(words.QUANTITY_TARGETS).format(area=agency.area, n=n))
            for n in [2 + int(r() * 48) for _ in range(1 + int(r() * 2))]
        ] + [("quality", self.choice(words.QUALITY_TARGETS)) for _ in range(1 + int(r() * 2))]
        for position, (kind, target) in enumerate(targets, 1):
            buffers["project_target"].append((next(target_ids), project_id, position, kind, target))
        first_leaf = leaves[int(r() * len(leaves))]
        buffers["project_strategy"].append((project_id, first_leaf))
        if r() < 0.2:
            second_leaf = leaves[int(r() * len(leaves))]
            if second_leaf != first_leaf:
                buffers["project_strategy"].append((project_id, second_leaf))
        kpis = agency.kpis[year.id]
        first_kpi = kpis[0] if routine else kpis[1 + int(r() * (len(kpis) - 1))]
        buffers["kpi_project"].append((first_kpi, project_id))
        if r() < 0.3:
            second_kpi = kpis[1 + int(r() * (len(kpis) - 1))]
            if second_kpi != first_kpi:
                buffers["kpi_project"].append((second_kpi, project_id))

        gained = self.steps(project_id, state, year, division, officer, networks)
        if state in ("locked", "closed"):
            self.reports(project_id, year, officer, gained)
            self.allocations(
                project_id, state, budget, locked_at, division, officer, approver, networks
            )
            self.evaluations(project_id, year, agency)

    def rationale(self, activity: str, division: _Division, agency: _Agency, year: _Year) -> str:
        sentences = words.RATIONALE_SENTENCES
        chosen = [
            i - 1
            for i in _distinct(self.rng.random, len(sentences) + 1, 3 + int(self.rng.random() * 3))
        ]
        previous = year.be_year - 1 - int(self.rng.random() * 5)
        unit = f"{division.unit.name} {agency.unit.name}"
        return " ".join(
            sentences[i].format(activity=activity, unit=unit, area=agency.area, previous=previous)
            for i in chosen
        )

    def weights(self, n: int) -> list[Decimal]:
        """n step weights, each > 0, summing to exactly 100.00: an even split (the remainder
        on the last step) or a random split in steps of 5 or 1 percent."""
        r = self.rng.random
        if r() < 0.35:
            base = 10000 // n
            cents = [base] * n
            cents[-1] += 10000 - base * n
        else:
            unit = 500 if r() < 0.5 else 100
            total = 10000 // unit
            cuts = _distinct(r, total, n - 1)
            cents = [(b - a) * unit for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
        return [CENTS[c] for c in cents]

    def steps(
        self,
        project_id: int,
        state: str,
        year: _Year,
        division: _Division,
        officer: _Person,
        networks: list[_Network],
    ) -> list[tuple[date, int]]:
        """Plan steps and, once the plan is locked, their results: one per school on the
        school steps of an education project, one for the division on every other step.
        Returns (review day, hundredths of a percent gained) per accepted result."""
        r = self.rng.random
        step_rows = self.buffers["plan_step"]
        result_rows = self.buffers["step_result"]
        step_ids, result_ids = self.ids["plan_step"], self.ids["step_result"]
        n = 5 + int(r() * 11)
        weights = self.weights(n)
        starts_on, ends_on, cutoff = year.starts_on, year.ends_on, year.cutoff
        span = (ends_on - starts_on).days - 20
        offsets = sorted(int(r() * span) for _ in range(n))
        if r() < 0.7:
            offsets[0] = 0  # the installment request opens the year
        with_results = state in ("locked", "closed")
        closed = state == "closed"
        schools = [
            (school.id, person) for network in networks for school, person in network.schools
        ]
        gained: list[tuple[date, int]] = []
        division_unit = division.unit.id
        division_reporter = [(division_unit, officer)]
        officer_id = officer.id
        for position in range(1, n + 1):
            step_id = next(step_ids)
            start = starts_on + DAYS[offsets[position - 1]]
            end = start + DAYS[STEP_DAYS[int(r() * 8)]]
            if end > ends_on:
                end = ends_on
            school_step = bool(schools) and 1 < position < n and r() < 0.4
            if position == 1:
                name = FIRST_STEPS[int(r() * len(FIRST_STEPS))]
            elif position == n:
                name = LAST_STEPS[int(r() * len(LAST_STEPS))]
            elif school_step:
                name = SCHOOL_STEPS[int(r() * len(SCHOOL_STEPS))]
            else:
                name = MIDDLE_STEPS[int(r() * len(MIDDLE_STEPS))]
            weight = weights[position - 1]
            step_rows.append(
                (step_id, project_id, position, name, weight, start, end, division_unit)
            )
            if not with_results:
                continue
            reporters = schools if school_step else division_reporter
            if closed:
                table = None
            elif (cutoff - end).days > 14:
                table = RESULT_PAST_DUE
            elif start <= cutoff:
                table = RESULT_CURRENT
            else:
                table = RESULT_FUTURE
            last_day = end + DAYS[10] if table else end
            if last_day > cutoff and table:
                last_day = cutoff
            room = (last_day - start).days + 1 if last_day > start else 1
            share = int(weight * 100) // len(reporters)
            for unit_id, reporter in reporters:
                result_state = "accepted" if table is None else _pick(r(), table)
                result_id = next(result_ids)
                if result_state == "not_started" or result_state == "in_progress":
                    completion = (
                        ZERO if result_state == "not_started" else CENTS[1000 * (1 + int(r() * 9))]
                    )
                    result_rows.append(
                        (result_id, step_id, unit_id, result_state, completion, None, "", None,
                         None, None, None, "", 1, end)
                    )  # fmt: skip
                    continue
                submitted = _at(start + DAYS[int(r() * room)], 2 + int(r() * 8))
                completion = HUNDRED if r() < 0.8 else CENTS[1000 * (5 + int(r() * 5))]
                narrative = RESULT_NARRATIVES[int(r() * len(RESULT_NARRATIVES))]
                if result_state == "submitted":
                    result_rows.append(
                        (result_id, step_id, unit_id, "submitted", completion, None, narrative,
                         reporter.id, submitted, None, None, "", 2, end)
                    )  # fmt: skip
                    continue
                reviewed = submitted + DAYS[1 + int(r() * 6)]
                if result_state == "accepted":
                    gained.append((reviewed.date(), share * int(completion) // 100))
                    result_rows.append(
                        (result_id, step_id, unit_id, "accepted", completion, completion,
                         narrative, reporter.id, submitted, officer_id, reviewed, "", 3, end)
                    )  # fmt: skip
                else:
                    reason = self.choice(words.RETURN_REASONS)
                    result_rows.append(
                        (result_id, step_id, unit_id, "returned", completion, None, narrative,
                         reporter.id, submitted, officer_id, reviewed, reason, 3, end)
                    )  # fmt: skip
        return gained

    def reports(
        self, project_id: int, year: _Year, officer: _Person, gained: list[tuple[date, int]]
    ) -> None:
        """A progress report near the end of most quarters that are over, stating the
        progress accepted by then (as the district saw it that day)."""
        r = self.rng.random
        for quarter in range(1, year.done_quarters + 1):
            if r() < 0.2:
                continue
            reported_on = year.quarter_ends[quarter - 1] - DAYS[int(r() * 6)]
            progress = min(10000, sum(points for day, points in gained if day <= reported_on))
            self.buffers["progress_report"].append(
                (
                    next(self.ids["progress_report"]),
                    project_id,
                    reported_on,
                    CENTS[progress],
                    self.choice(words.REPORT_NARRATIVES),
                    self.choice(words.PROBLEMS),
                    self.choice(words.PROBLEMS),
                    officer.id,
                    _at(reported_on, 2 + int(r() * 8)),
                    None,
                )
            )

    def allocations(
        self,
        project_id: int,
        state: str,
        budget: Decimal,
        locked_at: datetime,
        division: _Division,
        officer: _Person,
        approver: _Person,
        networks: list[_Network],
    ) -> None:
        """Budget handed down: an equal share to each school network of an education project,
        or part of the budget to the division; together never more than the budget."""
        r = self.rng.random
        approvals = self.buffers["approval"]
        recipients: list[tuple[int, Decimal]]
        if networks:
            share = (budget / len(networks)).quantize(CENTS[100], rounding=ROUND_DOWN)
            recipients = [(network.unit.id, share) for network in networks]
        elif r() < 0.6:
            amount = (budget * CENTS[50 + 10 * int(r() * 6)]).quantize(CENTS[100], ROUND_DOWN)
            recipients = [(division.unit.id, amount)]
        else:
            return
        for recipient, amount in recipients:
            allocation_state = "completed" if state == "closed" else _pick(r(), ALLOCATION_LOCKED)
            allocation_id = next(self.ids["allocation"])
            created = locked_at + DAYS[3 + int(r() * 17)]
            submitted = None if allocation_state == "draft" else created + DAYS[1]
            self.buffers["allocation"].append(
                (
                    allocation_id,
                    project_id,
                    recipient,
                    amount,
                    "งบประมาณดำเนินโครงการ",
                    allocation_state,
                    officer.id,
                    created,
                    submitted,
                    1,
                    1 if submitted is None else 2,
                )
            )
            if submitted is None:
                continue
            self.audit(submitted, officer.id, "allocation.submit", "allocation", allocation_id,
                        "draft", "submitted")  # fmt: skip
            if allocation_state in ("returned", "rejected"):
                action = (
                    "allocation.return" if allocation_state == "returned" else "allocation.reject"
                )
                self.audit(submitted + DAYS[2], approver.id, action, "allocation", allocation_id,
                            "submitted", allocation_state, "งบประมาณไม่สอดคล้องกับแผน")  # fmt: skip
                continue
            if allocation_state == "submitted":
                continue
            approved_at = submitted + DAYS[1]
            # Four eyes: the officer who prepared it endorses at most; the approver approves.
            first = officer if amount > APPROVAL_LIMIT else approver
            approvals.append(
                (next(self.ids["approval"]), "allocation", allocation_id, 1, 1, first.id, None,
                 amount, approved_at, None)
            )  # fmt: skip
            if amount > APPROVAL_LIMIT:
                approved_at += DAYS[1]
                approvals.append(
                    (next(self.ids["approval"]), "allocation", allocation_id, 2, 1, approver.id,
                     None, amount, approved_at, None)
                )  # fmt: skip
            self.audit(approved_at, approver.id, "allocation.approve", "allocation",
                        allocation_id, "submitted", "approved")  # fmt: skip
            self.installments(
                allocation_id, allocation_state, amount, approved_at, officer, approver
            )

    def installments(
        self,
        allocation_id: int,
        allocation_state: str,
        amount: Decimal,
        approved_at: datetime,
        officer: _Person,
        approver: _Person,
    ) -> None:
        """Installments in whole hundreds of baht, together never more than the allocation:
        all of it paid once completed, part of it while disbursing, one request after approval."""
        r = self.rng.random
        hundreds = int(amount) // 100
        if allocation_state == "completed":
            count, total = 1 + int(r() * 3), hundreds
        elif allocation_state == "disbursing":
            count, total = 1 + int(r() * 3), hundreds * (5 + int(r() * 6)) // 10
        else:
            count, total = 1, hundreds
        if total < 1:
            return
        count = min(count, total)
        cuts = _distinct(r, total, count - 1)
        requested = approved_at + DAYS[1 + int(r() * 9)]
        for index, (a, b) in enumerate(zip([0, *cuts], [*cuts, total], strict=True)):
            last = index == count - 1
            if allocation_state == "completed" or (allocation_state == "disbursing" and not last):
                state = "paid"
            elif allocation_state == "disbursing":
                state = "rejected" if r() < 0.05 else ("approved" if r() < 0.5 else "requested")
            else:
                state = "approved" if r() < 0.4 else "requested"
            value = Decimal((b - a) * 100)
            installment_id = next(self.ids["installment"])
            paid_on = (requested + DAYS[5 + int(r() * 10)]).date() if state == "paid" else None
            self.buffers["installment"].append(
                (installment_id, allocation_id, value, state, "เงินประจำงวด", officer.id,
                 requested, paid_on, 1, 1 if state == "requested" else 2)
            )  # fmt: skip
            self.audit(requested, officer.id, "installment.request", "installment",
                        installment_id, None, "requested")  # fmt: skip
            if state in ("approved", "paid"):
                approved = requested + DAYS[2]
                self.buffers["approval"].append(
                    (next(self.ids["approval"]), "installment", installment_id, 1, 1, approver.id,
                     None, value, approved, None)
                )  # fmt: skip
                self.audit(approved, approver.id, "installment.approve", "installment",
                            installment_id, "requested", "approved")  # fmt: skip
            elif state == "rejected":
                self.audit(requested + DAYS[2], approver.id, "installment.reject", "installment",
                            installment_id, "requested", "rejected", "เอกสารไม่ครบถ้วน")  # fmt: skip
            if paid_on is not None:
                self.audit(_at(paid_on), officer.id, "installment.pay", "installment",
                            installment_id, "approved", "paid")  # fmt: skip
            requested += DAYS[20 + int(r() * 40)]

    def evaluations(self, project_id: int, year: _Year, agency: _Agency) -> None:
        """One evaluation per quarter that is over: published, except the latest quarter of
        the latest year, which is anywhere between open and published. Now and then a
        published score was reopened and published again (its old score kept)."""
        r = self.rng.random
        evaluator = agency.evaluator
        assert evaluator is not None
        for quarter in range(1, year.done_quarters + 1):
            state = "published"
            if year.latest and quarter == year.done_quarters:
                state = _pick(r(), EVALUATION_CURRENT)
            end = year.quarter_ends[quarter - 1]
            evaluation_id = next(self.ids["evaluation"])
            self_value = None if state == "open" else CENTS[int(r() * 101) * 100]
            score = scored = published = evaluator_id = None
            if state in ("scored", "published"):
                score = CENTS[SCORES[int(r() * len(SCORES))] * 100]
                scored = _at(end + DAYS[5 + int(r() * 15)])
                evaluator_id = evaluator.id
            version = 1
            if scored is not None and state == "published":
                published = scored + DAYS[1 + int(r() * 4)]
                if r() < 0.005:
                    reason = "ทบทวนคะแนนตามหลักฐานเพิ่มเติม"
                    reopened = published + DAYS[3]
                    self.buffers["evaluation_revision"].append(
                        (next(self.ids["evaluation_revision"]), evaluation_id, score, None, None,
                         "", evaluator.id, published, evaluator.id, reopened, reason)
                    )  # fmt: skip
                    self.audit(reopened, evaluator.id, "evaluation.reopen", "evaluation",
                                evaluation_id, "published", "scored", reason)  # fmt: skip
                    published = reopened + DAYS[2]
                    version = 2
                self.audit(published, evaluator.id, "evaluation.publish", "evaluation",
                            evaluation_id, "scored", "published")  # fmt: skip
            self.buffers["evaluation"].append(
                (evaluation_id, "project", project_id, None, year.id, quarter, state, self_value,
                 "", score, None, None, "", evaluator_id, scored, published, version)
            )  # fmt: skip

    # ---- the run

    def run(self) -> None:
        o = self.options
        started = time.perf_counter()
        self.load_existing()
        years = self.build_years()
        agencies = self.build_org()
        leaves = self.build_strategy()
        self.build_kpis(agencies, years)
        self.flush()
        self.progress(
            f"reference data: {len(self.units):,} units, {len(self.users):,} users, "
            f"{len(leaves):,} strategy leaves, KPIs for {len(agencies) * len(years):,} "
            "agency-years"
        )
        r = self.rng.random
        per_year = [o.projects // len(years)] * len(years)
        for index in range(o.projects - sum(per_year)):
            per_year[index] += 1
        done = 0
        for year, count in zip(years, per_year, strict=True):
            for _ in range(count):
                self.project(year, agencies[int(r() * len(agencies))], leaves)
                done += 1
                if done % o.chunk == 0 or done == o.projects:
                    self.flush()
                    self.report(done, started)

    def report(self, done: int, started: float) -> None:
        elapsed = time.perf_counter() - started
        rows = self.rows_generated
        total = self.options.projects
        eta = elapsed / done * (total - done)
        self.progress(
            f"projects {done:>9,}/{total:,} ({100 * done / total:5.1f}%)  rows {rows:>11,}  "
            f"{rows / elapsed:>9,.0f} rows/s  {elapsed:6.1f}s, ~{eta:.0f}s to go"
        )


# --------------------------------------------------------------------------------------------
# Entry point


def truncate_all(conn: Connection) -> None:
    """Empty every table of the application (the demo too); ids start again at 1 on
    PostgreSQL. The audit log's append-only trigger fires per row, so TRUNCATE passes it."""
    tables = [table.name for table in Base.metadata.sorted_tables]
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for name in reversed(tables):
            conn.execute(Base.metadata.tables[name].delete())


def _foreign_key_triggers_off(conn: Connection) -> bool:
    """Turn foreign key triggers off until `_foreign_key_triggers_on` (PostgreSQL, and only
    if this role may: superusers). Returns whether they are off."""
    try:
        with conn.begin_nested():
            conn.execute(text("SET LOCAL session_replication_role = replica"))
    except DBAPIError:
        return False
    return True


def _foreign_key_triggers_on(conn: Connection) -> None:
    conn.execute(text("SET LOCAL session_replication_role = origin"))


def _drop_secondary_indexes(conn: Connection) -> list[str]:
    """Drop the plain (not unique) indexes of the tables the generator fills and return the
    statements that create them again: building an index once over sorted rows costs a
    fraction of updating it row by row through a large load."""
    rows = conn.execute(
        text(
            "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            "WHERE t.relname = ANY(:tables) AND pg_table_is_visible(t.oid) "
            "AND NOT x.indisunique AND NOT x.indisprimary ORDER BY i.relname"
        ),
        {"tables": list(TABLE_COLUMNS)},
    ).all()
    for name, _definition in rows:
        conn.execute(text(f'DROP INDEX "{name}"'))
    return [definition for _name, definition in rows]


_RESULT_AUDIT = """
INSERT INTO audit_entry (id, occurred_at, actor_id, acting_for_id, action, object_type,
                         object_id, from_state, to_state, changes, reason)
SELECT :base + 2 * (e.object_id - :first) + e.step,
       e.occurred_at, e.actor_id, NULL, e.action, 'step_result', e.object_id, e.from_state,
       e.to_state, {empty}, e.reason
FROM (SELECT id AS object_id, 1 AS step, submitted_at AS occurred_at,
             submitted_by_id AS actor_id, 'result.submit' AS action,
             'in_progress' AS from_state, 'submitted' AS to_state, '' AS reason
      FROM step_result WHERE id >= :first AND submitted_at IS NOT NULL
      UNION ALL
      SELECT id, 2, reviewed_at, reviewed_by_id,
             CASE state WHEN 'accepted' THEN 'result.accept' ELSE 'result.return' END,
             'submitted', state, review_reason
      FROM step_result WHERE id >= :first AND reviewed_at IS NOT NULL) AS e
"""
_OUTBOX = """
INSERT INTO outbox_event (id, created_at, kind, object_type, object_id, actor_id, payload,
                          relayed_at)
SELECT :base + a.id - :first + 1,
       a.occurred_at, a.action, a.object_type, a.object_id, a.actor_id, {payload}, {relayed}
FROM audit_entry AS a
WHERE a.id >= :first AND a.action NOT LIKE 'result.%%'
"""
_DIALECT_SQL = {
    "postgresql": {
        "empty": "'{}'::json",
        "payload": "json_build_object('from', a.from_state, 'to', a.to_state)",
        "relayed": "a.occurred_at + interval '2 seconds'",
    },
    "sqlite": {
        "empty": "'{}'",
        "payload": "json_object('from', a.from_state, 'to', a.to_state)",
        "relayed": "datetime(a.occurred_at, '+2 seconds')",
    },
}


def _derive_rows(conn: Connection, first_result: int, first_audit: int) -> tuple[int, int]:
    """Write, set-based in the database, what follows from rows already loaded: the audit
    rows of every result submitted and reviewed, then the (relayed) outbox event of every
    audited change but a result's. Returns how many of each.

    Ids are computed from the ids of the rows they follow (leaving gaps), not numbered by a
    window function: numbering means sorting millions of rows first."""
    sql = _DIALECT_SQL["postgresql" if conn.dialect.name == "postgresql" else "sqlite"]
    base = _max_id(conn, "audit_entry")
    audited = conn.execute(text(_RESULT_AUDIT.format(**sql)), {"first": first_result, "base": base})
    events = conn.execute(
        text(_OUTBOX.format(**sql)), {"first": first_audit, "base": _max_id(conn, "outbox_event")}
    )
    return audited.rowcount, events.rowcount


def _max_id(conn: Connection, table: str) -> int:
    return conn.execute(select(func.max(Base.metadata.tables[table].c.id))).scalar() or 0


def _fix_sequences(conn: Connection) -> None:
    for table, columns in TABLE_COLUMNS.items():
        if columns[0] != "id":
            continue
        conn.execute(
            text(
                "SELECT setval(pg_get_serial_sequence(:table, 'id'), "
                f"(SELECT COALESCE(max(id), 0) + 1 FROM {table}), false) "
                "WHERE pg_get_serial_sequence(:table, 'id') IS NOT NULL"
            ),
            {"table": table},
        )


def generate(
    bind: Connection | Session,
    options: GenerateOptions | None = None,
    progress: Progress | None = None,
) -> GenerateSummary:
    """Generate the data `options` describe in `bind`'s current transaction; never commits.

    Raises GeneratedDataExists when the database already holds generated data and
    `options.mode` is "new". With "truncate", every table is emptied first.
    """
    options = options or GenerateOptions()
    say: Progress = progress or (lambda _line: None)
    conn = bind.connection() if isinstance(bind, Session) else bind
    started = time.perf_counter()
    previous = generated_runs(conn)
    if previous and options.mode == "new":
        last = previous[-1]
        raise GeneratedDataExists(
            f"this database already holds generated data ({len(previous)} run(s), the last "
            f"{last.get('projects')} projects from seed {last.get('seed')}); append more or "
            "truncate first"
        )
    if options.mode == "truncate":
        truncate_all(conn)
        say("emptied every table")
    postgres = conn.dialect.name == "postgresql"
    triggers_off = postgres and _foreign_key_triggers_off(conn)
    if postgres and not triggers_off:
        say("foreign keys stay checked during the load (this role may not turn them off)")
    rebuild: list[str] = []
    if postgres and options.projects >= REBUILD_INDEXES_FROM:
        existing = conn.execute(select(func.count()).select_from(Base.metadata.tables["project"]))
        if existing.scalar_one() < options.projects:
            conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
            rebuild = _drop_secondary_indexes(conn)
    generator = _Generator(conn, options, say)
    try:
        generator.run()
        generator.finish()
    finally:
        generator.abandon()
    derive_started = time.perf_counter()
    audited, events = _derive_rows(
        conn, generator.first_ids["step_result"], generator.first_ids["audit_entry"]
    )
    generator.writer.rows["audit_entry"] += audited
    generator.writer.rows["outbox_event"] += events
    generator.writer.rows["project_participant"] = participants.refill(conn)
    say(
        f"derived {audited:,} audit rows of results, {events:,} outbox events and "
        f"{generator.writer.rows['project_participant']:,} project participants in "
        f"{time.perf_counter() - derive_started:.1f}s"
    )
    marker = options.recorded()
    marker["rows"] = {table: count for table, count in generator.writer.rows.items() if count}
    generator.writer.write(
        "audit_entry",
        [(_max_id(conn, "audit_entry") + 1, datetime.now(UTC), None, None, GENERATOR_ACTION, "database",
          0, None, None, marker, "")],
    )  # fmt: skip
    if rebuild:
        index_started = time.perf_counter()
        for statement in rebuild:
            conn.execute(text(statement))
        say(f"built {len(rebuild)} indexes in {time.perf_counter() - index_started:.1f}s")
    # Rows loaded with COPY pass no listener: the projects' figures are computed once, set-based.
    figures_started = time.perf_counter()
    if postgres:
        conn.execute(text("SET LOCAL work_mem = '128MB'"))
    computed = repair_figures(conn, figures_today())
    generator.writer.rows["project_figures"] = computed.written
    say(
        f"computed {computed.written:,} projects' figures in {time.perf_counter() - figures_started:.1f}s"
    )
    if triggers_off:
        _foreign_key_triggers_on(conn)
    if postgres:
        _fix_sequences(conn)
        if options.analyze:
            analyze_started = time.perf_counter()
            for table in [*TABLE_COLUMNS, "project_participant", "project_figures"]:
                conn.execute(text(f"ANALYZE {table}"))
            say(f"analyzed the tables in {time.perf_counter() - analyze_started:.1f}s")
    rows = {table: count for table, count in generator.writer.rows.items() if count}
    for table, count in rows.items():
        spent = generator.writer.seconds.get(table, 0.0)
        say(f"  {table:<20} {count:>10,} rows  {count / spent if spent else 0:>10,.0f} rows/s")
    return GenerateSummary(rows=rows, seconds=time.perf_counter() - started, options=marker)
