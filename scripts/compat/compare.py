#!/usr/bin/env python3
"""Compares `buf breaking` with `druidctl check --no-druid` over the corpus of corpus.py.

Usage: compare.py OUT RESULTS: reads OUT/cases.json and, per module and category,
RESULTS/<module>-buf-<CATEGORY>.jsonl (buf's --error-format json lines) and
RESULTS/<module>-druidctl-<CATEGORY>.json (`druidctl check --output json`). A case agrees in a
category when both tools give the same verdict and the same set of rule ids for its files.
Prints `N/N verdicts agree` and `N/N rule sets agree` per category, then every difference;
exits 1 on a difference that is not a listed exception.
"""
import collections
import json
import pathlib
import sys

CATEGORIES = ["FILE", "PACKAGE", "WIRE_JSON", "WIRE"]

# Cases where buf is knowingly inconsistent and druidctl does not follow it: case -> reason.
# Each entry is a documented buf behaviour; an entry that no longer differs is reported so the
# list does not rot.
LAST_OF_ITS_KIND = (
    "buf reports PACKAGE_{ENUM,EXTENSION,MESSAGE,SERVICE}_NO_DELETE only for packages that still "
    "have an element of that kind, so deleting the last enum (extension...) of a package passes "
    "PACKAGE in buf; it breaks the package's generated code all the same, and druidctl reports it"
)
EXCEPTIONS = {
    "enum_deleted": LAST_OF_ITS_KIND,
    "nested_enum_deleted": LAST_OF_ITS_KIND,
    "extension_deleted": LAST_OF_ITS_KIND,
    "message_deleted_with_nested": LAST_OF_ITS_KIND,
}

# Cases druidctl cannot read at all: module -> reason (the harness checks that `check` refuses
# them with an input error instead of a verdict).
NOT_COMPARED = {
    "editions": "druidctl's compiler (protox 0.10) does not parse editions: `check` refuses "
                "them with file:line:col (exit 2)",
}


def case_of(path):
    return path.split("/", 1)[0]


def buf_case(finding, names):
    """The case of a buf finding: its path, or for an element of a deleted file (no path), the
    quoted file or package name in its message (each case's files and packages start with the
    case's name)."""
    if "path" in finding:
        return case_of(finding["path"])
    for quoted in finding["message"].split('"')[1::2]:
        first = quoted.replace("/", ".").split(".", 1)[0]
        if first in names:
            return first
    raise SystemExit(f"no case for buf finding {finding}")


def buf_rules(path, names):
    rules = collections.defaultdict(set)
    if path.exists():
        for line in path.read_text().splitlines():
            line = line.strip()
            if line:
                finding = json.loads(line)
                rules[buf_case(finding, names)].add(finding["type"])
    return rules


def druidctl_rules(path):
    rules = collections.defaultdict(set)
    report = json.loads(path.read_text())
    if "error" in report:
        raise SystemExit(f"{path}: druidctl failed: {report['error']['message']}")
    for finding in report["findings"]:
        rules[case_of(finding["file"])].add(finding["rule"])
    return rules


def main():
    out, results = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    cases = json.loads((out / "cases.json").read_text())
    differences = []
    agreeing_exceptions = set(EXCEPTIONS)
    print(f"{len(cases)} cases, buf breaking vs druidctl check --no-druid")
    for category in CATEGORIES:
        verdicts = rule_sets = compared = excepted = 0
        for module in sorted({case["module"] for case in cases}):
            ours_path = results / f"{module}-druidctl-{category}.json"
            if not ours_path.exists():
                continue
            buf = buf_rules(results / f"{module}-buf-{category}.jsonl", {case["case"] for case in cases})
            ours = druidctl_rules(ours_path)
            for case in (c for c in cases if c["module"] == module):
                name = case["case"]
                theirs, mine = buf.get(name, set()), ours.get(name, set())
                compared += 1
                verdicts += bool(theirs) == bool(mine)
                if theirs == mine:
                    rule_sets += 1
                    continue
                if name in EXCEPTIONS:
                    agreeing_exceptions.discard(name)
                    excepted += 1
                    continue
                differences.append((category, name, sorted(theirs - mine), sorted(mine - theirs)))
        listed = f" ({excepted} listed exception{'s' if excepted != 1 else ''})" if excepted else ""
        print(f"  {category:<10} {verdicts}/{compared} verdicts agree, {rule_sets}/{compared} rule sets agree{listed}")
    for module, reason in NOT_COMPARED.items():
        count = sum(case["module"] == module for case in cases)
        print(f"  not compared: {count} {module} cases: {reason}")
    for name, reason in sorted(EXCEPTIONS.items()):
        note = " (no longer differs: remove it)" if name in agreeing_exceptions else ""
        print(f"  exception {name}: {reason}{note}")
    for category, name, missing, extra in differences:
        print(f"  DIFF {category:<9} {name}: buf only {missing or '-'}, druidctl only {extra or '-'}")
    if differences:
        print(f"{len(differences)} differences")
        return 1
    print("full agreement")
    return 0


if __name__ == "__main__":
    sys.exit(main())
