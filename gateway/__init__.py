"""The HTTP/JSON gateway in front of the DevMatrix mesh (`python -m gateway`)."""
