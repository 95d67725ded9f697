"""`make audit`: pip-audit over the packages installed in the virtual environment.

Policy: a known vulnerability with a fixed version available fails the run (exit 1: upgrade);
one without a fix yet is printed and does not fail. pip-audit answers "No known vulnerabilities
found" even when it could look nothing up (every package "skipped"), so this wrapper counts
what was really audited: when the vulnerability database cannot be reached (no network to PyPI's
per-release JSON or to OSV), it says "skipped" plainly and exits 0.

Usage: .venv/bin/python .ci/audit.py [--service pypi|osv]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

NO_NETWORK = "audit skipped: no network to the vulnerability database"


def pip_audit() -> list[str] | None:
    here = Path(sys.executable).parent / "pip-audit"
    if here.exists():
        return [str(here)]
    found = shutil.which("pip-audit")
    return [found] if found else None


def run(service: str) -> tuple[int, dict | None, str]:
    command = pip_audit()
    if command is None:
        return 2, None, "pip-audit is not installed (pip install -e '.[test]')"
    args = [*command, "--local", "--format", "json", "--progress-spinner", "off"]
    args += ["--vulnerability-service", service, "--timeout", "20"]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        return 3, None, f"{service}: no answer within 600 s"
    try:
        return done.returncode, json.loads(done.stdout), done.stderr
    except json.JSONDecodeError:
        return done.returncode, None, (done.stderr or done.stdout).strip()[-500:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--service", choices=["pypi", "osv"], action="append")
    services = parser.parse_args(argv).service or ["pypi", "osv"]
    reasons = []
    for service in services:
        code, report, errors = run(service)
        if code == 2 and report is None:
            print(f"audit failed: {errors}")
            return 1
        deps = (report or {}).get("dependencies", [])
        audited = [d for d in deps if "skip_reason" not in d]
        if not audited:  # nothing could be looked up: the service is out of reach
            skips = [d["skip_reason"] for d in deps if "skip_reason" in d]
            why = skips[0] if skips else (errors.strip().splitlines() or ["no answer"])[-1]
            reasons.append(f"{service}: {len(deps)} packages, none looked up ({why[:200]})")
            continue
        fixable, unfixed = [], []
        for dep in audited:
            for vuln in dep.get("vulns", []):
                row = (dep["name"], dep["version"], vuln["id"], ", ".join(vuln["fix_versions"]))
                (fixable if vuln["fix_versions"] else unfixed).append(row)
        skipped = len(deps) - len(audited)
        print(f"pip-audit ({service}): {len(audited)} packages audited, {skipped} skipped")
        for name, version, vid, fix in fixable:
            print(f"  VULNERABLE {name} {version}: {vid} — fixed in {fix}")
        for name, version, vid, _ in unfixed:
            print(f"  known, no fix yet: {name} {version}: {vid}")
        if fixable:
            print(f"audit failed: {len(fixable)} known vulnerabilities have a fixed version")
            return 1
        print("audit passed: no known vulnerability with a fix available")
        return 0
    print(NO_NETWORK)
    for reason in reasons:
        print(f"  {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
