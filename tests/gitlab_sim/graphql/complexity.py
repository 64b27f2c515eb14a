"""Query depth and complexity, computed as GitLab computes them, and the limits they are held to.

Limits (gitlabhq `app/graphql/gitlab_schema.rb`): `DEFAULT_MAX_COMPLEXITY = 200` (anonymous),
`AUTHENTICATED_MAX_COMPLEXITY = 250`, `ADMIN_MAX_COMPLEXITY = 300`, `DEFAULT_MAX_DEPTH = 15` (anonymous),
`AUTHENTICATED_MAX_DEPTH = 20`, `default_max_page_size 100`. The simulator's tokens are not admins, so
a token gets 250/20 and no token 200/15.

Complexity (gitlabhq `app/graphql/types/base_field.rb`, which overrides graphql-ruby's `complexity_for`, so the
gem's own "children x page size" for connections never applies):

* a field without a resolver costs its constant (`DEFAULT_COMPLEXITY = 1`, `base_complexity` 2 with
  `calls_gitaly: true`, or an explicit `complexity: N`) plus its children, whatever `first:` says;
* a field with a resolver costs `children + resolver_complexity(args) (+1 if calls_gitaly)`, and when it is a
  connection that sum is multiplied by `1 + min(first, last, 100) x complexity_multiplier(args)`, truncated
  to an integer (`field_resolver_complexity`, `connection_complexity_multiplier`);
* `resolver_complexity` (gitlabhq `app/graphql/resolvers/base_resolver.rb`) is 1, +1 with `sort`, +5 with
  `search`; `complexity_multiplier` is 0.01, or 0 when `iid`/`iids` are given. Resolvers that add to it:
  `concerns/resolves_pipelines.rb` (`calls_gitaly!`, +2 for `sha`, +2 for `ref`), `concerns/resolves_issues.rb`
  (+2 for `labelName`). Argument defaults count as given (`MergeRequestsResolver`'s `sort: created_desc`).
* children are summed once per selection (graphql-ruby `lib/graphql/analysis/ast/query_complexity.rb`), not once
  per node of the page; fields asked twice under one response key count once.

Depth (graphql-ruby `lib/graphql/analysis/ast/query_depth.rb`): the deepest chain of fields, a root field
being depth 1; fragments add no level.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLArgument,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    VariableNode,
    get_named_type,
    value_from_ast_untyped,
)
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef, TypeNameMetaFieldDef

# gitlabhq app/graphql/gitlab_schema.rb
DEFAULT_MAX_COMPLEXITY = 200
AUTHENTICATED_MAX_COMPLEXITY = 250
DEFAULT_MAX_DEPTH = 15
AUTHENTICATED_MAX_DEPTH = 20
DEFAULT_MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Cost:
    """How one field is priced: a constant, or a resolver (connection or not) with its extras."""

    constant: int = 1
    resolver: bool = False
    connection: bool = False
    gitaly: bool = False
    extra: t.Callable[[dict[str, t.Any]], int] | None = None


def _pipelines_extra(args: dict[str, t.Any]) -> int:
    # app/graphql/resolvers/concerns/resolves_pipelines.rb resolver_complexity
    return (2 if args.get("sha") else 0) + (2 if args.get("ref") else 0)


def _issues_extra(args: dict[str, t.Any]) -> int:
    # app/graphql/resolvers/concerns/resolves_issues.rb (labelName filters join the labels)
    return 2 if args.get("labelName") else 0


GITALY = Cost(constant=2)
RESOLVER = Cost(resolver=True)
RESOLVER_CONNECTION = Cost(resolver=True, connection=True)

# The fields whose price is not the default 1 + children. Sources: app/graphql/types/query_type.rb,
# project_type.rb, merge_request_type.rb (commits, approved: calls_gitaly; closedAt/mergedAt: complexity 5),
# ee/app/graphql/ee/types/merge_request_type.rb (approvalsLeft: calls_gitaly), repositories/commit_type.rb
# (title, fullTitle: calls_gitaly), ci/pipeline_type.rb (jobs: JobsResolver; beforeSha: calls_gitaly).
FIELD_COSTS: dict[str, Cost] = {
    "Query.project": RESOLVER,
    "Query.projects": RESOLVER_CONNECTION,
    "Query.currentUser": RESOLVER,
    "Project.mergeRequests": RESOLVER_CONNECTION,
    "Project.mergeRequest": RESOLVER,
    "Project.issues": Cost(resolver=True, connection=True, extra=_issues_extra),
    "Project.issue": RESOLVER,
    "Project.pipelines": Cost(resolver=True, connection=True, gitaly=True, extra=_pipelines_extra),
    "Project.pipeline": RESOLVER,
    "MergeRequest.notes": RESOLVER_CONNECTION,
    "MergeRequest.commits": GITALY,
    "MergeRequest.approved": GITALY,
    "MergeRequest.approvalsLeft": GITALY,
    "MergeRequest.closedAt": Cost(constant=5),
    "MergeRequest.mergedAt": Cost(constant=5),
    "Issue.notes": RESOLVER_CONNECTION,
    "Commit.title": GITALY,
    "Commit.fullTitle": GITALY,
    "Pipeline.beforeSha": GITALY,
    "Pipeline.jobs": RESOLVER_CONNECTION,
}


def resolver_complexity(args: dict[str, t.Any]) -> int:
    """gitlabhq app/graphql/resolvers/base_resolver.rb `self.resolver_complexity`."""
    return 1 + (1 if args.get("sort") is not None else 0) + (5 if args.get("search") is not None else 0)


def complexity_multiplier(args: dict[str, t.Any]) -> float:
    """gitlabhq app/graphql/resolvers/base_resolver.rb `self.complexity_multiplier`: 1% per item."""
    return 0.0 if args.get("iid") is not None or args.get("iids") is not None else 0.01


def field_complexity(cost: Cost, args: dict[str, t.Any], child: int) -> int:
    """gitlabhq app/graphql/types/base_field.rb `complexity_for` with `field_resolver_complexity`."""
    if not cost.resolver:
        return cost.constant + child
    value: float = child + resolver_complexity(args) + (cost.extra(args) if cost.extra else 0)
    if cost.gitaly:
        value += 1
    if cost.connection:
        limits = [v for v in (args.get("first"), args.get("last"), DEFAULT_MAX_PAGE_SIZE) if v is not None]
        value += value * (min(limits) * complexity_multiplier(args))
    return int(value)


def field_def(schema: GraphQLSchema, parent: GraphQLObjectType, name: str) -> GraphQLField | None:
    """The definition of `parent.name`, the introspection meta fields included."""
    if name == "__typename":
        return TypeNameMetaFieldDef
    if parent is schema.query_type and name in ("__schema", "__type"):
        return SchemaMetaFieldDef if name == "__schema" else TypeMetaFieldDef
    return parent.fields.get(name)


def _default(arg: GraphQLArgument) -> t.Any:
    if arg.default_value is not Undefined:
        return arg.default_value
    default = getattr(arg, "default", None)  # graphql-core 3.3 keeps SDL defaults as literals
    if default is None or default is Undefined:
        return None
    if getattr(default, "literal", None) is not None:
        return value_from_ast_untyped(default.literal)
    return getattr(default, "value", None)


def argument_values(definition: GraphQLField, node: FieldNode, variables: dict[str, t.Any]) -> dict[str, t.Any]:
    """The arguments as the resolver sees them: given values (variables substituted), then the defaults."""
    given: dict[str, t.Any] = {}
    for arg in node.arguments or ():
        value = arg.value
        given[arg.name.value] = (
            variables.get(value.name.value)
            if isinstance(value, VariableNode)
            else value_from_ast_untyped(value, variables)
        )
    for name, arg in definition.args.items():
        if given.get(name) is None:
            default = _default(arg)
            if default is not None:
                given[name] = default
    return {k: v for k, v in given.items() if v is not None}


class _Walker:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, t.Any],
        costs: dict[str, Cost],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.costs = costs

    def _fields(self, parent: GraphQLObjectType, selection_set: SelectionSetNode, seen: set[str]) -> list[FieldNode]:
        """The field nodes of a selection, fragments inlined (the response key decides what merges later)."""
        out: list[FieldNode] = []
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                out.append(sel)
            elif isinstance(sel, InlineFragmentNode):
                out.extend(self._fields(parent, sel.selection_set, seen))
            elif isinstance(sel, FragmentSpreadNode) and sel.name.value not in seen:
                frag = self.fragments.get(sel.name.value)
                if frag is not None:
                    out.extend(self._fields(parent, frag.selection_set, seen | {sel.name.value}))
        return out

    def selection(self, parent: GraphQLObjectType, selection_set: SelectionSetNode | None) -> tuple[int, int]:
        """(complexity, depth) of a selection set."""
        if selection_set is None:
            return 0, 0
        merged: dict[str, list[FieldNode]] = {}
        for node in self._fields(parent, selection_set, set()):
            merged.setdefault((node.alias or node.name).value, []).append(node)
        total, depth = 0, 0
        for nodes in merged.values():
            score, d = self.field(parent, nodes)
            total += score
            depth = max(depth, d)
        return total, depth

    def field(self, parent: GraphQLObjectType, nodes: list[FieldNode]) -> tuple[int, int]:
        node = nodes[0]
        definition = field_def(self.schema, parent, node.name.value)
        if definition is None:
            return 1, 1
        child, depth = 0, 0
        named = get_named_type(definition.type)
        if isinstance(named, GraphQLObjectType):
            for n in nodes:
                score, d = self.selection(named, n.selection_set)
                child += score
                depth = max(depth, d)
        cost = self.costs.get(f"{parent.name}.{node.name.value}", Cost())
        args = argument_values(definition, node, self.variables) if cost.resolver else {}
        return field_complexity(cost, args, child), depth + 1


def analyze(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: dict[str, t.Any],
) -> tuple[int, int]:
    """(complexity, depth) of one operation of a validated document."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    root = schema.query_type
    assert root is not None
    return _Walker(schema, fragments, variables, FIELD_COSTS).selection(root, operation.selection_set)


def limits(authenticated: bool) -> tuple[int, int]:
    """(max complexity, max depth): gitlabhq app/graphql/gitlab_schema.rb `max_query_complexity`, `max_query_depth`."""
    if authenticated:
        return AUTHENTICATED_MAX_COMPLEXITY, AUTHENTICATED_MAX_DEPTH
    return DEFAULT_MAX_COMPLEXITY, DEFAULT_MAX_DEPTH
