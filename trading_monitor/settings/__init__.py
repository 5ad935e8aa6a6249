"""Settings: the one validated `Settings` (config.py) and its parts. Imports the
kernel and the domain only."""
