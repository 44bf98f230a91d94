#!/usr/bin/env python3
"""Reads the suite's .trx results for tests/run.sh.

  results.py failed DIR            one line per failed test method in DIR: PROJECT_DIR<TAB>Class.Method
  results.py summary DIR RERUN [DIR RERUN ...]
                                   every skip with its reason, then every failure with its message, then the counts;
                                   a test that failed in DIR and passed in its RERUN (run again on its own) is
                                   reported as FLAKY and not counted failed; a run that was aborted (a test host
                                   that crashed, or was stopped after --blame-hang-timeout) is reported ABORTED.
                                   Exit status 1 when a failure or an aborted run is left.
"""
import glob
import sys
import xml.etree.ElementTree as ET

NS = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}


def results(folder):
    """(method, project_dir, display_name, outcome, message) for every result under folder."""
    out = []
    for f in sorted(glob.glob(folder + "/**/*.trx", recursive=True)):
        root = ET.parse(f).getroot()
        methods = {}
        for ut in root.iterfind(".//t:UnitTest", NS):
            tm = ut.find("t:TestMethod", NS)
            code_base = tm.get("codeBase", "")
            project = code_base.split("/bin/")[0] if "/bin/" in code_base else ""
            methods[ut.get("id")] = (tm.get("className", "") + "." + tm.get("name", ""), project)
        for r in root.iterfind(".//t:UnitTestResult", NS):
            method, project = methods.get(r.get("testId"), ("", ""))
            why = r.find(".//t:Output/t:ErrorInfo/t:Message", NS)
            std = r.find(".//t:Output/t:StdOut", NS)
            message = (why.text if why is not None else std.text if std is not None else "") or ""
            out.append((method, project, r.get("testName"), r.get("outcome"), message))
    return out


def aborted(folder):
    """(trx file, message) for every run in folder that did not end (a test host that crashed or was stopped as hung)."""
    out = []
    for f in sorted(glob.glob(folder + "/**/*.trx", recursive=True)):
        root = ET.parse(f).getroot()
        for text in root.iterfind(".//t:ResultSummary/t:RunInfos/t:RunInfo/t:Text", NS):
            if text.text and "aborted" in text.text:
                out.append((f, " ".join(t.text or "" for t in root.iterfind(".//t:ResultSummary/t:RunInfos/t:RunInfo/t:Text", NS))))
                break
    return out


def failed_methods(folder):
    seen = []
    for method, project, _, outcome, _ in results(folder):
        if outcome not in ("Passed", "NotExecuted") and method and (project, method) not in seen:
            seen.append((project, method))
    return seen


def passed_again(rerun):
    """The methods whose every result in a rerun passed (a method counts only when all its cases did)."""
    outcomes = {}
    for method, _, _, outcome, _ in rerun:
        outcomes.setdefault(method, set()).add(outcome)
    return {m for m, o in outcomes.items() if o <= {"Passed", "NotExecuted"} and "Passed" in o}


def tally(first, again, skips, fails, flaky):
    passed = skipped = 0
    for method, _, name, outcome, message in first:
        if outcome == "Passed":
            passed += 1
        elif outcome == "NotExecuted":
            skipped += 1
            skips.append((name, message))
        elif method in again:
            passed += 1
            flaky.append((name, message))
        else:
            fails.append((name, message))
    return passed, skipped


def main(argv):
    if len(argv) >= 2 and argv[0] == "failed":
        for project, method in failed_methods(argv[1]):
            print(f"{project}\t{method}")
        return 0
    if len(argv) >= 3 and argv[0] == "summary" and len(argv) % 2 == 1:
        passed = skipped = 0
        skips, fails, flaky, ended_early = [], [], [], []
        for first_dir, rerun_dir in zip(argv[1::2], argv[2::2]):
            ended_early += aborted(first_dir) + aborted(rerun_dir)
            p, s = tally(results(first_dir), passed_again(results(rerun_dir)), skips, fails, flaky)
            passed += p
            skipped += s
        for name, why in skips:
            print(f"skipped: {name}: {why.strip()}")
        for name, why in flaky:
            print(f"FLAKY (failed, then passed when run again on its own): {name}: {' '.join(why.split())[:600]}")
        # Failures last, so that the tail of a CI log names them.
        for name, why in fails:
            print(f"FAILED: {name}: {' '.join(why.split())[:600]}")
        # A run that did not end ran only part of its tests: what it names is above ([Long Running Test] lines).
        for trx, why in ended_early:
            print(f"ABORTED: {trx}: {' '.join(why.split())[:600]}")
        print(f"Tests: {passed} passed, {len(fails)} failed, {skipped} skipped, {len(flaky)} flaky" +
              (f", {len(ended_early)} test run(s) aborted" if ended_early else ""))
        return 1 if fails or ended_early else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
