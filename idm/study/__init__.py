"""A study's subjects and their links to the study's app (the C3-PRO IDM API).

``subjects`` (create, change, the activity log), ``listing`` (the list),
``links`` (create, hand out, withdraw), ``establish`` (the app's side),
``state`` (what follows from the links), ``fields`` (the values' rules),
``spreadsheet`` (CSV in and out, for the command line).
"""
