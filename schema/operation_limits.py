"""The operation limits, checked in one pass over the document before any of GraphQL's
own validation rules run.

Every figure is computed in time linear in the document: each fragment is summarised
once (depth, aliases, cost, the fields it puts into a selection set), in dependency
order, and a spread reuses its fragment's summary instead of walking it again. A
document whose fragments spread each other twice at every level therefore costs as
much as its text, not 2^N. Fragment cycles, unknown and duplicate fragments are refused
here too (they are what would make a walk loop or branch), so the standard rules only
ever see a document of bounded shape:

- depth: the deepest field below the root (introspection fields do not count), as
  Strawberry's QueryDepthLimiter measures it;
- aliases: aliased fields in all operations, counted at every spread of a fragment, as
  Strawberry's MaxAliasesLimiter counts them;
- cost: each field costs 1; a field with a `first` argument multiplies the cost of what
  it selects by `first` (by the largest page when `first` is a variable);
- operations: at most a few in one document;
- width: the fields one selection set holds, counting those its fragments bring in, and
  how often one response name occurs there: these bound the pairwise comparisons of
  graphql-core's OverlappingFieldsCanBeMerged, which are quadratic in them.

Counts saturate (they never grow past a bound far above any limit), so no figure
becomes a huge integer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)

LARGEST_PAGE = 100
SATURATED = 10**9
# Fields in one selection set, counting those its fragments and inline fragments bring
# in; and how many of them may share one response name. A type of this schema has at
# most a few dozen fields, and fragment composition repeats a field a few times at most.
MAX_SELECTION_WIDTH = 100
MAX_SAME_FIELD = 10
# Some standard rules (the variable rules) walk every fragment an operation reaches, for
# each operation: bounding the operations keeps that linear too.
MAX_OPERATIONS = 20
# Mutations that each cost Stripe calls or several store writes: one of each per request,
# so aliases cannot spend a shopper's whole budget (and Stripe's rate limit) at once.
ONCE_PER_REQUEST = frozenset({"createCheckoutSession", "updateProfile", "syncOrders"})


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int = 10
    max_aliases: int = 15
    max_cost: int = 5000


@dataclass(slots=True)
class _Summary:
    """What a selection set contributes where it is used."""
    depth: int = 0
    aliases: int = 0
    cost: int = 0
    names: Counter = field(default_factory=Counter)  # flattened response names, for width
    width: int = 0


class _Refusal(Exception):
    pass


def check_limits(document: DocumentNode, limits: Limits) -> list[GraphQLError]:
    """The errors that refuse this document before the standard rules run; [] if none."""
    fragments: dict[str, FragmentDefinitionNode] = {}
    operations: list[OperationDefinitionNode] = []
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            name = definition.name.value
            if name in fragments:
                return [GraphQLError(f"There can be only one fragment named '{name}'.",
                                     [fragments[name].name, definition.name])]
            fragments[name] = definition
        elif isinstance(definition, OperationDefinitionNode):
            operations.append(definition)

    if len(operations) > MAX_OPERATIONS:
        return [GraphQLError(f"A document may hold at most {MAX_OPERATIONS} operations; "
                             "send only the one you run.", [operations[MAX_OPERATIONS]])]
    order, errors = _dependency_order(fragments)
    if errors:
        return errors
    for op in operations:  # the operations' own spreads, as _dependency_order checked the fragments'
        for spread in _spreads(op.selection_set):
            if spread.name.value not in fragments:
                return [GraphQLError(f"Unknown fragment '{spread.name.value}'.", [spread])]
    for op in operations:
        if op.operation.value == "mutation":
            seen = Counter(f.name.value for f in _root_fields(op.selection_set, fragments))
            for name in sorted(ONCE_PER_REQUEST & {n for n, count in seen.items() if count > 1}):
                return [GraphQLError(f"A request may run {name} once; send one per request.", [op])]
    walker = _Walker(fragments)
    try:
        for name in order:
            walker.summaries[name] = walker.summarize(fragments[name].selection_set)
        totals = [(op, walker.summarize(op.selection_set)) for op in operations]
    except _Refusal as refusal:
        return [refusal.args[0]]

    errors = []
    for op, summary in totals:
        if summary.depth > limits.max_depth:
            label = op.name.value if op.name else "anonymous"
            errors.append(GraphQLError(
                f"'{label}' exceeds maximum operation depth of {limits.max_depth}", [op]))
    aliases = min(SATURATED, sum(summary.aliases for _, summary in totals))
    if aliases > limits.max_aliases:
        errors.append(GraphQLError(f"{aliases} aliases found. Allowed: {limits.max_aliases}"))
    for op, summary in totals:
        if summary.cost > limits.max_cost:
            shown = f"{summary.cost}" if summary.cost < SATURATED else f"over {SATURATED}"
            errors.append(GraphQLError(
                f"This operation costs {shown}, over the limit of {limits.max_cost}; ask for fewer "
                "items (first) or fewer fields.", [op]))
    return errors


def _root_fields(selection_set: SelectionSetNode,
                 fragments: dict[str, FragmentDefinitionNode]) -> Iterable[FieldNode]:
    """The fields an operation selects at its root, through (inline) fragments; each
    fragment is entered once per operation, so this is linear in the document."""
    pending, entered = [selection_set], set()
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif (isinstance(selection, FragmentSpreadNode) and selection.name.value not in entered
                  and selection.name.value in fragments):
                entered.add(selection.name.value)
                pending.append(fragments[selection.name.value].selection_set)


def _spreads(selection_set: SelectionSetNode) -> Iterable[FragmentSpreadNode]:
    """Every fragment spread inside a selection set, at any nesting (no recursion)."""
    stack = [selection_set]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                yield selection
            elif selection.selection_set is not None:  # type: ignore[attr-defined]
                stack.append(selection.selection_set)  # type: ignore[attr-defined]


def _dependency_order(fragments: dict[str, FragmentDefinitionNode]) -> tuple[list[str], list[GraphQLError]]:
    """Fragments ordered so that each comes after those it spreads; or the error that
    refuses the document (an unknown fragment, a cycle). An iterative depth-first search:
    a chain of hundreds of fragments needs no deep stack."""
    uses = {name: list(_spreads(f.selection_set)) for name, f in fragments.items()}
    for spreads in uses.values():
        for spread in spreads:
            if spread.name.value not in fragments:
                return [], [GraphQLError(f"Unknown fragment '{spread.name.value}'.", [spread])]
    order: list[str] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in fragments:
        if root in state:
            continue
        path = [(root, iter(uses[root]))]
        state[root] = 1
        while path:
            name, pending = path[-1]
            for spread in pending:
                target = spread.name.value
                if state.get(target) == 1:
                    via = [n for n, _ in path[[n for n, _ in path].index(target) + 1:]]
                    detail = f" via '{', '.join(via)}'" if via else ""
                    return [], [GraphQLError(
                        f"Cannot spread fragment '{target}' within itself{detail}.", [spread])]
                if target not in state:
                    state[target] = 1
                    path.append((target, iter(uses[target])))
                    break
            else:
                path.pop()
                state[name] = 2
                order.append(name)
    return order, []


class _Walker:
    def __init__(self, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.summaries: dict[str, _Summary] = {}

    def summarize(self, selection_set: SelectionSetNode) -> _Summary:
        """One selection set; the fragments it spreads are summarised already. Recursion
        only follows the nesting of the text, which the parser bounds."""
        out = _Summary()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                name = selection.alias.value if selection.alias else selection.name.value
                self._add_names(out, Counter({name: 1}), 1, selection)
                out.aliases += 1 if selection.alias else 0
                if selection.selection_set is None:
                    out.cost += 1
                    continue
                inner = self.summarize(selection.selection_set)
                out.aliases += inner.aliases
                out.cost += 1 + _page(selection) * inner.cost
                if not selection.name.value.startswith("__"):
                    out.depth = max(out.depth, 1 + inner.depth)
            else:
                if isinstance(selection, InlineFragmentNode):
                    inner = self.summarize(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    inner = self.summaries[selection.name.value]
                else:
                    continue
                self._add_names(out, inner.names, inner.width, selection)
                out.aliases += inner.aliases
                out.cost += inner.cost
                out.depth = max(out.depth, inner.depth)
            out.aliases = min(out.aliases, SATURATED)
            out.cost = min(out.cost, SATURATED)
        return out

    @staticmethod
    def _add_names(out: _Summary, names: Counter, width: int, node) -> None:
        out.width += width
        if out.width > MAX_SELECTION_WIDTH:
            raise _Refusal(GraphQLError(
                f"A selection set holds over {MAX_SELECTION_WIDTH} fields (counting those its "
                "fragments bring in); ask for fewer.", [node]))
        for name, count in names.items():
            out.names[name] += count
            if out.names[name] > MAX_SAME_FIELD:
                raise _Refusal(GraphQLError(
                    f"'{name}' is selected over {MAX_SAME_FIELD} times in one selection set; "
                    "select it once.", [node]))


def _page(field: FieldNode) -> int:
    for argument in field.arguments or ():
        if argument.name.value == "first":
            if isinstance(argument.value, IntValueNode):
                digits = argument.value.value  # may be thousands of digits long
                return max(1, min(int(digits), LARGEST_PAGE)) if len(digits) < 6 else LARGEST_PAGE
            if isinstance(argument.value, VariableNode):
                return LARGEST_PAGE
    return 1
