"""deploy/prometheus/ under promtool (DESIGN.md §7): mdevmig-rules.yml is
clean under `promtool check rules`, every alert carries a severity, a
summary and a description, and has its own unit test file,
tests/ALERTNAME.yml, with at least one evaluation where it fires and one
where it does not; `promtool test rules` passes them all; the example
scrape configuration loads the rules and is clean under `promtool check
config`.

promtool is the one deploy/install-deps unpacks (/usr/local/bin/promtool),
else the first on PATH.

usage: test_rules.py SOURCE_DIR
"""

import os
import shutil
import subprocess
import sys
import tempfile

import yaml

PROMTOOL = "/usr/local/bin/promtool"
SEVERITIES = ("critical", "warning")


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def eq(self, name, expected, actual):
        if expected == actual:
            self.passed += 1
            print("ok - " + name)
        else:
            self.failed += 1
            print("not ok - %s\n    expected: %r\n    actual:   %r" % (name, expected, actual))

    def true(self, name, value):
        self.eq(name, True, bool(value))

    def finish(self):
        if self.passed + self.failed == 0:
            self.failed += 1
            print("not ok - no check ran")
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 0 if self.failed == 0 else 1


def find_promtool():
    if os.access(PROMTOOL, os.X_OK):
        return PROMTOOL
    return shutil.which("promtool")


def promtool(binary, *args, cwd=None):
    proc = subprocess.run([binary, *args], capture_output=True, text=True, timeout=120, cwd=cwd,
                          stdin=subprocess.DEVNULL)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def alerts_of(path):
    with open(path) as f:
        doc = yaml.safe_load(f)
    return [rule for group in doc["groups"] for rule in group["rules"] if "alert" in rule]


def check_alert(checks, rule):
    name = rule["alert"]
    labels, annotations = rule.get("labels") or {}, rule.get("annotations") or {}
    checks.true("%s: severity is one of %s (%r)" % (name, SEVERITIES, labels.get("severity")),
                labels.get("severity") in SEVERITIES)
    for key in ("summary", "description"):
        checks.true("%s: annotation %s" % (name, key), str(annotations.get(key, "")).strip())
    checks.true("%s: a `for` duration (no page on one bad scrape)" % name, rule.get("for"))


def check_test_file(checks, path, alert):
    """tests/ALERT.yml: only ALERT's evaluations, on the rules file, with
    at least one firing and one not."""
    with open(path) as f:
        doc = yaml.safe_load(f)
    name = os.path.basename(path)
    checks.eq(name + ": tests ../mdevmig-rules.yml", ["../mdevmig-rules.yml"],
              doc.get("rule_files"))
    evaluations = [e for test in doc.get("tests") or [] for e in test.get("alert_rule_test") or []]
    checks.eq(name + ": every evaluation is of " + alert, {alert},
              {e.get("alertname") for e in evaluations})
    checks.true(name + ": an evaluation where it fires",
                any(e.get("exp_alerts") for e in evaluations))
    checks.true(name + ": an evaluation where it does not fire",
                any(not e.get("exp_alerts") for e in evaluations))


def main():
    source = os.path.abspath(sys.argv[1])
    here = os.path.join(source, "deploy/prometheus")
    rules = os.path.join(here, "mdevmig-rules.yml")
    checks = Checks()

    binary = find_promtool()
    if binary is None:
        print("not ok - promtool not found at %s nor on PATH: run deploy/install-deps as root, "
              "which unpacks it from Debian's prometheus package" % PROMTOOL)
        return 1
    print("# promtool: " + binary)

    rc, out = promtool(binary, "check", "rules", rules)
    print(out)
    checks.eq("promtool check rules mdevmig-rules.yml", 0, rc)
    checks.true("promtool check rules: no warnings", "WARNING" not in out.upper())

    alerts = alerts_of(rules)
    names = [rule["alert"] for rule in alerts]
    checks.true("the rules define alerts (%s)" % ", ".join(names), names)
    checks.eq("alert names are unique", sorted(set(names)), sorted(names))
    for rule in alerts:
        check_alert(checks, rule)

    tests_dir = os.path.join(here, "tests")
    files = sorted(f for f in os.listdir(tests_dir) if f.endswith(".yml"))
    checks.eq("one test file per alert, tests/ALERT.yml", sorted(n + ".yml" for n in names), files)
    for f in files:
        alert = f[:-len(".yml")]
        if alert in names:
            check_test_file(checks, os.path.join(tests_dir, f), alert)

    # One promtool per file, so a failure names its alert.
    for f in files:
        rc, out = promtool(binary, "test", "rules", f, cwd=tests_dir)
        if rc != 0:
            print(out)
        checks.eq("promtool test rules tests/" + f, 0, rc)

    check_example(checks, binary, here, rules, len(names))
    return checks.finish()


def check_example(checks, binary, here, rules, alert_count):
    """prometheus.yml.example in full under `promtool check config` (which
    loads its rule_files, relative to it): a copy beside a copy of the
    rules, its token path turned into a scratch token file, as promtool
    checks that the file exists."""
    with open(os.path.join(here, "prometheus.yml.example")) as f:
        example = f.read()
    token_path = "/etc/prometheus/mdevmig-token"
    checks.eq("the example gives both jobs the token file " + token_path, 2,
              example.count("credentials_file: " + token_path))
    with tempfile.TemporaryDirectory(prefix="mdevmig-promtool-") as tmp:
        token = os.path.join(tmp, "mdevmig-token")
        with open(os.open(token, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write("example-token\n")
        shutil.copy(rules, os.path.join(tmp, "mdevmig-rules.yml"))
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write(example.replace(token_path, token))
        rc, out = promtool(binary, "check", "config", config)
    print(out)
    checks.eq("promtool check config prometheus.yml.example", 0, rc)
    checks.true("the example configuration loads every alert (%d)" % alert_count,
                "SUCCESS: %d rules found" % alert_count in out)


if __name__ == "__main__":
    sys.exit(main())
