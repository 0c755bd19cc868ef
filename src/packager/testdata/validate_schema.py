"""Validate a YAML file against a JSON Schema (used by matrix's tests).

Usage: validate_schema.py SCHEMA.json FILE.yaml

Exit status: 0 valid, 1 invalid (each error on stderr), 2 usage error or a
file that cannot be read or parsed. Needs the PyPI packages jsonschema and
pyyaml. The validator class follows the schema's "$schema" (draft 2020-12
when it names none). Schemas beside SCHEMA.json that declare an "$id" are
registered, so relative references between them resolve offline (the
CycloneDX schema names spdx.schema.json and jsf-0.82.schema.json).

PyYAML reads YAML 1.1, where a bare `on` key is the boolean True; GitHub
workflow files use `on:` as a key, so a top-level True key is renamed back
to "on" (when there is no "on" key already) before validating.
"""

import json
import os
import sys

import jsonschema
import referencing
import referencing.jsonschema
import yaml


def sibling_registry(schema_path):
    """The "$id"-declaring JSON schemas in SCHEMA.json's folder."""
    folder = os.path.dirname(os.path.abspath(schema_path))
    resources = []
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                contents = json.load(f)
        except (OSError, ValueError):
            continue
        if isinstance(contents, dict) and isinstance(contents.get("$id"), str):
            resource = referencing.Resource.from_contents(
                contents, default_specification=referencing.jsonschema.DRAFT7
            )
            resources.append((contents["$id"], resource))
    return referencing.Registry().with_resources(resources)


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    schema_path, yaml_path = argv[1], argv[2]
    try:
        with open(schema_path, encoding="utf-8") as f:
            schema = json.load(f)
        with open(yaml_path, encoding="utf-8") as f:
            document = yaml.safe_load(f)
    except (OSError, ValueError, yaml.YAMLError) as e:
        print(f"cannot load: {e}", file=sys.stderr)
        return 2

    if isinstance(document, dict) and True in document and "on" not in document:
        document["on"] = document.pop(True)

    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    validator = cls(schema, registry=sibling_registry(schema_path))
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if not errors:
        return 0
    best = jsonschema.exceptions.best_match(errors)
    print(f"{yaml_path}: invalid: {best.message} (at /{'/'.join(map(str, best.absolute_path))})", file=sys.stderr)
    for e in errors:
        print(f"  - /{'/'.join(map(str, e.absolute_path))}: {e.message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
