"""``python -m civlake.expectations.export``: rewrite ``expectations/generated/*.json``.

Run after changing a contract or ``expectations/silver_extras.yaml``; a unit test fails
while the committed files are stale, so reviewers always see the suites that will run.
"""

from __future__ import annotations

from civlake.expectations.suites import export_suites


def main() -> None:
    for path in export_suites():
        print(path)


if __name__ == "__main__":
    main()
