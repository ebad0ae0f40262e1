"""Entry point: ``gunicorn app:app`` in production, ``python app.py`` for development."""

from idm import create_app

if __name__ == "__main__":
    # The development server: debug on, so the default SECRET_KEY is allowed.
    create_app({"DEBUG": True}).run(host="127.0.0.1", port=9096)
else:
    app = create_app()
