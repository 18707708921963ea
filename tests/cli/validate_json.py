#!/usr/bin/python3
"""Validate a JSON document against a JSON Schema (Draft 7). Exit 0 if valid, 1 if not.

With --lines, FILE is JSON Lines: every line is validated on its own (an empty file is invalid).
A schema may refer to the others beside it by their $id ("results-1.json#/definitions/machine")."""
import glob
import json
import os
import sys

import jsonschema


def validator_for(path, schema):
    """A Draft 7 validator for `schema` that resolves the $ids of every *.schema.json beside
    `path`: through `referencing` where jsonschema has it (4.18 and later), else through
    RefResolver (Debian 12's 4.10)."""
    store = {}
    for p in sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(path)), "*.schema.json"))):
        with open(p) as f:
            s = json.load(f)
        if "$id" in s:
            store[s["$id"]] = s
    try:
        from referencing import Registry, Resource
    except ImportError:
        resolver = jsonschema.RefResolver.from_schema(schema, store=store)
        return jsonschema.Draft7Validator(schema, resolver=resolver)
    registry = Registry().with_resources((k, Resource.from_contents(v)) for k, v in store.items())
    return jsonschema.Draft7Validator(schema, registry=registry)


def main():
    args = sys.argv[1:]
    lines = bool(args) and args[0] == "--lines"
    if lines:
        args = args[1:]
    if len(args) != 2:
        print("usage: validate_json.py [--lines] SCHEMA FILE", file=sys.stderr)
        return 2
    with open(args[0]) as f:
        schema = json.load(f)
    jsonschema.Draft7Validator.check_schema(schema)
    validator = validator_for(args[0], schema)
    with open(args[1]) as f:
        docs = [json.loads(l) for l in f] if lines else [json.load(f)]
    if not docs:
        print("invalid: no lines", file=sys.stderr)
        return 1
    shown = bad = 0
    for n, doc in enumerate(docs, 1):
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        where = "line %d: " % n if lines else ""
        for e in errors[:5]:
            if shown < 10:
                print("invalid: %s%s: %s" % (where, "/".join(map(str, e.path)), e.message[:300]),
                      file=sys.stderr)
            shown += 1
        bad += bool(errors)
    if lines and bad:
        print("invalid: %d of %d lines" % (bad, len(docs)), file=sys.stderr)
    return 1 if bad else 0

if __name__ == "__main__":
    sys.exit(main())
