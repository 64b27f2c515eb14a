"""`/api/graphql`, as gitlabhq app/controllers/graphql_controller.rb answers it.

Routes: `GET` and `POST` (config/routes.rb `match '/api/graphql', via: [:get, :post]`; GET refuses mutations
in `disallow_mutations_for_get`, and this schema has none). The order of a request's checks:

1. Rack::Attack's authenticated API throttle: `/api/graphql` matches `API_PATH_REGEX = %r{^/api/|/oauth/}`
   (lib/gitlab/rack_attack/request.rb), so each request is one hit of the same per-minute budget as REST
   (`GitLabSimulator.rate_limit`), whatever its complexity; 429 is the plain `Retry later`.
2. `authorize_access_api!`: a token that authenticates no one → 401 `{"errors":[{"message":"Invalid token"}]}`;
   no token at all is an anonymous request (public projects only, lower limits).
3. `limit_query_size`: `MAX_QUERY_SIZE = 10_000` characters (summed over an Apollo `_json` batch) →
   `Gitlab::Graphql::Errors::ArgumentError` "Query too large", 422 by `ERROR_STATUS_MAP`.
4. graphql-ruby: parse, static validation (validation.py), the depth and complexity analyzers (complexity.py:
   "Query has depth of N, which exceeds max depth of M", "Query has complexity of N, which exceeds max
   complexity of M", graphql-ruby lib/graphql/analysis/ast/max_query_depth.rb / max_query_complexity.rb),
   then execution. All of these answer HTTP 200 (`render json: result`): errors before execution carry no
   `data`; errors during execution come with partial `data`.

Faults (`sim.graphql.fault(kind, ...)`, counted like tests/gitlab_sim/faults.py rules: times, every, after,
probability, seed): "field_timeout" (graphql-ruby lib/graphql/schema/timeout.rb: the field is null and the
error "Timeout on Type.field" carries its path), "complexity" (the analysis scores `score` — GitLab releases
have changed scores, gitlab-org/gitlab#576497), "statement_timeout" (`ActiveRecord::QueryCanceled` → 503
"Request timed out. Please try a less complex query or a smaller set of records."). HTTP faults of faults.py
apply to `/api/graphql` as to any path. Switches: `enabled = False` plays a GitLab without GraphQL (its Rails
404 page); `missing_fields` ("Type.field") plays an older GitLab without those fields.
"""

from __future__ import annotations

import json
import threading
import typing as t
from dataclasses import dataclass
from pathlib import Path

from graphql import (
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    build_schema,
    execute,
    get_operation_ast,
    parse,
)

from tests.gitlab_sim.app_limits import token_user
from tests.gitlab_sim.faults import FaultRule
from tests.gitlab_sim.graphql import complexity
from tests.gitlab_sim.graphql.resolvers import Context, attach, default_resolver
from tests.gitlab_sim.graphql.validation import validation_errors

if t.TYPE_CHECKING:
    from tests.gitlab_sim.server import GitLabSimulator

PATH = "/api/graphql"
MAX_QUERY_SIZE = 10_000  # gitlabhq app/controllers/graphql_controller.rb
STATEMENT_TIMEOUT = "Request timed out. Please try a less complex query or a smaller set of records."
FAULT_KINDS = ("field_timeout", "complexity", "statement_timeout")
SDL = (Path(__file__).parent / "schema.graphql").read_text(encoding="utf-8")
NOT_FOUND_HTML = b"<!DOCTYPE html>\n<html>\n<head><title>The page you're looking for could not be found (404)</title></head>\n<body><h1>404</h1><p>Page not found</p></body>\n</html>\n"

Answer = tuple[int, bytes, list[tuple[str, str]], str]


@dataclass
class GraphQLFault:
    kind: str
    rule: FaultRule  # the firing schedule (its own kind is unused)
    field: str = ""  # "field_timeout": "Type.field"
    score: int = 0  # "complexity": the score the analysis reports


def _json(obj: t.Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _errors(*messages: str) -> dict[str, t.Any]:
    return {"errors": [{"message": m} for m in messages]}


def _parse_error(exc: GraphQLSyntaxError, text: str) -> dict[str, t.Any]:
    """graphql-ruby's parser wording: `Parse error on "}" (RCURLY) at [1, 10]`, or the end of the document."""
    loc = exc.locations[0] if exc.locations else None
    if loc is None or exc.positions is None or exc.positions[0] >= len(text.rstrip()):
        return {"errors": [{"message": "Unexpected end of document", "locations": []}]}
    char = text[exc.positions[0]]
    names = {"}": "RCURLY", "{": "LCURLY", ")": "RPAREN", "(": "LPAREN", ":": "COLON", "[": "LBRACKET",
             "]": "RBRACKET", "$": "VAR_SIGN", "!": "BANG", "=": "EQUALS", "@": "DIR_SIGN"}  # fmt: skip
    token = names.get(char, "IDENTIFIER")
    message = f'Parse error on "{char}" ({token}) at [{loc.line}, {loc.column}]'
    return {"errors": [{"message": message, "locations": [{"line": loc.line, "column": loc.column}]}]}


class GraphQLEndpoint:
    """The simulator's GraphQL API (`sim.graphql`)."""

    def __init__(self, sim: GitLabSimulator) -> None:
        self.sim = sim
        self.enabled = True
        self.missing_fields: set[str] = set()
        self.faults: list[GraphQLFault] = []
        self._lock = threading.Lock()
        self._schemas: dict[frozenset[str], GraphQLSchema] = {}

    # -- configuration ----------------------------------------------------------------------------------------
    def fault(self, kind: str, field: str = "", score: int = 0, **schedule: t.Any) -> GraphQLFault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown GraphQL fault kind {kind!r}; one of {FAULT_KINDS}")
        fault = GraphQLFault(kind, FaultRule("503", **schedule), field, score)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    @property
    def schema(self) -> GraphQLSchema:
        """The schema without `missing_fields` (built once per set of missing fields)."""
        key = frozenset(self.missing_fields)
        with self._lock:
            schema = self._schemas.get(key)
            if schema is None:
                schema = attach(build_schema(SDL))
                for coordinate in key:
                    type_name, _, field_name = coordinate.partition(".")
                    schema.type_map[type_name].fields.pop(field_name, None)  # type: ignore[attr-defined]
                self._schemas[key] = schema
            return schema

    def _fired(self) -> list[GraphQLFault]:
        with self._lock:
            return [f for f in self.faults if f.rule.should_fire()]

    # -- one request --------------------------------------------------------------------------------------------
    def answer(self, method: str, headers: t.Any, query: dict[str, str], body: bytes) -> Answer:
        sim = self.sim
        allowed, rl_headers = sim.rate_limit()
        if not allowed:
            return 429, b"Retry later\n", rl_headers, "text/plain"
        if not self.enabled or method not in ("GET", "POST", "HEAD"):
            return 404, NOT_FOUND_HTML, rl_headers, "text/html"
        sent = headers.get("PRIVATE-TOKEN") or headers.get("Authorization") or query.get("private_token")
        sent = sent or query.get("access_token")
        if sent and sim.authenticate(headers, query, "/graphql") is not None:
            return 401, _json(_errors("Invalid token")), rl_headers, "application/json"
        user = token_user(sim, headers, query) if sent else None
        try:
            params = self._params(method, headers, query, body)
        except ValueError as exc:
            return 422, _json(_errors(str(exc))), rl_headers, "application/json"
        batch = params if isinstance(params, list) else [params]
        if sum(len(str(p.get("query") or "")) for p in batch) > MAX_QUERY_SIZE:
            return 422, _json(_errors("Query too large")), rl_headers, "application/json"
        fired = self._fired()
        if any(f.kind == "statement_timeout" for f in fired):
            return 503, _json(_errors(STATEMENT_TIMEOUT)), rl_headers, "application/json"
        results = [self.run(p, user, fired) for p in batch]
        return 200, _json(results if isinstance(params, list) else results[0]), rl_headers, "application/json"

    @staticmethod
    def _params(method: str, headers: t.Any, query: dict[str, str], body: bytes) -> t.Any:
        """The controller's `permitted_params`: query, variables, operationName; a JSON array is `_json`."""
        params: t.Any = dict(query)
        if method == "POST" and body:
            try:
                parsed = json.loads(body)
            except ValueError as exc:
                raise ValueError("Unexpected end of input" if not body.strip() else str(exc)) from exc
            if isinstance(parsed, list):
                return [GraphQLEndpoint._variables(p if isinstance(p, dict) else {}) for p in parsed]
            if isinstance(parsed, dict) and isinstance(parsed.get("_json"), list):
                return [GraphQLEndpoint._variables(p) for p in parsed["_json"] if isinstance(p, dict)]
            if isinstance(parsed, dict):
                params.update(parsed)
        return GraphQLEndpoint._variables(params)

    @staticmethod
    def _variables(params: dict[str, t.Any]) -> dict[str, t.Any]:
        """gitlabhq lib/gitlab/graphql/variables.rb: a JSON string, a hash or nothing; else 422."""
        value = params.get("variables")
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except ValueError as exc:
                raise ValueError(str(exc)) from exc
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise ValueError(f"Unexpected parameters: {value}")
        return {**params, "variables": value}

    def run(self, params: dict[str, t.Any], user: int | None, fired: list[GraphQLFault]) -> dict[str, t.Any]:
        """One query through graphql-ruby's stages: parse, validate, analyze, execute."""
        text = str(params.get("query") or "")
        variables: dict[str, t.Any] = params.get("variables") or {}
        schema = self.schema
        try:
            document = parse(text)
        except GraphQLSyntaxError as exc:
            return _parse_error(exc, text)
        errors = validation_errors(schema, document)
        if errors:
            return {"errors": errors}
        operation = get_operation_ast(document, params.get("operationName"))
        if operation is None:
            return _errors("An operation name is required")
        max_complexity, max_depth = complexity.limits(user is not None)
        score, depth = complexity.analyze(schema, document, operation, variables)
        for fault in fired:
            if fault.kind == "complexity":
                score = fault.score or max_complexity + 1
        messages = []
        if depth > max_depth:
            messages.append(f"Query has depth of {depth}, which exceeds max depth of {max_depth}")
        if score > max_complexity:
            messages.append(f"Query has complexity of {score}, which exceeds max complexity of {max_complexity}")
        if messages:
            return _errors(*messages)
        timeouts = {f.field for f in fired if f.kind == "field_timeout"}
        context = Context(self.sim.dataset, user, score, max_complexity, timeouts)
        with self.sim.dataset.lock:
            result = execute(
                schema,
                document,
                context_value=context,
                variable_values=variables,
                operation_name=params.get("operationName"),
                field_resolver=default_resolver,
                middleware=[_timeout_middleware],
            )
        out: dict[str, t.Any] = {}
        if result.errors:  # type: ignore[union-attr]
            out["errors"] = [e.formatted for e in result.errors]  # type: ignore[union-attr]
        out["data"] = result.data  # type: ignore[union-attr]
        if result.data is None and result.errors:  # type: ignore[union-attr]
            del out["data"]  # variables that do not coerce: graphql-ruby answers errors only
        return out


def _timeout_middleware(next_: t.Callable[..., t.Any], root: t.Any, info: t.Any, **args: t.Any) -> t.Any:
    """graphql-ruby's Schema::Timeout: a timed-out field resolves to an error naming it."""
    coordinate = f"{info.parent_type.name}.{info.field_name}"
    if coordinate in info.context.timeouts:
        raise GraphQLError(f"Timeout on {coordinate}")
    return next_(root, info, **args)
