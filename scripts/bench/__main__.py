"""`python -m scripts.bench` is `python scripts/benchmark.py`."""

from .main import main

raise SystemExit(main())
