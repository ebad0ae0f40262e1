"""The framework's ceiling: bare Flask, one JSON endpoint, nothing else.

Whatever the service does per request costs time on top of this; /user/me is
measured as a fraction of /ping in the same run.
"""

from flask import Flask

app = Flask(__name__)


@app.get("/ping")
def ping():
    return {"status": "ok"}
