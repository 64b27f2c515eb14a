"""Real warehouses: `meltano run tap-gitlab target-postgres` into a PostgreSQL server, and `… target-duckdb`.

The Meltano project is the one `scripts/warehouse-bootstrap` makes as a new user would (`meltano init`,
`meltano add --from-ref plugins/…`, `meltano install`); the settings come from environment variables, as
the README tells. PostgreSQL is a throwaway cluster (initdb into a temporary folder, a free port on
127.0.0.1, run as an unprivileged user) that the tests start and stop. Three runs per warehouse: a first
full one, an incremental one after the simulator changed (an issue edited, one created, a branch deleted),
and the checks compare each table with what the tap emitted and with what the simulator holds.

Skipped, with the reason, when the installs are missing outside CI; in CI (CI=true) missing installs fail.
"""

from __future__ import annotations

import collections
import glob
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
import typing as t
from pathlib import Path

import pytest

from tap_gitlab.streams import STREAMS
from tests.gitlab_sim import Dataset, GitLabSimulator

ROOT = Path(__file__).resolve().parents[2]
MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"
PROJECT = ROOT / ".warehouse" / "project"
DUCKDB_PYTHON = PROJECT / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin" / "python"
TOKEN = "glpat-warehouse-0123456789abcdef"
SCHEMA = "gitlab"
DEFAULT_STREAMS = sorted(spec.name for spec in STREAMS if not spec.opt_in)
OPT_IN_STREAMS = sorted(spec.name for spec in STREAMS if spec.opt_in)
KEYS = {spec.name: list(spec.keys) for spec in STREAMS}
FULL_TABLE = {spec.name for spec in STREAMS if not spec.replication_key}

pytestmark = [pytest.mark.slow, pytest.mark.warehouse]


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _missing() -> list[str]:
    missing = []
    if not MELTANO.exists():
        missing.append("Meltano (.venv-meltano)")
    if not list(PROJECT.glob(".installed-*")):
        missing.append("the Meltano project .warehouse/project")
    if _pg_bin() is None:
        missing.append("PostgreSQL server programs (initdb)")
    return missing


@pytest.fixture(scope="module")
def installs() -> None:
    missing = _missing()
    if not missing:
        return
    message = f"not installed: {', '.join(missing)}; run scripts/warehouse-bootstrap (scripts/test does)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Postgres:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (trust authentication, no fsync)."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="tap-gitlab-pg-"))
        self.port = _free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            user = "postgres" if _user_exists("postgres") else "nobody"
            entry = pwd.getpwnam(user)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
            self.prefix = ["runuser", "-u", user, "--"]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        data = self.dir / "data"
        subprocess.run(
            [
                *self.prefix,
                str(self.bin / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
        log = open(self.dir / "server.log", "wb")  # noqa: SIM115 - the server writes to it until stop()
        self.process = subprocess.Popen(
            [
                *self.prefix,
                str(self.bin / "postgres"),
                "-D",
                str(data),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-k",
                str(self.dir),
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited: {(self.dir / 'server.log').read_text()[-2000:]}")
            ready = subprocess.run(
                [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)], capture_output=True
            )
            if ready.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError("postgres did not become ready in 60 s")

    def query(self, sql: str) -> list[list[str]]:
        proc = subprocess.run(
            [
                str(self.bin / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-X",
                "-A",
                "-t",
                "-F",
                "\t",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return [line.split("\t") for line in proc.stdout.splitlines() if line]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _duckdb_query(path: Path, sql: str) -> list[list[t.Any]]:
    """Rows of `sql` on the DuckDB file, through the duckdb module target-duckdb was installed with."""
    script = (
        "import duckdb, json, sys\n"
        "con = duckdb.connect(sys.argv[1], read_only=True)\n"
        "print(json.dumps([list(r) for r in con.execute(sys.argv[2]).fetchall()], default=str))\n"
    )
    proc = subprocess.run(
        [str(DUCKDB_PYTHON), "-c", script, str(path), sql], capture_output=True, text=True, check=True
    )
    return t.cast(list[list[t.Any]], json.loads(proc.stdout))


def _project_copy(tmp: Path) -> Path:
    """A project of its own, reusing the installed plugins: Meltano keeps the discovered catalog in
    .meltano/run/tap-gitlab/, which two runs side by side in one project would overwrite for each other."""
    root = tmp / "project"
    (root / ".meltano").mkdir(parents=True)
    shutil.copy(PROJECT / "meltano.yml", root / "meltano.yml")
    for kind in ("extractors", "loaders"):
        (root / ".meltano" / kind).symlink_to(PROJECT / ".meltano" / kind)
    return root


def _meltano_run(loader: str, env: dict[str, str], log: Path) -> tuple[str, float]:
    """`meltano run tap-gitlab <loader>` in a copy of the project beside `log`; the log, and the seconds it took."""
    project = log.parent / "project"
    if not project.exists():
        _project_copy(log.parent)
    started = time.monotonic()
    proc = subprocess.run(
        [str(MELTANO), "run", "tap-gitlab", loader],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    elapsed = time.monotonic() - started
    text = proc.stdout + proc.stderr
    log.write_text(text)
    assert proc.returncode == 0, f"meltano run failed ({log}):\n{text[-4000:]}"
    assert TOKEN not in text, "the token appeared in Meltano's log"
    return text, elapsed


def _tap_counts(log: str) -> dict[str, int]:
    """The tap's own end-of-run summary: records emitted per stream."""
    counts = {}
    for match in re.finditer(r"Summary: (\w+)\s+(\d+) records", log):
        counts[match.group(1)] = int(match.group(2))
    assert counts, "no tap summary in Meltano's log"
    return counts


def _base_env(tmp: Path, sim: GitLabSimulator, dataset: Dataset) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TAP_GITLAB_", "TARGET_", "MELTANO_", "VIRTUAL_ENV", "PYTHON"))
    }
    env.update(
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        MELTANO_CLI_DISABLE_VERSION_CHECK="true",
        # Each warehouse has a system database of its own: its own run history and state.
        MELTANO_DATABASE_URI=f"sqlite:///{tmp / 'meltano.db'}",
        TAP_GITLAB_API_URL=sim.base_url,
        TAP_GITLAB_PRIVATE_TOKEN=TOKEN,
        # The forms the README gives for environment variables: a space-separated list, a decimal number.
        TAP_GITLAB_GROUPS=" ".join(dataset.top_group_paths()),
        TAP_GITLAB_MAX_CONCURRENCY="4",
        TAP_GITLAB_REQUESTS_PER_MINUTE="100000",
        TAP_GITLAB_REQUEST_TIMEOUT="30.5",
    )
    return env


class Phases(t.NamedTuple):
    """What each run emitted and what each table held after it."""

    tap_counts: list[dict[str, int]]
    tables: list[dict[str, list[dict[str, t.Any]]]]  # per run: table -> rows (the key columns and a few more)
    columns: dict[str, dict[str, str]]  # after the first run: table -> column -> type
    primary_keys: dict[str, list[str]]
    expected: list[dict[str, list[dict[str, t.Any]]]]  # per run: stream -> the simulator's records
    changed: dict[str, t.Any]
    seconds: list[float]


def _change(dataset: Dataset) -> dict[str, t.Any]:
    """Between the runs: one issue edited, one created, one branch deleted (a full-table stream)."""
    dataset.advance_clock(3600)
    issue = dataset.expected("issues")[0]
    edited = dataset.update_issue(issue["project_id"], issue["iid"], title="Edited between two runs")
    created = dataset.create_issue(issue["project_id"], title="Created between two runs")
    branch = next(b for b in dataset.expected("branches") if not b.get("default"))
    dataset.delete_branch(branch["project_id"], branch["name"])
    return {"edited": edited["id"], "created": created["id"], "branch": (branch["project_id"], branch["name"])}


def _snapshot_expected(dataset: Dataset) -> dict[str, list[dict[str, t.Any]]]:
    return {name: dataset.expected(name) for name in DEFAULT_STREAMS}


def _run_phases(
    tmp: Path,
    loader: str,
    env: dict[str, str],
    read_tables: t.Callable[[], dict[str, list[dict[str, t.Any]]]],
    dataset: Dataset,
) -> tuple[t.Any, ...]:
    """The first run, the changes, the incremental run: what the tap emitted and the tables after each."""
    counts, tables, seconds, expected = [], [], [], []
    changed: dict[str, t.Any] = {}
    for index in range(2):
        if index == 1:
            changed = _change(dataset)
        expected.append(_snapshot_expected(dataset))
        log, elapsed = _meltano_run(loader, env, tmp / f"run{index}.log")
        counts.append(_tap_counts(log))
        tables.append(read_tables())
        seconds.append(elapsed)
    return counts, tables, seconds, expected, changed


@pytest.fixture(scope="module")
def simulator():
    dataset = Dataset.generate(size="small", seed=5)
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        yield sim, dataset


def _pg_tables(pg: Postgres) -> dict[str, list[dict[str, t.Any]]]:
    tables = {}
    for (name,) in pg.query(f"select table_name from information_schema.tables where table_schema = '{SCHEMA}'"):
        keys = KEYS.get(name, ["id"])
        extra = ["title"] if name == "issues" else []
        columns = ", ".join(f'"{c}"::text' for c in [*keys, *extra])
        rows = pg.query(f'select {columns} from "{SCHEMA}"."{name}"')
        tables[name] = [dict(zip([*keys, *extra], row, strict=True)) for row in rows]
    return tables


@pytest.fixture(scope="module")
def postgres_phases(installs, simulator, tmp_path_factory) -> Phases:
    sim, dataset = simulator
    bin_dir = _pg_bin()
    assert bin_dir is not None
    pg = Postgres(bin_dir)
    pg.start()
    try:
        tmp = tmp_path_factory.mktemp("postgres")
        env = _base_env(tmp, sim, dataset)
        env.update(
            TARGET_POSTGRES_HOST="127.0.0.1",
            TARGET_POSTGRES_PORT=str(pg.port),
            TARGET_POSTGRES_USER="postgres",
            TARGET_POSTGRES_PASSWORD="unused-trust-auth",
            TARGET_POSTGRES_DATABASE="postgres",
            TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA=SCHEMA,
            # What ACTIVATE_VERSION retires is deleted, not only marked.
            TARGET_POSTGRES_HARD_DELETE="true",
        )
        counts, tables, seconds, expected, changed = _run_phases(
            tmp, "target-postgres", env, lambda: _pg_tables(pg), dataset
        )
        columns: dict[str, dict[str, str]] = collections.defaultdict(dict)
        for table, column, kind in pg.query(
            f"select table_name, column_name, data_type from information_schema.columns where table_schema = '{SCHEMA}'"
        ):
            columns[table][column] = kind
        primary_keys: dict[str, list[str]] = collections.defaultdict(list)
        for table, column in pg.query(
            "select tc.table_name, kcu.column_name from information_schema.table_constraints tc "
            "join information_schema.key_column_usage kcu on kcu.constraint_name = tc.constraint_name "
            f"and kcu.table_schema = tc.table_schema where tc.table_schema = '{SCHEMA}' "
            "and tc.constraint_type = 'PRIMARY KEY' order by tc.table_name, kcu.ordinal_position"
        ):
            primary_keys[table].append(column)
        return Phases(counts, tables, dict(columns), dict(primary_keys), expected, changed, seconds)
    finally:
        pg.stop()


def _duck_tables(path: Path) -> dict[str, list[dict[str, t.Any]]]:
    tables = {}
    names = _duckdb_query(path, f"select table_name from information_schema.tables where table_schema = '{SCHEMA}'")
    for (name,) in names:
        keys = KEYS.get(name, ["id"])
        extra = ["title"] if name == "issues" else []
        columns = ", ".join(f'cast("{c}" as varchar)' for c in [*keys, *extra])
        rows = _duckdb_query(path, f'select {columns} from "{SCHEMA}"."{name}"')
        tables[name] = [dict(zip([*keys, *extra], row, strict=True)) for row in rows]
    return tables


@pytest.fixture(scope="module")
def duckdb_phases(installs, tmp_path_factory) -> Phases:
    # A simulator of its own: the Postgres runs changed theirs.
    dataset = Dataset.generate(size="small", seed=5)
    with GitLabSimulator(dataset, token=TOKEN) as sim:
        tmp = tmp_path_factory.mktemp("duckdb")
        path = tmp / "warehouse.duckdb"
        env = _base_env(tmp, sim, dataset)
        env.update(TARGET_DUCKDB_FILEPATH=str(path), TARGET_DUCKDB_DEFAULT_TARGET_SCHEMA=SCHEMA)
        counts, tables, seconds, expected, changed = _run_phases(
            tmp, "target-duckdb", env, lambda: _duck_tables(path), dataset
        )
        columns: dict[str, dict[str, str]] = collections.defaultdict(dict)
        for table, column, kind in _duckdb_query(
            path,
            "select table_name, column_name, data_type from information_schema.columns "
            f"where table_schema = '{SCHEMA}'",
        ):
            columns[table][column] = kind
        primary_keys: dict[str, list[str]] = collections.defaultdict(list)
        for table, constraint_columns in _duckdb_query(
            path,
            "select table_name, constraint_column_names from duckdb_constraints() "
            f"where schema_name = '{SCHEMA}' and constraint_type = 'PRIMARY KEY'",
        ):
            primary_keys[table] = list(constraint_columns)
        return Phases(counts, tables, dict(columns), dict(primary_keys), expected, changed, seconds)


# Each warehouse's tests stay on one xdist worker (scripts/test runs --dist loadgroup), the two side by side.
@pytest.fixture(
    scope="module",
    params=[
        pytest.param("postgres", marks=pytest.mark.xdist_group("warehouse-postgres")),
        pytest.param("duckdb", marks=pytest.mark.xdist_group("warehouse-duckdb")),
    ],
)
def phases(request) -> Phases:
    return t.cast(Phases, request.getfixturevalue(f"{request.param}_phases"))


def _key(row: dict[str, t.Any], keys: list[str]) -> tuple[str, ...]:
    return tuple(str(row[k]) for k in keys)


def _expected_keys(records: list[dict[str, t.Any]], keys: list[str]) -> list[tuple[str, ...]]:
    return sorted(tuple(str(r.get(k)) for k in keys) for r in records)


def test_every_default_stream_loads_one_row_per_tap_record_and_opt_in_streams_make_no_table(phases):
    counts, tables = phases.tap_counts[0], phases.tables[0]
    assert sorted(tables) == DEFAULT_STREAMS, "tables differ from the default streams"
    for name in OPT_IN_STREAMS:
        assert name not in tables, f"{name}: its setting is off, yet it has a table"
    for name in DEFAULT_STREAMS:
        rows = tables[name]
        assert len(rows) == counts.get(name, 0), f"{name}: {len(rows)} rows for {counts.get(name, 0)} tap records"
        assert sorted(_key(r, KEYS[name]) for r in rows) == _expected_keys(phases.expected[0][name], KEYS[name]), (
            f"{name}: the rows' keys are not the simulator's records"
        )
    assert sum(len(rows) for rows in tables.values()) > 1000, "too little data for the test to mean anything"


def test_tables_have_the_streams_primary_keys(phases):
    for name in DEFAULT_STREAMS:
        # The set of key columns: target-postgres orders a composite key by column name.
        found = sorted(phases.primary_keys.get(name, []))
        assert found == sorted(KEYS[name]), f"{name}: primary key {found}"


def test_ids_are_bigint_timestamps_are_timestamps_and_objects_are_json(phases):
    issues = phases.columns["issues"]
    assert issues["id"].upper() == "BIGINT"
    assert issues["project_id"].upper() == "BIGINT"
    assert issues["updated_at"].upper().startswith("TIMESTAMP"), issues["updated_at"]
    assert issues["created_at"].upper().startswith("TIMESTAMP"), issues["created_at"]
    assert issues["author"].upper() in {"JSONB", "JSON"}, issues["author"]
    assert phases.columns["jobs"]["pipeline"].upper() in {"JSONB", "JSON"}
    assert phases.columns["projects"]["id"].upper() == "BIGINT"
    assert phases.columns["commits"]["committed_date"].upper().startswith("TIMESTAMP")


def test_an_incremental_run_after_changes_upserts_without_duplicates(phases):
    counts, tables, expected = phases.tap_counts[1], phases.tables[1], phases.expected[1]
    assert 0 < counts.get("issues", 0) < len(expected["issues"]), "the second run was not incremental"
    for name in DEFAULT_STREAMS:
        if name not in FULL_TABLE:
            keys = {_key(r, KEYS[name]) for r in tables[name]}
            assert keys == set(_expected_keys(expected[name], KEYS[name])), f"{name}: rows differ from GitLab's"
        keys = KEYS[name]
        found = collections.Counter(_key(r, keys) for r in tables[name])
        duplicates = [key for key, n in found.items() if n > 1]
        assert not duplicates, f"{name}: duplicate rows {duplicates[:3]}"
    issues = {row["id"]: row for row in tables["issues"]}
    assert issues[str(phases.changed["edited"])]["title"] == "Edited between two runs"
    assert issues[str(phases.changed["created"])]["title"] == "Created between two runs"
    assert sorted(issues) == sorted(str(r["id"]) for r in expected["issues"])


def test_a_branch_deleted_in_gitlab_disappears_from_postgres(postgres_phases):
    """Full-table streams end with ACTIVATE_VERSION; target-postgres (hard_delete) drops the older versions' rows."""
    phases = postgres_phases
    project_id, name = phases.changed["branch"]
    before = {_key(r, KEYS["branches"]) for r in phases.tables[0]["branches"]}
    after = {_key(r, KEYS["branches"]) for r in phases.tables[1]["branches"]}
    assert (str(project_id), name) in before
    assert (str(project_id), name) not in after, "the deleted branch is still in the warehouse"
    assert after == set(_expected_keys(phases.expected[1]["branches"], KEYS["branches"]))


def test_target_duckdb_keeps_a_deleted_branch_as_the_readme_says(duckdb_phases):
    """target-duckdb 0.8.0 ignores ACTIVATE_VERSION (README: Use it in your own Meltano project): the row stays."""
    phases = duckdb_phases
    project_id, name = phases.changed["branch"]
    after = {_key(r, KEYS["branches"]) for r in phases.tables[1]["branches"]}
    assert (str(project_id), name) in after
    assert after - {(str(project_id), name)} == set(_expected_keys(phases.expected[1]["branches"], KEYS["branches"]))
