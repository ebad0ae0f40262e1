"""``flask --app app subjects import FILE.csv | export``: a study's subjects in and out of CSV.

The import checks every row by the rules of ``POST /subject`` and takes
the whole file or nothing (idm/study/spreadsheet.py); a refusal prints the
line and the reason and exits with status 1.
"""

import sys

import click
from flask.cli import AppGroup
from werkzeug.exceptions import HTTPException

from ..models import db
from ..study import spreadsheet

command = AppGroup("subjects", help="A study's subjects: import from and export to CSV.")


@command.command("import")
@click.argument("path", metavar="FILE.csv", type=click.Path(exists=True, dir_okay=False))
def import_csv(path):
    """Create the subjects of a CSV file, all rows or none.

    The first line names the columns: sssid, name, bday, and optionally
    email, date_invited, date_consented. The first bad row refuses the
    whole file, naming its line and what is wrong.
    """
    # utf-8-sig: spreadsheet programs start their UTF-8 files with a BOM.
    with open(path, encoding="utf-8-sig", newline="") as lines:
        try:
            count = spreadsheet.import_subjects(spreadsheet.read_rows(lines))
        except HTTPException as error:
            db.session.rollback()
            raise click.ClickException(f"{path}: {error.description}; nothing imported") from None
    click.echo(f"imported {count} subject{'' if count == 1 else 's'} from {path}")


@command.command("export")
def export_csv():
    """Write every subject as CSV to standard output, ordered by sssid."""
    spreadsheet.export_subjects(sys.stdout)
