# -*- test-case-name: tests.test_command -*-
"""
C{python -m echohub}: the C{echohub} command (L{echohub.command}).
"""

from echohub.command import main

main()
