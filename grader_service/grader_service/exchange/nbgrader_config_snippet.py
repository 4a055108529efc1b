"""The nbgrader configuration that switches the exchange to the grading service.

The single-user image appends :data:`NBGRADER_CONFIG_LINES` to
/etc/jupyter/nbgrader_config.py::

    python -m grader_service.exchange.nbgrader_config_snippet >> /etc/jupyter/nbgrader_config.py

or a config file calls :func:`apply` on its ``c``. The service URL and token come from
the environment ($GRADER_SERVICE_URL, $JUPYTERHUB_API_TOKEN) set by the hub's spawner.
"""

PLUGIN = "grader_service.exchange"

#: ExchangeFactory trait -> class in this package
PLUGIN_CLASSES = {
    "exchange": "GraderServiceExchange",
    "release_assignment": "ExchangeReleaseAssignment",
    "fetch_assignment": "ExchangeFetchAssignment",
    "submit": "ExchangeSubmit",
    "list": "ExchangeList",
    "collect": "ExchangeCollect",
    "release_feedback": "ExchangeReleaseFeedback",
    "fetch_feedback": "ExchangeFetchFeedback",
}

NBGRADER_CONFIG_LINES = "# nbgrader exchange = the DL course grading service (dlcourse-grader)\n" + "".join(
    f'c.ExchangeFactory.{trait} = "{PLUGIN}.{cls}"\n' for trait, cls in PLUGIN_CLASSES.items())


def apply(c):
    """Set the same traits on a traitlets config object ``c``."""
    for trait, cls in PLUGIN_CLASSES.items():
        setattr(c.ExchangeFactory, trait, f"{PLUGIN}.{cls}")


if __name__ == "__main__":
    print(NBGRADER_CONFIG_LINES, end="")
