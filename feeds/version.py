"""The version of ``feeds`` and how it names itself on the web."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/feeds-refinery/feeds"
USER_AGENT = f"feeds/{__version__} (+{PROJECT_URL})"
