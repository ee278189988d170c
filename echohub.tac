# -*- python -*-
"""
Run echohub: C{twistd -ny echohub.tac} (or C{twistd --nodaemon --pidfile= -y}).

Configuration comes from the environment and the TOML file it names; see
README.md.  All code lives in the installed C{echohub} package.
"""

from twisted.application.service import Application
from twisted.internet import reactor
from twisted.logger import ILogObserver

from echohub.ops import makeObserver
from echohub.tap import configFromEnvironment, serviceFromConfig

config = configFromEnvironment()
application = Application("echohub")
# [server] log_format: journald prefixes under systemd, text or JSON lines,
# written once per reactor turn.
observer = makeObserver(config.server.log_format, batchBy=reactor)
application.setComponent(ILogObserver, observer)
serviceFromConfig(config).setServiceParent(application)
