"""Emails from templates: templates/email/<name>.txt and .html."""

from typing import NamedTuple

from flask import current_app, render_template


class Letter(NamedTuple):
    subject: str
    text: str
    html: str


def compose(template, subject_setting, **context):
    """Render templates/email/<template>.txt and .html into a Letter.

    The subject comes from the setting *subject_setting*, in which
    "{product}" stands for IDM_PRODUCT_NAME.
    """
    product = current_app.config["IDM_PRODUCT_NAME"]
    subject = current_app.config[subject_setting].format(product=product)
    context.update(product=product, subject=subject)
    return Letter(
        subject=subject,
        text=render_template(f"email/{template}.txt", **context),
        html=render_template(f"email/{template}.html", **context),
    )
