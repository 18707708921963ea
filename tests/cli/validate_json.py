#!/usr/bin/python3
"""Validate a JSON document against a JSON Schema (Draft 7). Exit 0 if valid, 1 if not.

With --lines, FILE is JSON Lines: every line is validated on its own (an empty file is invalid)."""
import json
import sys

import jsonschema


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
    validator = jsonschema.Draft7Validator(schema)
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
