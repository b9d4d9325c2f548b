"""A cost limit, checked with the other validation rules before anything runs: every
field costs 1, and a field with a `first` argument multiplies the cost of what it
selects by `first` (by the largest page, 100, when `first` is a variable)."""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode, FragmentSpreadNode, GraphQLError, InlineFragmentNode, IntValueNode,
    OperationDefinitionNode, SelectionSetNode, ValidationRule, VariableNode,
)

LARGEST_PAGE = 100


def cost_limit_rule(max_cost: int) -> type[ValidationRule]:
    class CostLimit(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            fragments = {f.name.value: f for f in self.context.document.definitions
                         if f.kind == "fragment_definition"}
            cost = _cost(node.selection_set, fragments, frozenset())
            if cost > max_cost:
                self.report_error(GraphQLError(
                    f"This operation costs {cost}, over the limit of {max_cost}; ask for fewer "
                    "items (first) or fewer fields.", node))

    return CostLimit


def _cost(selections: SelectionSetNode | None, fragments: dict, seen: frozenset[str]) -> int:
    if selections is None:
        return 0
    total = 0
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            total += 1 + _page(selection) * _cost(selection.selection_set, fragments, seen)
        elif isinstance(selection, InlineFragmentNode):
            total += _cost(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:  # cycles are another rule's to report
                total += _cost(fragments[name].selection_set, fragments, seen | {name})
    return total


def _page(field: FieldNode) -> int:
    for argument in field.arguments or ():
        if argument.name.value == "first":
            if isinstance(argument.value, IntValueNode):
                return max(1, min(int(argument.value.value), LARGEST_PAGE))
            if isinstance(argument.value, VariableNode):
                return LARGEST_PAGE
    return 1
