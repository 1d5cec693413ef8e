"""The Foundry emulator: Azure's REST APIs over HTTPS, backed by a deterministic workload.

In-process use::

    from collector.emulator import EmulatorServer, StaticTokenCredential, WorkloadConfig

    with EmulatorServer(WorkloadConfig(seed=1, days=1, end=end)) as server:
        os.environ.update(server.env)
        ...

``foundry-monitor emulator serve`` / ``truth`` are the command-line faces (see ``cli.py``).
"""

from collector.credentials import StaticTokenCredential
from collector.emulator.server import EmulatorServer
from collector.emulator.workload import Workload, WorkloadConfig

__all__ = ["EmulatorServer", "StaticTokenCredential", "Workload", "WorkloadConfig"]
