# -*- test-case-name: tests.line.test_client -*-
"""
C{python -m echohub.line}: the same as C{echohub-client}.
"""

from echohub.line import clientMain

clientMain()
