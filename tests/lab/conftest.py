"""The lab fixtures come from the package, so every test folder can reuse them."""

from netatlas.lab.pytest_plugin import lab_up, running_lab  # noqa: F401
