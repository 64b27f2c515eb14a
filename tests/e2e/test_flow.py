"""The Flow capture adapter: protocol, spec, discovery, validation, state mapping, and captures end to end.

End-to-end tests drive `python -m tap_gitlab.flow` like Flow's runtime (tests/support/flow_harness.py) against the
GitLab simulator.
"""

from __future__ import annotations

import collections
import io
import json
import random
import sys
import typing as t

import jsonschema
import pytest

from tap_gitlab.flow import capture, discovery, protocol, spec
from tap_gitlab.flow.__main__ import serve
from tap_gitlab.flow.protocol import Log, Output
from tap_gitlab.settings import SETTINGS_SCHEMA, normalize
from tap_gitlab.streams import STREAMS
from tests.support.flow_harness import check_response, check_session, merge_patch, reduce_state, run_connector

TOKEN = "glpat-flow-secret-token-0123"
# One worker runs the whole module: test_no_run_ever_printed_the_token reads the runs the others made (`RUNS`).
pytestmark = pytest.mark.xdist_group("flow")
CREDS = {"credentials": {"auth_type": "access_token", "access_token": TOKEN}}


def serve_lines(*requests: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """Run the adapter's request loop in-process (unary requests only)."""
    stdin = io.BytesIO(b"".join(json.dumps(r).encode() + b"\n" for r in requests))
    stdout = io.BytesIO()
    assert serve(stdin, Output(stdout)) == 0
    responses = [json.loads(line) for line in stdout.getvalue().splitlines()]
    for response in responses:
        check_response(response)
    return responses


# -- spec -----------------------------------------------------------------------------------------------------


def test_spec_has_protocol_schemas_pointers_docs_and_oauth():
    (response,) = serve_lines({"spec": {"connectorType": "IMAGE", "config": {}}})
    body = response["spec"]
    assert body["protocol"] == 3032023
    assert body["resourcePathPointers"] == ["/stream"]
    assert body["documentationUrl"].startswith("https://")
    assert body["oauth2"]["provider"] == "gitlab"
    assert "{{{ client_id }}}" in body["oauth2"]["authUrlTemplate"]
    assert "scope=read_api" in body["oauth2"]["authUrlTemplate"]
    jsonschema.Draft7Validator.check_schema(body["configSchema"])
    jsonschema.Draft7Validator.check_schema(body["resourceConfigSchema"])


def test_config_schema_credentials_are_a_oneof_on_auth_type_with_secrets_marked():
    schema = spec.config_schema()
    creds = schema["properties"]["credentials"]
    assert schema["required"] == ["credentials"]
    assert creds["discriminator"] == {"propertyName": "auth_type"}
    by_title = {branch["title"]: branch for branch in creds["oneOf"]}
    token, oauth, pat = by_title["Access Token"], by_title["OAuth2.0"], by_title["PAT Credentials"]
    assert token["properties"]["auth_type"]["const"] == "access_token"
    assert token["properties"]["access_token"]["secret"] is True
    assert oauth["x-oauth2-provider"] == spec.spec_response()["oauth2"]["provider"]
    assert oauth["properties"]["auth_type"]["const"] == "oauth2.0"
    for name in ("client_id", "client_secret", "access_token", "refresh_token"):
        assert oauth["properties"][name]["secret"] is True
        assert name in oauth["required"]
    assert pat["properties"]["personal_access_token"]["secret"] is True


@pytest.mark.parametrize(
    "credentials",
    [
        {"auth_type": "access_token", "access_token": TOKEN},
        {"option_title": "PAT Credentials", "personal_access_token": TOKEN},  # Estuary's GitLab docs
        {
            "auth_type": "oauth2.0",
            "client_id": "cid",
            "client_secret": "csecret",
            "access_token": "at",
            "refresh_token": "rt",
            "token_expiry_date": "2030-01-01T00:00:00Z",
        },
    ],
)
def test_config_schema_admits_each_credential_shape_and_the_tap_accepts_it(credentials):
    config = {"credentials": credentials, "groups": "estuary.dev", "start_date": "2022-01-01T00:00:00Z"}
    jsonschema.Draft7Validator(spec.config_schema()).validate(config)
    settings = normalize(spec.tap_config(config))
    assert (settings.token or settings.oauth) is not None
    assert settings.groups == ("estuary.dev",)


def test_config_schema_rejects_missing_or_ambiguous_credentials():
    validator = jsonschema.Draft7Validator(spec.config_schema())
    assert not validator.is_valid({"groups": "g"})
    assert not validator.is_valid({"credentials": {"auth_type": "access_token"}})


def test_config_schema_offers_every_tap_setting_in_order_with_titles():
    properties = spec.config_schema()["properties"]
    for name in SETTINGS_SCHEMA["properties"]:
        assert name in properties or name in spec.NOT_IN_FORM, name
    assert list(properties)[:5] == ["credentials", "api_url", "groups", "projects", "start_date"]
    assert [p["order"] for p in properties.values()] == list(range(len(properties)))
    for name, prop in properties.items():
        assert prop.get("title"), name
        assert "null" not in json.dumps(prop.get("type")), name


def test_resource_config_schema_admits_the_runtimes_meta():
    validator = jsonschema.Draft7Validator(spec.RESOURCE_CONFIG_SCHEMA)
    validator.validate({"stream": "issues", "syncMode": "incremental", "_meta": {"path": ["x"]}})
    assert not validator.is_valid({"stream": "issues", "syncMode": "sometimes"})
    assert not validator.is_valid({"syncMode": "incremental"})


def test_tap_config_maps_estuary_shapes_and_bare_hosts():
    config = spec.tap_config(
        {
            "credentials": {"option_title": "PAT Credentials", "personal_access_token": TOKEN},
            "api_url": "gitlab.example.com",
            "groups": "a b",
            "projects": None,
            "future_setting": 1,
        }
    )
    assert config == {
        "credentials": {"auth_type": "access_token", "access_token": TOKEN},
        "api_url": "https://gitlab.example.com",
        "groups": "a b",
    }


# -- the request loop -----------------------------------------------------------------------------------------


def test_leading_internal_spec_then_apply_with_unknown_fields():
    responses = serve_lines(
        {"spec": {"connectorType": "IMAGE", "config": {}}},
        {"apply": {"capture": {"name": "acme/gitlab", "bindings": []}, "version": "v1", "lastVersion": "v0"}},
    )
    assert [next(iter(r)) for r in responses] == ["spec", "applied"]
    assert responses[1] == {"applied": {"actionDescription": ""}}


def test_unknown_request_and_bad_json_are_one_line_errors():
    with pytest.raises(protocol.ProtocolError, match="unsupported request with fields frobnicate"):
        serve_lines({"frobnicate": {}})
    with pytest.raises(protocol.ProtocolError, match="not JSON"):
        serve(io.BytesIO(b"{nope\n"), Output(io.BytesIO()))


def test_connector_process_answers_spec_and_apply_then_exits_at_eof():
    run = run_connector({"apply": {"capture": {"name": "x", "bindings": []}, "version": "1", "newField": True}})
    assert run.returncode == 0, run.stderr
    assert run.responses == [{"applied": {"actionDescription": ""}}]


def test_connector_process_fails_with_one_readable_line_on_a_bad_config():
    run = run_connector({"discover": {"connectorType": "IMAGE", "config": {"groups": "g"}}})
    assert run.returncode == 1
    assert run.responses == []
    assert run.logs[-1]["level"] == "error"
    assert "no access token" in run.error


# -- state mapping --------------------------------------------------------------------------------------------


def _random_json(rng: random.Random, depth: int = 0) -> t.Any:
    kind = rng.randrange(5 if depth < 3 else 3)
    if kind == 0:
        return rng.randrange(4)
    if kind == 1:
        return rng.choice(["a", "b", "2024-01-01T00:00:00.000Z"])
    if kind == 2:
        return [rng.randrange(3) for _ in range(rng.randrange(3))]
    return {rng.choice("abcde"): _random_json(rng, depth + 1) for _ in range(rng.randrange(4))}


def test_merge_patch_between_turns_old_into_new():
    rng = random.Random(5)
    for _ in range(2000):
        old, new = _random_json(rng), _random_json(rng)
        if not isinstance(old, dict) or not isinstance(new, dict):
            continue
        patch = capture.merge_patch_between(old, new)
        result = old if patch is capture._UNCHANGED else merge_patch(old, patch)
        assert result == new, (old, new, patch)
        assert capture.apply_merge_patch(old, patch if patch is not capture._UNCHANGED else {}) == new


def test_partitions_are_stored_by_context_and_come_back_as_singer_state():
    singer = {
        "partitions": [
            {"context": {"project_id": 2}, "replication_key": "updated_at", "replication_key_value": "b"},
            {"context": {"project_id": 1}, "replication_key": "updated_at", "replication_key_value": "a"},
        ]
    }
    stored = capture.stored_from_singer(singer)
    assert set(stored["bookmark"]["partitions"]) == {'{"project_id":2}', '{"project_id":1}'}
    assert capture.singer_from_stored(stored) == singer
    assert capture.singer_from_stored(None) is None


# -- the session, with a stand-in tap -------------------------------------------------------------------------

FAKE_TAP = r"""
import json, sys
def say(m): print(json.dumps(m), flush=True)
say({"type": "SCHEMA", "stream": "issues", "schema": {}, "key_properties": ["id"]})
for i in range(3):
    say({"type": "RECORD", "stream": "issues", "record": {"id": i, "title": "t\u00e9"}})
say({"type": "RECORD", "stream": "not_bound", "record": {"id": 9}})
say({"type": "STATE", "value": {"bookmarks": {"issues": {"partitions": [
    {"context": {"project_id": 1}, "progress_markers": {"replication_key_value": "x"}}]}}}})
say({"type": "RECORD", "stream": "branches", "record": {"project_id": 1, "name": "main"}})
say({"type": "STATE", "value": {"bookmarks": {"issues": {"partitions": [
    {"context": {"project_id": 1}, "replication_key": "updated_at", "replication_key_value": "x"}]}}}})
say({"type": "RECORD", "stream": "issues", "record": {"id": 3}})
print("2024-01-31 12:00:00,123 | WARNING  | tap-gitlab                     | careful " + sys.argv[1], file=sys.stderr)
if sys.argv[2] == "fail":
    print("tap-gitlab: error: GitLab rejected the token (401 on GET /user)", file=sys.stderr)
    sys.exit(1)
"""


def _session(prior: dict[str, t.Any]) -> tuple[capture.Session, io.BytesIO]:
    stdout = io.BytesIO()
    streams = {
        "issues": discovery.StreamInfo("issues", {}, ("id",), True, True, None),
        "branches": discovery.StreamInfo("branches", {}, ("project_id", "name"), False, True, None),
    }
    bound = discovery.check_bindings(
        streams,
        [
            {"resourceConfig": {"stream": "issues", "syncMode": "incremental"}},
            {"resourceConfig": {"stream": "branches", "syncMode": "full_refresh"}},
        ],
    )
    return capture.Session(Output(stdout), bound, ["issues.v2", "branches"], prior), stdout


def _fake_tap_run(monkeypatch, outcome: str, prior: dict[str, t.Any]):
    err = io.StringIO()
    log = Log(err)
    log.add_secrets([TOKEN])
    monkeypatch.setattr(capture, "LOG", log)
    session, stdout = _session(prior)
    code = capture._run_tap(session, [sys.executable, "-c", FAKE_TAP, TOKEN, outcome])
    responses = [json.loads(line) for line in stdout.getvalue().splitlines()]
    for response in responses:
        check_response(response)
    logs = [json.loads(line) for line in err.getvalue().splitlines()]
    return code, responses, logs


def test_records_become_captured_and_states_checkpoints_per_state_key(monkeypatch):
    prior = {"branches": {"bookmark": {"old": 1}}}
    code, responses, logs = _fake_tap_run(monkeypatch, "ok", prior)
    assert code == 0
    kinds = [next(iter(r)) for r in responses]
    assert kinds == ["captured"] * 3 + ["checkpoint", "captured", "checkpoint", "captured", "checkpoint"]
    assert responses[0] == {"captured": {"binding": 0, "doc": {"id": 0, "title": "t\u00e9"}}}
    assert responses[4] == {"captured": {"binding": 1, "doc": {"project_id": 1, "name": "main"}}}
    first = responses[3]["checkpoint"]["state"]
    assert first["mergePatch"] is True
    # A stateKey the runtime has never seen gets its whole state; one it holds gets only what changed.
    key = '{"project_id":1}'
    partition = {"context": {"project_id": 1}, "progress_markers": {"replication_key_value": "x"}}
    assert first["updated"] == {"bindingStateV1": {"issues.v2": {"bookmark": {"partitions": {key: partition}}}}}
    second = responses[5]["checkpoint"]["state"]["updated"]["bindingStateV1"]["issues.v2"]
    assert second["bookmark"]["partitions"][key]["progress_markers"] is None  # removed keys are deleted
    assert responses[7] == {"checkpoint": {"state": {"updated": {"bindingStateV1": {}}, "mergePatch": True}}}
    reduced = {"bindingStateV1": prior}
    for response in responses:
        if "checkpoint" in response:
            reduced = merge_patch(reduced, response["checkpoint"]["state"]["updated"])
    assert capture.singer_from_stored(reduced["bindingStateV1"]["issues.v2"]) == {
        "partitions": [{"context": {"project_id": 1}, "replication_key": "updated_at", "replication_key_value": "x"}]
    }
    # A full-refresh binding's state also keeps the keys of the documents it committed (for deletions).
    assert reduced["bindingStateV1"]["branches"] == {"bookmark": {"old": 1}, "keys": {'[1,"main"]': 1}}
    assert any(entry["level"] == "warn" and "not_bound" in entry["msg"] for entry in logs)
    warning = next(entry for entry in logs if entry["msg"].startswith("careful"))
    assert warning["level"] == "warn" and TOKEN not in json.dumps(logs) and "***" in warning["msg"]


def test_failed_tap_ends_with_its_error_line_last(monkeypatch):
    code, responses, logs = _fake_tap_run(monkeypatch, "fail", {})
    assert code == 1
    assert logs[-1] == {
        **logs[-1],
        "level": "error",
        "msg": "tap-gitlab: error: GitLab rejected the token (401 on GET /user)",
    }
    assert [next(iter(r)) for r in responses][-1] == "captured"  # uncommitted; the runtime drops it on failure


def test_check_bindings_rejects_unknown_streams_wrong_modes_and_duplicates():
    streams = {
        "issues": discovery.StreamInfo("issues", {}, ("id",), True, True, None),
        "branches": discovery.StreamInfo("branches", {}, ("project_id", "name"), False, True, None),
    }
    with pytest.raises(discovery.BindingError) as info:
        discovery.check_bindings(
            streams,
            [
                {"resourceConfig": {"stream": "issues", "syncMode": "incremental"}},
                {"resourceConfig": {"stream": "nope", "syncMode": "full_refresh"}},
                {"resourceConfig": {"stream": "branches", "syncMode": "incremental"}},
                {"resourceConfig": {"stream": "issues", "syncMode": "full_refresh"}},
            ],
        )
    message = str(info.value)
    assert "\n" not in message
    assert "binding 1: unknown stream 'nope'" in message
    assert "binding 2 (branches): the stream has no replication key; use full_refresh" in message
    assert "binding 3 (issues): the stream is already bound by binding 0" in message


def test_document_schema_makes_keys_required_and_non_null_and_drops_unknown_formats():
    schema = {
        "type": ["object", "null"],
        "properties": {
            "project_id": {"type": ["integer", "null"]},
            "name": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "size": {"type": ["string", "null"], "format": "singer.decimal"},
            "at": {"type": ["string", "null"], "format": "date-time"},
        },
    }
    doc = discovery.document_schema(schema, ["project_id", "name"])
    assert doc["type"] == "object"
    assert doc["required"] == ["project_id", "name"]
    assert doc["properties"]["project_id"]["type"] == "integer"
    assert doc["properties"]["name"]["anyOf"] == [{"type": "string"}]
    assert "format" not in doc["properties"]["size"] and doc["properties"]["at"]["format"] == "date-time"
    assert discovery.pointer("a/b~c") == "/a~1b~0c"
    assert schema["type"] == ["object", "null"]  # the tap's schema is left alone


# -- end to end, against the simulator ------------------------------------------------------------------------

# A few streams of each kind: sorted incremental, unsorted incremental (commits), fan-out children (jobs),
# full refresh at project and group level.
E2E_STREAMS = ["issues", "commits", "merge_requests", "pipelines", "jobs", "branches", "group_members", "projects"]
RUNS: list[t.Any] = []  # every connector run against the simulator, for the token check


def _flow(request: dict[str, t.Any], **kwargs: t.Any):
    run = run_connector(request, **kwargs)
    RUNS.append(run)
    assert TOKEN not in run.stdout and TOKEN not in run.stderr
    return run


@pytest.fixture(scope="module")
def dataset():
    from tests.gitlab_sim import Dataset

    return Dataset.generate(size="tiny", seed=1)


@pytest.fixture(scope="module")
def sim(dataset):
    from tests.gitlab_sim import GitLabSimulator

    with GitLabSimulator(dataset, token=TOKEN) as server:
        yield server


def _top_groups(ds) -> list[str]:
    return ds.top_group_paths()


def _endpoint(sim, ds, **extra: t.Any) -> dict[str, t.Any]:
    config = {**CREDS, "api_url": sim.base_url, "groups": " ".join(_top_groups(ds)), "max_concurrency": 4}
    return {**config, **extra}


def _binding(stream: str, mode: str, state_key: str | None = None, backfill: int = 0) -> dict[str, t.Any]:
    binding: dict[str, t.Any] = {
        "resourceConfig": {"stream": stream, "syncMode": mode, "_meta": {"path": [stream]}},
        "resourcePath": [stream],
        "stateKey": state_key or stream,
        "collection": {"name": f"acmeCo/gitlab/{stream}", "key": ["/id"], "writeSchema": {"type": "object"}},
    }
    if backfill:
        binding["backfill"] = backfill
    return binding


def _open(config: dict[str, t.Any], bindings: list[dict[str, t.Any]], state: dict[str, t.Any]) -> dict[str, t.Any]:
    return {
        "open": {
            "capture": {"name": "acmeCo/gitlab", "connectorType": "IMAGE", "config": config, "bindings": bindings},
            "version": "v1",
            "range": {"keyEnd": 4294967295, "rClockEnd": 4294967295},
            "state": state,
        }
    }


@pytest.fixture(scope="module")
def discovered(sim, dataset) -> dict[str, dict[str, t.Any]]:
    run = _flow({"discover": {"connectorType": "IMAGE", "config": _endpoint(sim, dataset), "name": "acmeCo/x"}})
    assert run.returncode == 0, run.stderr
    (body,) = run.of("discovered")
    return {b["resourceConfig"]["stream"]: b for b in body["bindings"]}


def test_discover_gives_one_binding_per_stream_keyed_by_its_primary_keys(discovered):
    assert list(discovered) == [stream.name for stream in STREAMS]
    for stream in STREAMS:
        binding = discovered[stream.name]
        assert binding["recommendedName"] == stream.name
        assert binding["key"] == ["/" + k for k in stream.keys]
        assert binding["resourceConfig"]["syncMode"] == ("incremental" if stream.replication_key else "full_refresh")
        schema = binding["documentSchema"]
        jsonschema.Draft7Validator.check_schema(schema)
        assert schema["type"] == "object"
        for key in stream.keys:
            assert key in schema["required"]
            assert "null" not in json.dumps(schema["properties"][key]), (stream.name, key)
        assert binding.get("disable", False) == (stream.opt_in is not None)


def test_validate_checks_access_and_answers_resource_paths_in_request_order(sim, dataset):
    bindings = [
        _binding("issues", "incremental"),
        _binding("branches", "full_refresh"),
        _binding("jobs", "full_refresh"),
    ]
    run = _flow(
        {
            "validate": {
                "name": "acmeCo/gitlab",
                "connectorType": "IMAGE",
                "config": _endpoint(sim, dataset),
                "bindings": bindings,
                "lastCapture": None,
                "newField": {},
            }
        }
    )
    assert run.returncode == 0, run.stderr
    assert run.responses == [
        {
            "validated": {
                "bindings": [{"resourcePath": ["issues"]}, {"resourcePath": ["branches"]}, {"resourcePath": ["jobs"]}]
            }
        }
    ]


def test_validate_with_a_bad_token_fails_with_a_readable_line(sim, dataset):
    config = {**_endpoint(sim, dataset), "credentials": {"auth_type": "access_token", "access_token": "glpat-wrong-1"}}
    run = _flow(
        {
            "validate": {
                "name": "x",
                "connectorType": "IMAGE",
                "config": config,
                "bindings": [_binding("issues", "incremental")],
            }
        }
    )
    assert run.returncode == 1
    assert run.responses == []
    assert run.logs[-1]["level"] == "error"
    assert "GitLab rejected the token (401" in run.error
    assert "glpat-wrong-1" not in run.stderr


def test_validate_names_an_invisible_group(sim, dataset):
    run = _flow(
        {
            "validate": {
                "name": "x",
                "connectorType": "IMAGE",
                "config": {**_endpoint(sim, dataset), "groups": "no-such-group-here"},
                "bindings": [],
            }
        }
    )
    assert run.returncode == 1
    assert "group 'no-such-group-here' does not exist or is not visible" in run.error


def test_validate_rejects_unknown_streams_and_incremental_full_refresh_streams(sim, dataset):
    bindings = [
        _binding("issues", "incremental"),
        _binding("wikis", "full_refresh"),
        _binding("branches", "incremental"),
    ]
    run = _flow(
        {"validate": {"name": "x", "connectorType": "IMAGE", "config": _endpoint(sim, dataset), "bindings": bindings}}
    )
    assert run.returncode == 1
    assert "binding 1: unknown stream 'wikis'" in run.error
    assert "binding 2 (branches): the stream has no replication key; use full_refresh" in run.error


def _keys(docs: list[dict[str, t.Any]], binding: dict[str, t.Any]) -> list[tuple[t.Any, ...]]:
    fields = [pointer[1:] for pointer in binding["key"]]
    return [tuple(doc[f] for f in fields) for doc in docs]


def _check_docs(run, streams: list[str], discovered) -> dict[str, list[dict[str, t.Any]]]:
    """Every document valid against its binding's schema (formats too), keys unique per binding."""
    by_stream = {}
    captured = run.captured()
    for index, stream in enumerate(streams):
        docs = captured.get(index, [])
        validator = jsonschema.Draft7Validator(
            discovered[stream]["documentSchema"], format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
        )
        for doc in docs:
            errors = list(validator.iter_errors(doc))
            assert not errors, (stream, errors[0].message, errors[0].json_path)
        keys = _keys(docs, discovered[stream])
        duplicates = [k for k, n in collections.Counter(keys).items() if n > 1]
        assert not duplicates, (stream, duplicates[:3])
        by_stream[stream] = docs
    return by_stream


def _modes(discovered, streams: list[str]) -> dict[str, str]:
    return {s: discovered[s]["resourceConfig"]["syncMode"] for s in streams}


@pytest.fixture
def own_sim():
    """A simulator on a dataset of its own, for tests that change the instance."""
    from tests.gitlab_sim import Dataset, GitLabSimulator

    ds = Dataset.generate(size="tiny", seed=1)
    with GitLabSimulator(ds, token=TOKEN) as server:
        yield server, ds


def test_a_new_capture_reads_every_bound_stream_and_checkpoints_each_state_key(sim, dataset, discovered):
    modes = _modes(discovered, E2E_STREAMS)
    run = _flow(_open(_endpoint(sim, dataset), [_binding(s, modes[s]) for s in E2E_STREAMS], {}))
    assert run.returncode == 0, run.stderr[-3000:]
    check_session(run)
    docs = _check_docs(run, E2E_STREAMS, discovered)
    for stream in E2E_STREAMS:
        expected = _keys(dataset.expected(stream), discovered[stream])
        assert sorted(_keys(docs[stream], discovered[stream])) == sorted(expected), stream
    state = reduce_state({}, run)
    assert set(state) == {"bindingStateV1"}
    assert set(state["bindingStateV1"]) == set(E2E_STREAMS)
    for stream in E2E_STREAMS:
        if modes[stream] == "incremental":
            partitions = state["bindingStateV1"][stream]["bookmark"]["partitions"]
            for key, partition in partitions.items():
                context = partition["context"]
                if (
                    context.get("source") == "parent_pipeline"
                    and not dataset.data(context["project_id"]).child_pipelines
                ):
                    continue  # a project without child pipelines: nothing to bookmark yet
                assert partition.get("replication_key_value"), (stream, key, partition)
    # The state goes back to the tap in its own shape: issues are read per top group (one group-level listing).
    bookmark = capture.singer_from_stored(state["bindingStateV1"]["issues"])
    assert [p["context"] for p in bookmark["partitions"]] == [
        {"group_id": g["id"]} for g in dataset.expected("groups") if g.get("parent_id") is None
    ]


def test_a_second_capture_with_the_reduced_state_reads_only_what_changed(own_sim, discovered):
    sim, ds = own_sim
    streams = ["issues", "merge_requests", "branches"]
    modes = _modes(discovered, streams)
    bindings = [_binding(s, modes[s]) for s in streams]
    first = _flow(_open(_endpoint(sim, ds), bindings, {}))
    assert first.returncode == 0, first.stderr[-3000:]
    state = reduce_state({}, first)

    issue = ds.expected("issues")[0]
    ds.advance_clock(3600)
    changed = ds.update_issue(issue["project_id"], issue["iid"], title="changed by the flow test")
    second = _flow(_open(_endpoint(sim, ds), bindings, state))
    assert second.returncode == 0, second.stderr[-3000:]
    check_session(second)
    docs = _check_docs(second, streams, discovered)
    # Only the changed issue (GitLab's updated_after is inclusive: the previous newest may come again).
    assert changed["id"] in {d["id"] for d in docs["issues"]}
    assert len(docs["issues"]) <= 1 + len(ds.expected("projects"))
    assert [d["title"] for d in docs["issues"] if d["id"] == changed["id"]] == ["changed by the flow test"]
    assert len(docs["merge_requests"]) <= len(ds.expected("projects"))
    assert len(docs["branches"]) == len(ds.expected("branches"))  # full refresh reads everything
    after = reduce_state(state, second)["bindingStateV1"]["issues"]["bookmark"]["partitions"]
    assert max(p["replication_key_value"] for p in after.values()) == changed["updated_at"]


def test_a_backfill_reads_one_binding_from_scratch_and_leaves_the_others(own_sim, discovered):
    sim, ds = own_sim
    streams = ["issues", "commits", "branches"]
    modes = _modes(discovered, streams)
    first = _flow(_open(_endpoint(sim, ds), [_binding(s, modes[s]) for s in streams], {}))
    assert first.returncode == 0, first.stderr[-3000:]
    state = reduce_state({}, first)

    # Flow's backfill counter moves issues to stateKey issues.v1, which has no state yet.
    backfill = [_binding(s, modes[s], state_key="issues.v1" if s == "issues" else None) for s in streams]
    backfill[0]["backfill"] = 1
    second = _flow(_open(_endpoint(sim, ds), backfill, state))
    assert second.returncode == 0, second.stderr[-3000:]
    check_session(second)
    docs = _check_docs(second, streams, discovered)
    assert sorted(_keys(docs["issues"], discovered["issues"])) == sorted(
        _keys(ds.expected("issues"), discovered["issues"])
    )
    updated_keys = set()
    for checkpoint in second.of("checkpoint"):
        updated_keys |= set(checkpoint["state"]["updated"]["bindingStateV1"])
    assert "issues" not in updated_keys  # the old stateKey is left as it was
    reduced = reduce_state(state, second)["bindingStateV1"]
    assert reduced["issues"] == state["bindingStateV1"]["issues"]
    assert reduced["issues.v1"]["bookmark"] == state["bindingStateV1"]["issues"]["bookmark"]
    # commits resumed from its own state: its bookmarks did not go back.
    for key, partition in state["bindingStateV1"]["commits"]["bookmark"]["partitions"].items():
        after = reduced["commits"]["bookmark"]["partitions"][key]
        assert after["replication_key_value"] >= partition["replication_key_value"]


def test_a_failing_tap_ends_the_capture_with_its_error_line_and_exit_1(sim, dataset):
    config = {**_endpoint(sim, dataset), "credentials": {"auth_type": "access_token", "access_token": "glpat-revoked"}}
    run = _flow(_open(config, [_binding("issues", "incremental")], {}))
    assert run.returncode == 1
    check_session(run)
    assert run.logs[-1]["level"] == "error"
    assert run.error.startswith("tap-gitlab: error: GitLab rejected the token (401")
    assert "glpat-revoked" not in run.stderr + run.stdout


def test_a_tap_failure_mid_capture_keeps_what_was_checkpointed_and_ends_with_the_error(sim, dataset, discovered):
    # Branches sync before issues; every issues listing then answers 500 until the tap gives up.
    rule = sim.faults.add("500", path=r"/issues")
    try:
        run = _flow(
            _open(
                _endpoint(sim, dataset), [_binding("branches", "full_refresh"), _binding("issues", "incremental")], {}
            )
        )
    finally:
        sim.faults.remove(rule)
    assert run.returncode == 1
    check_session(run)
    assert len(run.captured()[0]) == len(dataset.expected("branches"))
    kinds = [next(iter(r)) for r in run.responses]
    assert kinds.index("checkpoint") > kinds.index("captured")  # the branches were committed
    assert run.logs[-1]["level"] == "error"
    assert run.error.startswith("tap-gitlab: error: GitLab answered 500"), run.error


def test_no_run_ever_printed_the_token():
    assert RUNS, "no connector ran"
    for run in RUNS:
        assert TOKEN not in run.stdout and TOKEN not in run.stderr


def test_record_lines_in_singer_sdks_layout_are_split_without_reencoding():
    import datetime as dt
    import decimal

    from singer_sdk.singerlib.encoding.simple import RecordMessage
    from singer_sdk.singerlib.json import serialize_json

    records = [
        {"id": 1, "title": 'quote " and \\ and }', "nested": {"time_extracted": "x", "version": 3}},
        {"id": 2, "note": "caf\u00e9 \U0001f600", "amount": decimal.Decimal("0.1000000000000000055511151231257827")},
        {"id": 3, "empty": {}, "list": [{"a": "}"}], "last": 7},
    ]
    for record in records:
        for version, extracted in (
            (None, None),
            (5, None),
            (None, dt.datetime(2024, 1, 1, tzinfo=dt.UTC)),
            (5, dt.datetime(2024, 1, 1, tzinfo=dt.UTC)),
        ):
            message = RecordMessage(stream="merge_requests", record=record, version=version, time_extracted=extracted)
            line = (serialize_json(message.to_dict()) + "\n").encode()
            stream, body = capture.split_record(line)
            assert stream == "merge_requests"
            assert json.loads(body, parse_float=decimal.Decimal) == record
    assert capture.split_record(b'{"type": "RECORD", "stream": "x", "record": {}}\n') is None  # other layout
    assert capture.split_record(b'{"type":"STATE","value":{}}\n') is None
    assert capture.split_record(b'{"type":"RECORD","stream":"x","record":[1]}\n') is None
