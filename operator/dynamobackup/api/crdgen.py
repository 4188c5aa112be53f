"""Generates the CRDs of every kind and their API reference from the pydantic models.

    python -m dynamobackup.api.crdgen --write crds/ --docs docs/api.md   # regenerate
    python -m dynamobackup.api.crdgen --check crds/ --docs docs/api.md   # exit 1 if stale
    python -m dynamobackup.api.crdgen --write crds/ charts/NAME/crds/    # several copies
    python -m dynamobackup.api.crdgen                                    # CRDs' YAML to stdout

Pydantic emits JSON Schema (2020-12); a CRD needs a *structural* OpenAPI v3 schema: every node
has a type, no `$ref`, no `anyOf`/`oneOf` of different types, no `uniqueItems`,
`additionalProperties` only for maps. `structural_schema` does that translation and refuses
(SchemaError) anything it does not know how to translate faithfully, so a model change that
the CRD cannot express fails the generator instead of silently losing a constraint.
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from dynamobackup.api import v1alpha1
from dynamobackup.api.v1alpha1 import KINDS, ROLE, KindInfo, lifecycle

REGENERATE = "python -m dynamobackup.api.crdgen --write crds/ --docs docs/api.md (or `make crds`)"

Schema = dict[str, Any]

VALIDATIONS = "x-kubernetes-validations"
# Keywords a structural schema may carry, in the order they are written out.
KEY_ORDER = (
    "description",
    "type",
    "format",
    "enum",
    "default",
    "nullable",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "required",
    "properties",
    "items",
    "additionalProperties",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-int-or-string",
    "x-kubernetes-embedded-resource",
    VALIDATIONS,
)
# JSON Schema annotations with no meaning for the API server.
DROPPED_KEYS = frozenset({"title", "$defs", "examples"})

STANDARD_FIELDS: dict[str, Schema] = {
    "apiVersion": {
        "description": "The versioned schema of this representation of an object.",
        "type": "string",
    },
    "kind": {"description": "The REST resource this object represents.", "type": "string"},
    # The API server validates metadata itself; a structural schema may only say it's an object.
    "metadata": {"type": "object"},
}


class SchemaError(ValueError):
    """The model's JSON schema uses something a structural CRD schema cannot express."""


def structural_schema(model: type[BaseModel]) -> Schema:
    """The structural OpenAPI v3 schema of a pydantic model."""
    json_schema = model.model_json_schema(by_alias=True, mode="validation")
    return _convert(json_schema, json_schema.get("$defs", {}), model.__name__)


def _convert(node: Schema, defs: Mapping[str, Schema], path: str) -> Schema:
    node = _drop_null_variant(_inline_refs(node, defs), defs, path)
    converted: Schema = {}
    for key, value in node.items():
        if key in DROPPED_KEYS:
            continue
        if key == "properties":
            converted[key] = {
                name: _convert(child, defs, f"{path}.{name}") for name, child in value.items()
            }
        elif key == "items":
            converted[key] = _convert(value, defs, f"{path}[]")
        elif key == "additionalProperties":
            _convert_additional_properties(converted, value, defs, path)
        elif key == "uniqueItems":
            # Uniqueness is spelled as a set list type: the server checks it in linear time.
            if value:
                converted.setdefault("x-kubernetes-list-type", "set")
        elif key in {"exclusiveMinimum", "exclusiveMaximum"}:
            # JSON Schema's numeric bound is OpenAPI v3.0's boolean flag plus minimum/maximum.
            converted["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            converted[key] = True
        elif key == "default" and value is None:
            continue  # "absent" is already what an unset optional field means
        elif key == VALIDATIONS:
            converted[key] = [_ordered_rule(rule) for rule in value]
        elif key in KEY_ORDER:
            converted[key] = copy.deepcopy(value)
        else:
            raise SchemaError(f"{path}: {key!r} has no structural CRD equivalent")
    _check_structural(converted, path)
    return _ordered(converted)


def _convert_additional_properties(
    converted: Schema, value: Schema | bool, defs: Mapping[str, Schema], path: str
) -> None:
    if value is False:
        return  # closed objects are the default of a structural schema (unknown fields pruned)
    if value is True:
        raise SchemaError(f"{path}: free-form objects need x-kubernetes-preserve-unknown-fields")
    converted["additionalProperties"] = _convert(value, defs, f"{path}.*")


def _inline_refs(node: Schema, defs: Mapping[str, Schema]) -> Schema:
    """Replaces a `$ref` (or a one-element `allOf`) by the referenced schema; keywords next to
    the reference (the field's description, default, rules) win over the referenced type's."""
    while "$ref" in node or _is_single_all_of(node):
        siblings = {key: value for key, value in node.items() if key not in ("$ref", "allOf")}
        target = node["allOf"][0] if "allOf" in node else _lookup(node["$ref"], defs)
        node = _merge(_inline_refs(copy.deepcopy(target), defs), siblings)
    return node


def _is_single_all_of(node: Schema) -> bool:
    return "allOf" in node and len(node["allOf"]) == 1


def _lookup(ref: str, defs: Mapping[str, Schema]) -> Schema:
    prefix = "#/$defs/"
    if not ref.startswith(prefix) or ref[len(prefix) :] not in defs:
        raise SchemaError(f"unresolvable $ref {ref!r}")
    return defs[ref[len(prefix) :]]


def _drop_null_variant(node: Schema, defs: Mapping[str, Schema], path: str) -> Schema:
    """`Optional[X]` (`anyOf: [X, null]`) becomes X: in a CRD an optional field is one that is
    not required, and null is not a value the operator ever writes."""
    if "anyOf" not in node:
        return node
    variants = [variant for variant in node["anyOf"] if variant != {"type": "null"}]
    if len(variants) != 1:
        raise SchemaError(f"{path}: anyOf of several types is not structural")
    siblings = {key: value for key, value in node.items() if key != "anyOf"}
    return _merge(_inline_refs(copy.deepcopy(variants[0]), defs), siblings)


def _merge(base: Schema, overlay: Schema) -> Schema:
    merged = {**base, **overlay}
    rules = [*base.get(VALIDATIONS, []), *overlay.get(VALIDATIONS, [])]
    if rules:
        merged[VALIDATIONS] = rules
    return merged


def _check_structural(node: Schema, path: str) -> None:
    if "type" not in node and not node.get("x-kubernetes-int-or-string"):
        raise SchemaError(f"{path}: every node of a structural schema needs a type")
    if "properties" in node and "additionalProperties" in node:
        raise SchemaError(f"{path}: properties and additionalProperties are exclusive")


def _ordered(node: Schema) -> Schema:
    """Fixed keyword order, so the generated YAML is stable and diffs are readable."""
    rank = {key: index for index, key in enumerate(KEY_ORDER)}
    return {key: node[key] for key in sorted(node, key=lambda key: (rank.get(key, 99), key))}


def _ordered_rule(rule: Mapping[str, str]) -> dict[str, str]:
    # Pydantic sorts keys alphabetically; the rule reads better before its message.
    order = ("rule", "message", "messageExpression", "reason", "fieldPath", "optionalOldSelf")
    return {key: rule[key] for key in sorted(rule, key=lambda key: (order.index(key), key))}


def resource_schema(kind: KindInfo = ROLE) -> Schema:
    """The openAPIV3Schema of a whole object of `kind`."""
    properties = {**copy.deepcopy(STANDARD_FIELDS), "spec": structural_schema(kind.spec)}
    if kind.status is not None:
        properties["status"] = structural_schema(kind.status)
    return {
        "description": kind.description,
        "type": "object",
        "required": ["spec"],
        "properties": properties,
    }


def crd(kind: KindInfo = ROLE) -> dict[str, Any]:
    """The CustomResourceDefinition (apiextensions.k8s.io/v1) of `kind`."""
    names: dict[str, Any] = {
        "kind": kind.kind,
        "listKind": kind.list_kind,
        "plural": kind.plural,
        "singular": kind.singular,
    }
    if kind.short_names:
        names["shortNames"] = list(kind.short_names)
    if kind.categories:
        names["categories"] = list(kind.categories)
    version: dict[str, Any] = {"name": v1alpha1.VERSION, "served": True, "storage": True}
    if kind.status is not None:
        version["subresources"] = {"status": {}}
    if kind.printer_columns:
        version["additionalPrinterColumns"] = copy.deepcopy(list(kind.printer_columns))
    version["schema"] = {"openAPIV3Schema": resource_schema(kind)}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": kind.crd_name},
        "spec": {
            "group": v1alpha1.GROUP,
            "names": names,
            "scope": kind.scope,
            "versions": [version],
        },
    }


def crds() -> list[dict[str, Any]]:
    """The CRDs of every kind of the API."""
    return [crd(kind) for kind in KINDS]


def crd_filename(kind: KindInfo) -> str:
    return f"{v1alpha1.GROUP}_{kind.plural}.yaml"


def _source_file(kind: KindInfo) -> str:
    return "operator/" + kind.spec.__module__.replace(".", "/") + ".py"


class _PlainDumper(yaml.SafeDumper):
    """Never writes YAML anchors/aliases: every schema node is spelled out."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def to_yaml(document: Any) -> str:
    return yaml.dump(
        document,
        Dumper=_PlainDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=100,
    )


def crd_yaml(kind: KindInfo = ROLE) -> str:
    """The CRD of `kind` as the committed YAML file."""
    header = (
        f"# Generated from {_source_file(kind)}; do not edit.\n# Regenerate with: {REGENERATE}\n"
    )
    return header + to_yaml(crd(kind))


def all_crds_yaml() -> str:
    """Every CRD in one multi-document YAML stream, e.g. for `kubectl apply -f -`."""
    return "---\n".join(crd_yaml(kind) for kind in KINDS)


# --- API reference ------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldDoc:
    path: str
    type: str
    required: bool
    default: Any
    constraints: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class RuleDoc:
    path: str
    rule: str
    message: str


def field_docs(node: Schema, path: str) -> Iterator[FieldDoc]:
    """Every field under `node`, depth first, in declaration order."""
    required = set(node.get("required", []))
    for name, child in node.get("properties", {}).items():
        child_path = f"{path}.{name}"
        yield FieldDoc(
            path=child_path,
            type=_type_name(child),
            required=name in required,
            default=child.get("default"),
            constraints=tuple(_constraints(child)),
            description=child.get("description", ""),
        )
        yield from field_docs(_element_schema(child), _element_path(child, child_path))


def _element_schema(node: Schema) -> Schema:
    if node.get("type") == "array":
        items: Schema = node["items"]
        return items
    additional = node.get("additionalProperties")
    return additional if isinstance(additional, dict) else node


def _element_path(node: Schema, path: str) -> str:
    if node.get("type") == "array":
        return f"{path}[]"
    return f"{path}.*" if isinstance(node.get("additionalProperties"), dict) else path


def rule_docs(node: Schema, path: str) -> Iterator[RuleDoc]:
    """Every CEL rule under `node`, with the path of the value it is evaluated on (`self`)."""
    for rule in node.get(VALIDATIONS, []):
        yield RuleDoc(path, rule["rule"], rule.get("message", ""))
    for name, child in node.get("properties", {}).items():
        yield from rule_docs(child, f"{path}.{name}")
    if "items" in node:
        yield from rule_docs(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from rule_docs(node["additionalProperties"], f"{path}.*")


def _type_name(node: Schema) -> str:
    kind: str = node["type"]
    if kind == "array":
        return f"[]{_type_name(node['items'])}"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return f"map[string]{_type_name(node['additionalProperties'])}"
    if "format" in node:
        return f"{kind} ({node['format']})"
    return kind


def _constraints(node: Schema) -> Iterator[str]:
    if "enum" in node:
        yield "one of " + ", ".join(f"`{value}`" for value in node["enum"])
    if "pattern" in node:
        yield f"pattern `{node['pattern']}`"
    for keyword, words in (
        ("minLength", "length ≥"),
        ("maxLength", "length ≤"),
        ("minimum", "≥"),
        ("maximum", "≤"),
        ("minItems", "items ≥"),
        ("maxItems", "items ≤"),
        ("minProperties", "entries ≥"),
        ("maxProperties", "entries ≤"),
    ):
        if keyword in node:
            yield f"{words} {node[keyword]}"
    if "x-kubernetes-list-type" in node:
        keys = node.get("x-kubernetes-list-map-keys")
        suffix = f" keyed by {', '.join(keys)}" if keys else ""
        yield f"list type {node['x-kubernetes-list-type']}{suffix}"
    if VALIDATIONS in node:
        yield "CEL rules (below)"


def _cell(text: Any) -> str:
    """A Markdown table cell: one line, pipes escaped (also inside code spans, per GFM)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(value: Any) -> str:
    if value is None:
        return ""
    shown = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
    return f"`{shown.removesuffix('...').strip()}`"


def docs_markdown() -> str:
    """The API reference (docs/api.md): every kind, in the order of KINDS."""
    lines = [
        "# dynamobackup.io API reference",
        "",
        "<!-- Generated from operator/dynamobackup/api/v1alpha1/; do not edit. -->",
        f"<!-- Regenerate with: {REGENERATE} -->",
        "",
        "Kinds: " + ", ".join(f"[{kind.kind}](#{kind.kind.lower()})" for kind in KINDS) + ".",
        "",
    ]
    for kind in KINDS:
        lines += _kind_section(kind)
    lines += _lifecycle_section()
    return "\n".join(lines).rstrip() + "\n"


def _lifecycle_section() -> list[str]:
    """The conditions x causes state machine of DynamoBackupRole, from api.v1alpha1.lifecycle."""
    return [
        "## DynamoBackupRole conditions: the state machine",
        "",
        "What each outcome of a reconcile (or a deletion) sets. The operator's status code follows "
        "this table (`operator/dynamobackup/api/v1alpha1/lifecycle.py`); unknown is never reported "
        "as non-compliant. A person releases a deletion without deleting the IAM role with the "
        f'annotation `{lifecycle.ABANDON_ANNOTATION}: "true"`.',
        "",
        lifecycle.markdown_table(),
    ]


def _kind_section(kind: KindInfo) -> list[str]:
    schema = resource_schema(kind)
    short = f", short name `{', '.join(kind.short_names)}`" if kind.short_names else ""
    return [
        f"## {kind.kind}",
        "",
        f"`apiVersion: {v1alpha1.API_VERSION}`, `kind: {kind.kind}`: {kind.scope.lower()}; "
        f"plural `{kind.plural}`, singular `{kind.singular}`{short}"
        + ("; status subresource." if kind.status is not None else "; no status."),
        "",
        kind.description,
        "",
        *_example_section(kind),
        *_fields_section("Spec", schema["properties"]["spec"], "spec"),
        *(
            _fields_section("Status", schema["properties"]["status"], "status")
            if kind.status is not None
            else []
        ),
        *_rules_section(schema),
        *_columns_section(kind),
    ]


def _example_section(kind: KindInfo) -> list[str]:
    metadata: dict[str, Any] = {"name": f"example-{kind.singular}"}
    if kind.scope == "Namespaced":
        metadata["namespace"] = "backup"
    manifest = {
        "apiVersion": v1alpha1.API_VERSION,
        "kind": kind.kind,
        "metadata": metadata,
        "spec": dict(kind.example_spec),
    }
    defaulted = kind.spec.parse(kind.example_spec).to_dict()
    return [
        "### Example",
        "",
        "```yaml",
        to_yaml(manifest).rstrip(),
        "```",
        "",
        "The spec after the API server has filled in the defaults:",
        "",
        "```yaml",
        to_yaml({"spec": defaulted}).rstrip(),
        "```",
        "",
    ]


def _fields_section(title: str, node: Schema, path: str) -> list[str]:
    lines = [
        f"### {title}",
        "",
        "| Field | Type | Required | Default | Constraints | Description |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for field in field_docs(node, path):
        cells = (
            f"`{field.path}`",
            field.type,
            "yes" if field.required else "",
            _code(field.default),
            "; ".join(field.constraints),
            field.description,
        )
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return [*lines, ""]


def _rules_section(schema: Schema) -> list[str]:
    lines = [
        "### Validation rules (CEL)",
        "",
        "Evaluated by the API server; `self` is the value at the path. Rules with `oldSelf` "
        "apply to updates only.",
        "",
        "| Path | Rule | Message |",
        "| --- | --- | --- |",
    ]
    for rule in rule_docs(schema, ""):
        lines.append(
            f"| `{_cell(rule.path.lstrip('.'))}` | `{_cell(rule.rule)}` | {_cell(rule.message)} |"
        )
    return [*lines, ""]


def _columns_section(kind: KindInfo) -> list[str]:
    lines = [
        "### kubectl columns",
        "",
        "| Column | Type | JSONPath | Shown |",
        "| --- | --- | --- | --- |",
    ]
    for column in kind.printer_columns:
        shown = "with `-o wide`" if column.get("priority", 0) > 0 else "always"
        lines.append(
            f"| {column['name']} | {column['type']} | `{_cell(column['jsonPath'])}` | {shown} |"
        )
    return [*lines, ""]


# --- command line -------------------------------------------------------------------------


def _outputs(crd_dirs: Sequence[Path], docs_path: Path | None) -> dict[Path, str]:
    # Every directory gets the same bytes: the Helm chart ships a copy of crds/.
    outputs = {
        crd_dir / crd_filename(kind): crd_yaml(kind) for crd_dir in crd_dirs for kind in KINDS
    }
    if docs_path is not None:
        outputs[docs_path] = docs_markdown()
    return outputs


def _write(outputs: Mapping[Path, str]) -> int:
    for path, text in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


def _check(outputs: Mapping[Path, str]) -> int:
    stale = [
        path
        for path, text in outputs.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    for path in stale:
        print(f"{path} is stale; regenerate with: {REGENERATE}", file=sys.stderr)
    return 1 if stale else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dynamobackup.api.crdgen",
        description="Generate the CRDs of the dynamobackup.io API (and its docs) from the models.",
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--write", metavar="DIR", type=Path, nargs="+", help="write the CRD files into DIR"
    )
    target.add_argument(
        "--check", metavar="DIR", type=Path, nargs="+", help="exit 1 if a DIR is stale"
    )
    parser.add_argument(
        "--docs", metavar="FILE", type=Path, help="also write (or, with --check, check) FILE"
    )
    args = parser.parse_args(argv)
    if args.write is not None:
        return _write(_outputs(args.write, args.docs))
    if args.check is not None:
        return _check(_outputs(args.check, args.docs))
    if args.docs is not None:
        return _write({args.docs: docs_markdown()})
    sys.stdout.write(all_crds_yaml())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
