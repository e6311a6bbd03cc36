"""Reading YAML text safely: bounded, one-line errors, no repeated keys.

PyYAML's safe loader builds any legal document, including a few lines of
nested aliases that stand for billions of values and mappings that repeat a
key (the last one silently wins). `load_yaml` checks the parsed node graph
first, so neither is ever built, and turns PyYAML's multi-line errors (which
can quote the document) into a `ConfigError` naming the line and column.
"""

from __future__ import annotations

from typing import Any

import yaml

from dispatch.errors import ConfigError

__all__ = ("MAX_YAML_SIZE", "load_yaml")

_MERGE_TAG = "tag:yaml.org,2002:merge"

_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML was built with it: 3 ms instead of 20 ms
for the shipped registry, which every command loads."""

MAX_YAML_SIZE = 2_000_000
"""The most a config may hold once every alias is written out in full: one per
value plus the characters of its text (the shipped registry: about 3,000).

Aliases are legal YAML, but each use repeats what its anchor holds, so a few
lines of nested aliases ("billion laughs") stand for billions of values:
validating or printing them would never end. The bound is checked on the
parsed node graph, before any value is built."""


def load_yaml(text: str, label: str) -> Any:
    """The YAML document in `text`, built only after its size is checked.

    Raises:
        ConfigError: the text is not YAML (naming the line and column),
            expands past `MAX_YAML_SIZE`, or repeats a key in a mapping.
    """
    loader = _SAFE_LOADER(text)  # a safe loader, never yaml.Loader
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expanded_size(node, label)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, label) from None
    except yaml.YAMLError as exc:  # the reader's: a character YAML forbids
        reason = getattr(exc, "reason", "unreadable text")
        where = getattr(exc, "position", None)
        raise ConfigError(
            f"not valid YAML: {reason}",
            file=label,
            path=None if where is None else f"character {where + 1}",
        ) from None
    finally:
        loader.dispose()


def _yaml_error(exc: yaml.MarkedYAMLError, label: str) -> ConfigError:
    """A parser error as one line naming the line and column (PyYAML's own
    text spans several lines and can quote the document)."""
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "unreadable"
    if exc.context and exc.problem and exc.context_mark is not None:
        context = f"{exc.context} at {_at(exc.context_mark)}"
        if problem.startswith("but "):  # "expected ... at ..., but found ..."
            problem = f"{context}, {problem}"
        else:  # "did not find ... (while parsing ... at ...)"
            problem += f" ({context})"
    return ConfigError(
        f"not valid YAML: {problem}",
        file=label,
        path=None if mark is None else _at(mark),
    )


def _at(mark: Any) -> str:
    """A YAML mark as ``line L, column C`` (1-based, as editors count)."""
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _check_expanded_size(root: yaml.Node, label: str) -> None:
    """Refuse a document larger than `MAX_YAML_SIZE` with its aliases expanded,
    with an alias inside the node it refers to (infinitely large), or with a
    mapping that repeats a key.

    Each distinct node is visited once (an alias is the same node object
    again), so the check is linear in the text even when the expansion is
    not. Iterative: libyaml allows nesting a thousand deep.
    """
    sizes: dict[int, int] = {}  # id(node) -> its size with aliases expanded
    open_nodes: set[int] = set()  # the ancestors of the node being visited
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_nodes.discard(key)
            size = 1 + sum(sizes[id(c)] for c in _children(node))
            if isinstance(node, yaml.ScalarNode):
                size += len(node.value)
            if size > MAX_YAML_SIZE:
                raise ConfigError(
                    f"too large once its aliases are expanded: more than "
                    f"{MAX_YAML_SIZE:,} values and characters (each use of an "
                    "alias repeats its anchor; nested aliases multiply)",
                    file=label,
                    path=_at(node.start_mark),
                )
            sizes[key] = size
        elif key in open_nodes:
            raise ConfigError(
                "an alias refers to a node that contains it (infinitely large)",
                file=label,
                path=_at(node.start_mark),
            )
        elif key not in sizes:
            if isinstance(node, yaml.MappingNode):
                _check_unique_keys(node, label)
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend((c, False) for c in _children(node) if id(c) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    """A node's items (a mapping's keys and values); none for a scalar."""
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_unique_keys(node: yaml.MappingNode, label: str) -> None:
    """Refuse a key written twice in one mapping, naming both lines.

    YAML says keys are unique, but PyYAML keeps the last value silently: a
    second ``limit_usd:`` further down a long file would quietly replace the
    first. Plain scalar keys are compared as written; merge keys (``<<``) may
    repeat, and what they merge in is overridden by design.
    """
    seen: dict[str, yaml.Node] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE_TAG:
            continue
        first = seen.setdefault(key.value, key)
        if first is not key:
            raise ConfigError(
                f"the key {key.value[:60]!r} appears twice in one mapping (first at "
                f"{_at(first.start_mark)}); YAML keys are unique",
                file=label,
                path=_at(key.start_mark),
            )
