"""
C{python -m benchmarks}: see L{benchmarks.cli}.
"""

from benchmarks.cli import main

raise SystemExit(main())
