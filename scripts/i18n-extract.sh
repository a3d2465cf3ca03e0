#!/bin/sh
# The web application's messages for translators (see README, "Web application").
#
#   scripts/i18n-extract.sh
#
# 1. writes var/i18n/messages.pot: every message of service/web/templates and service/web's
#    Python (pybabel extract with babel.cfg; English msgids, with where each is used);
# 2. lists each message that has no Finnish or Swedish translation yet, or whose placeholders
#    (%(name)s) differ from the English text (tests/web/test_translations.py fails on them).
#
# Add the missing entries to your audience's catalogue,
# service/web/locales/<fi|sv>/LC_MESSAGES/<base|coach|employer|procurement|operator>.po;
# the pages read the .po files directly (no compiled .mo is kept).
set -eu
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
mkdir -p var/i18n
"$BIN/pybabel" -q extract -F babel.cfg --no-wrap --sort-by-file \
    --project Kohtaanto -o var/i18n/messages.pot service/web
echo "Wrote var/i18n/messages.pot"
"$BIN/python" - <<'PY'
import sys

from service.web.i18n import missing_translations

problems = missing_translations()
for line in problems:
    print(line)
print(f"{len(problems)} message(s) lack a translation" if problems else "Every message is translated.")
sys.exit(1 if problems else 0)
PY
