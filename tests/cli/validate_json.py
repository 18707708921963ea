#!/usr/bin/python3
"""Validate a JSON document against a JSON Schema (Draft 7). Exit 0 if valid, 1 if not."""
import json
import sys

import jsonschema


def main():
    if len(sys.argv) != 3:
        print("usage: validate_json.py SCHEMA FILE", file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        schema = json.load(f)
    with open(sys.argv[2]) as f:
        doc = json.load(f)
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
    for e in errors[:5]:
        print("invalid: %s: %s" % ("/".join(map(str, e.path)), e.message[:300]), file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
