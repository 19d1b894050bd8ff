"""The one error a config raises."""


class ConfigError(ValueError):
    """A config value that breaks a rule; the message names the field and the rule."""
