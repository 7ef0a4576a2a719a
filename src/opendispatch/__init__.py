"""OpenDispatch: a self-hosted dispatch server that speaks the Sonoran CAD emergency-call API."""

__version__ = "0.1.0"
