"""Prints one closing line for one or more meson test runs: 'tests: N passed, N failed'.

Counts the cases inside each meson test (doctest and unittest report their own), so the line
says how many checks ran, not just how many executables.
"""
import json
import re
import sys


def count(entry):
    out = entry.get("stdout", "") + entry.get("stderr", "")
    ok = entry.get("result") == "OK"
    m = re.search(r"\[doctest\] test cases:\s*(\d+) \|\s*(\d+) passed \|\s*(\d+) failed", out)
    if m:
        passed, failed = int(m.group(2)), int(m.group(3))
        return passed, failed if ok or failed else 1
    m = re.search(r"^Ran (\d+) tests?", out, re.M)
    if m:
        ran = int(m.group(1))
        f = re.search(r"FAILED \((?:failures=(\d+))?(?:, )?(?:errors=(\d+))?", out)
        failed = sum(int(x) for x in f.groups() if x) if f else 0
        if not ok and failed == 0:
            failed = 1
        return ran - failed, failed
    return (1, 0) if ok else (0, 1)


def main(paths):
    passed = failed = 0
    for path in paths:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    p, q = count(json.loads(line))
                    passed += p
                    failed += q
    print(f"tests: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
