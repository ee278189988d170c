# -*- test-case-name: tests.tls.test_devcert -*-
"""
C{python -m echohub.tls}: the same as C{echohub-devcert}.
"""

import sys

from echohub.tls import devcertMain

sys.exit(devcertMain())
