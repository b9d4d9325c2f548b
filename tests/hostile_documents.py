"""GraphQL documents built to make validation slow, each as large as the token limit
allows: the tests send them, and the benchmark times them (bench/validation.py)."""

from __future__ import annotations

from collections.abc import Callable

from graphql.language import Lexer, Source, TokenKind


def tokens(document: str) -> int:
    lexer, count = Lexer(Source(document)), 0
    while lexer.advance().kind != TokenKind.EOF:
        count += 1
    return count


def doubling_fragments(n: int) -> str:
    """Each fragment spreads the next one twice: 2^n fields once written out (issue 15)."""
    return ("query { ...F0 } " + " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}"
                                         for i in range(n))
            + f" fragment F{n} on Query {{ __typename }}")


def doubling_in_depth(n: int) -> str:
    """The same field twice at each level, each spreading two twin fragments."""
    parts = ["query { ...F0 }"]
    for i in range(n):
        parts.append(f"fragment F{i} on Query {{ a {{ ...F{i + 1} ...G{i + 1} }} a {{ ...G{i + 1} ...F{i + 1} }} }}")
        parts.append(f"fragment G{i} on Query {{ a {{ ...G{i + 1} ...F{i + 1} }} a {{ ...F{i + 1} ...G{i + 1} }} }}")
    parts.append(f"fragment F{n} on Query {{ b }} fragment G{n} on Query {{ b }}")
    return " ".join(parts)


def repeated_field(n: int) -> str:
    """One field n times: field merging compares every pair (issue 15: 495 times, 1 s)."""
    return "{ " + "products { sku } " * n + "}"


def repeated_leaf(n: int) -> str:
    return "{ " + "__typename " * n + "}"


def many_fragments(n: int) -> str:
    """n fragments spread side by side: field merging compares every pair of them."""
    return ("{ " + " ".join(f"...F{i}" for i in range(n)) + " } "
            + " ".join(f"fragment F{i} on Query {{ x{i}: products {{ sku }} }}" for i in range(n)))


def twin_trees(depth: int) -> str:
    """Two copies of a binary tree of one field name: each pair of twins is compared."""
    def tree(d: int) -> str:
        return "x" if d == 0 else f"x {{ {tree(d - 1)} {tree(d - 1)} }}"
    return "{ " + tree(depth) + " " + tree(depth) + " }"


def wide_twins(n: int) -> str:
    sub = " ".join(f"f{i} {{ g h }}" for i in range(n))
    return f"{{ viewer {{ {sub} }} viewer {{ {sub} }} }}"


def operations_sharing_a_chain(n: int) -> str:
    """n operations, each reaching a chain of n fragments (variable rules walk it per operation)."""
    return (" ".join(f"query Q{i} {{ ...F0 }}" for i in range(n)) + " "
            + " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(n))
            + f" fragment F{n} on Query {{ __typename }}")


def nested_inline_fragments(n: int) -> str:
    return "{ " + "... { " * n + "__typename" + " }" * n + " }"


def aliased_conflicts(n: int) -> str:
    return "{ " + " ".join(f"a: products {{ s{i}: sku }}" for i in range(n)) + " }"


SHAPES: dict[str, tuple[Callable[[int], str], int]] = {
    # name: (builder, largest n tried)
    "doubling fragments": (doubling_fragments, 400),
    "doubling in depth": (doubling_in_depth, 200),
    "repeated field": (repeated_field, 1000),
    "repeated leaf": (repeated_leaf, 3000),
    "many fragments": (many_fragments, 500),
    "twin trees": (twin_trees, 12),
    "wide twins": (wide_twins, 1000),
    "operations sharing a chain": (operations_sharing_a_chain, 1000),
    "nested inline fragments": (nested_inline_fragments, 190),  # the parser stops at 200 levels
    "aliased conflicts": (aliased_conflicts, 1000),
}


def largest(build: Callable[[int], str], most: int, max_tokens: int) -> str:
    """The largest document of this shape within the token limit (a binary search)."""
    low, high, best = 1, most, build(1)
    while low <= high:
        middle = (low + high) // 2
        document = build(middle)
        if tokens(document) <= max_tokens:
            best, low = document, middle + 1
        else:
            high = middle - 1
    return best


def worst_documents(max_tokens: int = 2000) -> dict[str, str]:
    return {name: largest(build, most, max_tokens) for name, (build, most) in SHAPES.items()}
