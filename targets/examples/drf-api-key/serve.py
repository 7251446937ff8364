"""Migrates a fresh database, seeds the fixtures and serves the API on 127.0.0.1 (used by `run`).

One Python process does all three, so Django starts once.
"""

import argparse
import os
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    if not os.environ.get("DRF_DB_PATH"):
        sys.exit("serve.py: DRF_DB_PATH must name the database file (the `run` launcher sets it)")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcpstack.settings")

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    call_command("seed_fixtures")
    call_command("runserver", f"127.0.0.1:{args.port}", use_reloader=False)


if __name__ == "__main__":
    main()
