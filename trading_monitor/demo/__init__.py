"""`trading-monitor demo`: the real daemon through a scripted, simulated trading week.

script.py (the seeded week), market.py (its price path), driver.py (the Daemon's jobs at
their triggers' fire times), runner.py (one week end to end), summary.py and progress.py
(what the terminal shows), cli.py (the command). See docs/demo.md.
"""
