"""Static validation with graphql-ruby's wording, shapes and codes (GitLab runs graphql-ruby).

graphql-core's rules for unknown fields, unknown arguments and bad literals are replaced by rules that report
what graphql-ruby reports (`lib/graphql/static_validation/rules/` in rmosolgo/graphql-ruby):

* `fields_are_defined_on_type.rb`: "Field 'x' doesn't exist on type 'Y'", extensions `code: undefinedField`,
  `typeName`, `fieldName` (`fields_are_defined_on_type_error.rb`);
* `arguments_are_defined.rb`: "Field 'notes' doesn't accept argument 'sort'", `code: argumentNotAccepted`,
  `name`, `typeName: Field`, `argumentName` (`arguments_are_defined_error.rb`);
* `argument_literals_are_compatible.rb`: "Argument 'first' on Field 'mergeRequests' has an invalid value
  ("x"). Expected type 'Int'.", `code: argumentLiteralsIncompatible`, `typeName`, `argumentName`.

Each error has `locations` and graphql-ruby's `path` (`lib/graphql/static_validation/error.rb`): the operation
("query", "query Name"), then field response names and argument names. GitLab stops after 5 errors
(`validate_max_errors 5`, gitlabhq app/graphql/gitlab_schema.rb). The other rules keep graphql-core's wording.
"""

from __future__ import annotations

import typing as t

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FieldsOnCorrectTypeRule,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    KnownArgumentNamesRule,
    OperationDefinitionNode,
    Undefined,
    ValidationRule,
    ValuesOfCorrectTypeRule,
    VariableNode,
    get_named_type,
    is_input_type,
    print_ast,
    specified_rules,
    validate,
    value_from_ast,
)
from graphql.language import Node

MAX_ERRORS = 5  # gitlabhq app/graphql/gitlab_schema.rb `validate_max_errors 5`


def _type_signature(type_: t.Any) -> str:
    return str(type_)


class RubyShapedRule(ValidationRule):
    """Tracks graphql-ruby's validation path and reports the three errors above in its shapes."""

    def __init__(self, context: t.Any) -> None:
        super().__init__(context)
        self.path: list[str] = []
        self.skip_depth = 0

    def _error(self, message: str, node: Node, extensions: dict[str, t.Any], extra: str | None = None) -> None:
        path = [*self.path, extra] if extra else list(self.path)
        self.report_error(GraphQLError(message, node, path=path, extensions=extensions))

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: t.Any) -> None:
        op = node.operation.value
        self.path.append(f"{op} {node.name.value}" if node.name else op)

    def leave_operation_definition(self, *_: t.Any) -> None:
        self.path.pop()

    def enter_fragment_definition(self, node: FragmentDefinitionNode, *_: t.Any) -> None:
        self.path.append(f"fragment {node.name.value}")

    def leave_fragment_definition(self, *_: t.Any) -> None:
        self.path.pop()

    def enter_inline_fragment(self, node: InlineFragmentNode, *_: t.Any) -> None:
        self.path.append(f"... on {node.type_condition.name.value}" if node.type_condition else "...")

    def leave_inline_fragment(self, *_: t.Any) -> None:
        self.path.pop()

    def enter_field(self, node: FieldNode, *_: t.Any) -> t.Any:
        self.path.append((node.alias or node.name).value)
        parent = self.context.get_parent_type()
        if parent is None:
            return None
        named = get_named_type(parent)
        if self.context.get_field_def() is None:
            name = node.name.value
            self._error(
                f"Field '{name}' doesn't exist on type '{named.name}'",
                node,
                {"code": "undefinedField", "typeName": named.name, "fieldName": name},
            )
            self.path.pop()
            return self.SKIP
        return None

    def leave_field(self, *_: t.Any) -> None:
        self.path.pop()

    def enter_argument(self, node: ArgumentNode, _key: t.Any, parent: t.Any, _path: t.Any, ancestors: t.Any) -> t.Any:
        field_node = ancestors[-1] if ancestors and isinstance(ancestors[-1], FieldNode) else None
        definition = self.context.get_field_def()
        if field_node is None or definition is None:
            return None
        field_name = (field_node.alias or field_node.name).value
        arg = definition.args.get(node.name.value)
        if arg is None:
            self._error(
                f"Field '{field_name}' doesn't accept argument '{node.name.value}'",
                node,
                {
                    "code": "argumentNotAccepted",
                    "name": field_name,
                    "typeName": "Field",
                    "argumentName": node.name.value,
                },
                node.name.value,
            )
            return self.SKIP
        if isinstance(node.value, VariableNode) or not is_input_type(arg.type):
            return None
        if value_from_ast(node.value, arg.type) is Undefined:
            self._error(
                f"Argument '{node.name.value}' on Field '{field_name}' has an invalid value "
                f"({print_ast(node.value)}). Expected type '{_type_signature(arg.type)}'.",
                field_node,
                {"code": "argumentLiteralsIncompatible", "typeName": "Field", "argumentName": node.name.value},
                node.name.value,
            )
            return self.SKIP
        return None


_REPLACED = (FieldsOnCorrectTypeRule, KnownArgumentNamesRule, ValuesOfCorrectTypeRule)
RULES = [rule for rule in specified_rules if rule not in _REPLACED] + [RubyShapedRule]


def validation_errors(schema: GraphQLSchema, document: DocumentNode) -> list[dict[str, t.Any]]:
    """The validation errors of a document as graphql-ruby renders them, at most 5."""
    errors = [e for e in validate(schema, document, RULES) if not e.message.startswith("Too many validation")]
    out: list[dict[str, t.Any]] = []
    for error in errors[:MAX_ERRORS]:
        item: dict[str, t.Any] = {"message": error.message}
        item["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations or ()]
        if error.path:
            item["path"] = list(error.path)
        if error.extensions:
            item["extensions"] = dict(error.extensions)
        out.append(item)
    return out
