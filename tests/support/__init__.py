"""The tests' shared library: builders of the pure rules' inputs (builders.py) and the `jobs`
fixture that runs the three jobs against the test database and exchange (jobs.py).

Not collected (no test_ files here). tests/conftest.py registers jobs.py as a plugin, so
every test under tests/ can ask for `jobs` by name.
"""
