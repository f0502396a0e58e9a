#!/usr/bin/python3
"""Holds schema/inventory.schema.json to the wire format test_wire checks
wire.c against, so the published schema and the one implementation cannot
drift apart.

Usage: check-inventory-schema.py SCHEMA WIRE_DATA_DIR

Every WIRE_DATA_DIR/valid/*.json must validate. Every
WIRE_DATA_DIR/invalid/*.json case's "input" must be rejected, except a case
marked "beyond_schema" (a rule such as a digest or a cross-reference that
JSON Schema cannot state): its input must be accepted, which also shows the
case breaks only that one rule. Needs python3-jsonschema (Debian).
"""

import json
import os
import sys

try:
    import jsonschema
except ImportError:
    sys.exit("check-inventory-schema: python3-jsonschema is not installed "
             "(deploy/install-deps installs it)")


def load(path):
    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise ValueError("duplicate key in %s" % path)
        return dict(pairs)

    with open(path, encoding="utf-8") as f:
        return json.load(f, object_pairs_hook=no_duplicates)


def case_files(directory):
    names = sorted(n for n in os.listdir(directory) if not n.startswith("."))
    if not names:
        sys.exit("check-inventory-schema: %s: no case files" % directory)
    return [(n, os.path.join(directory, n)) for n in names]


def first_error(validator, instance):
    """The most relevant complaint, with its JSON path, or None."""
    best = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if best is None:
        return None
    path = "inventory" + "".join(
        "[%d]" % p if isinstance(p, int) else ".%s" % p for p in best.absolute_path)
    return "%s: %s" % (path, best.message[:200])


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: check-inventory-schema.py SCHEMA WIRE_DATA_DIR")
    schema = load(sys.argv[1])
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    failures = 0
    checked = 0

    for name, path in case_files(os.path.join(sys.argv[2], "valid")):
        checked += 1
        error = first_error(validator, load(path))
        if error is not None:
            failures += 1
            print("FAIL valid/%s: the schema rejects it: %s" % (name, error))

    for name, path in case_files(os.path.join(sys.argv[2], "invalid")):
        checked += 1
        case = load(path)
        error = first_error(validator, case["input"])
        if "beyond_schema" in case:
            if error is not None:
                failures += 1
                print("FAIL invalid/%s: marked beyond_schema (%s), but the schema rejects it "
                      "for another reason: %s" % (name, case["beyond_schema"], error))
        elif error is None:
            failures += 1
            print("FAIL invalid/%s: the schema accepts it; wire.c says \"%s\""
                  % (name, case["error"]))

    print("%d case files, %d failures" % (checked, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
