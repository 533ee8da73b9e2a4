#!/usr/bin/python3
"""schema_check.py SCHEMA [FILE...] - validate JSON files against a schema.

The schema itself is checked first (Draft 2020-12 meta-schema).  Then one
line per file: "valid FILE" or "invalid FILE: /pointer: message" (one line
per problem).  Exit status 0 when the schema and every file are valid, 1
when a file is not, 2 when the schema is not.
"""
import json
import sys

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError


def pointer(path):
    """The JSON pointer of a jsonschema error path."""
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1")
                          for p in path)


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as f:
            schema = json.load(f)
        Draft202012Validator.check_schema(schema)
    except (OSError, ValueError, SchemaError) as e:
        print(f"bad schema {argv[1]}: {e}")
        return 2
    validator = Draft202012Validator(schema)
    rc = 0
    for name in argv[2:]:
        try:
            with open(name, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            print(f"invalid {name}: not JSON: {e}")
            rc = 1
            continue
        errors = sorted(validator.iter_errors(doc),
                        key=lambda e: [str(p) for p in e.absolute_path])
        for e in errors:
            print(f"invalid {name}: {pointer(e.absolute_path)}: {e.message}")
        if errors:
            rc = 1
        else:
            print(f"valid {name}")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
