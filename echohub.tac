# -*- python -*-
"""
Run echohub: C{twistd -ny echohub.tac} (or C{twistd --nodaemon --pidfile= -y}).

Configuration comes from the environment and the TOML file it names; see
README.md.  All code lives in the installed C{echohub} package.
"""

from twisted.application.service import Application

from echohub.tap import serviceFromEnvironment

application = Application("echohub")
serviceFromEnvironment().setServiceParent(application)
