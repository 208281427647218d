"""mfa-rejected: the Sentinel rule "MFA Rejected by User" (v2.0.4) as a Python Azure Function."""

__version__ = "0.1.0"
